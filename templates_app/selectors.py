"""Reads for templates: lists for the UI and API, the approved set campaigns and journeys may use, exports."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from contacts.models import Contact
from providers.models import ProviderConfig
from templates_app.models import Status, Template

EXPORT_FIELDS = (
    "name",
    "language",
    "category",
    "status",
    "header_type",
    "header_text",
    "header_media_url",
    "header_location",
    "body",
    "footer",
    "buttons",
)
EXPORT_FORMAT = "whatsapp-templates/1"


def templates_list(
    *,
    provider: int | None = None,
    status: str = "",
    language: str = "",
    category: str = "",
    search: str = "",
) -> QuerySet[Template]:
    """Templates, filtered by whichever of the arguments are given."""
    queryset = Template.objects.select_related("provider")
    if provider:
        queryset = queryset.filter(provider_id=provider)
    if status:
        queryset = queryset.filter(status=status)
    if language:
        queryset = queryset.filter(language=language)
    if category:
        queryset = queryset.filter(category=category)
    if search:
        queryset = queryset.filter(name__icontains=search)
    return queryset


def templates_approved(*, provider: ProviderConfig | int | None = None) -> QuerySet[Template]:
    """The templates campaigns and journeys may send: approved (and not deleted in WhatsApp since), optionally for one
    provider config."""
    queryset = Template.objects.select_related("provider").filter(status=Status.APPROVED, removed_at__isnull=True)
    if provider is not None:
        queryset = queryset.filter(provider=provider)
    return queryset


def template_get(*, template_id: int) -> Template:
    return Template.objects.select_related("provider").get(pk=template_id)


def template_test_profiles() -> QuerySet[Contact]:
    """Contacts marked as test profiles: the Send Test picker's choices."""
    return Contact.objects.filter(is_test_profile=True).order_by("name", "phone")


def templates_export(*, provider: ProviderConfig) -> dict[str, Any]:
    """A provider's templates as a JSON-ready document that `templates_import` reads back."""
    rows = Template.objects.filter(provider=provider).order_by("name", "language")
    return {
        "format": EXPORT_FORMAT,
        "provider": {"nickname": provider.nickname, "whatsapp_namespace": provider.whatsapp_namespace},
        "templates": [{name: getattr(row, name) for name in EXPORT_FIELDS} for row in rows],
    }
