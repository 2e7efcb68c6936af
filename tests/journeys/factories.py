"""Journey test helpers: a provider with a real key, approved templates, and a published journey in one call."""

from __future__ import annotations

from typing import Any, cast

from journeys import services
from journeys.models import Journey
from providers.models import ProviderConfig
from templates_app.models import Template
from tests.providers.factories import contact_make, provider_make, window_open_contact

__all__ = ["contact_make", "journey_live", "provider_make", "template_make", "window_open_contact"]


def template_make(provider: ProviderConfig, name: str = "welcome", **kwargs: Any) -> Template:
    values: dict[str, Any] = {"language": "en_GB", "category": "marketing", "status": "approved", "body": "Hi!"}
    values.update(kwargs)
    return cast(Template, Template.objects.create(provider=provider, name=name, **values))


def journey_live(
    *, nodes: list[dict[str, Any]], entry_node: str | None = None, trigger: dict[str, Any] | None = None, **extra: Any
) -> Journey:
    journey = services.journey_create(
        data={
            "name": extra.pop("name", "Test journey"),
            "trigger": trigger or {"type": "event", "event": "signup"},
            "entry_node": entry_node or nodes[0]["id"],
            "nodes": nodes,
            **extra,
        }
    )
    return services.journey_publish(journey=journey)
