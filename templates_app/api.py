"""`/api/v1/templates/`: CRUD with filters, test sends, and a provider's templates as JSON (export / import)."""

from __future__ import annotations

import copy
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from contacts.models import Contact
from contacts.phones import phone_list_split
from providers.messaging.sending import TEST_SEND_MAX_RECIPIENTS
from providers.models import ProviderConfig
from templates_app import services, sync
from templates_app.models import WHATSAPP_FIELDS, Template
from templates_app.rendering import template_preview_text, template_slots
from templates_app.rules import namespace_problem, template_errors
from templates_app.selectors import EXPORT_FIELDS, templates_export, templates_list
from whatsapp_project.fields import JSONField


class TemplateSerializer(serializers.ModelSerializer):
    whatsapp_namespace = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Needed with a provider's first template."
    )
    variables = serializers.SerializerMethodField(help_text="The keys a send must fill: '1', 'header', 'button.0' …")
    preview = serializers.SerializerMethodField()

    class Meta:
        model = Template
        fields = ["id", "provider", *EXPORT_FIELDS, "whatsapp_namespace", "variables", "preview"]
        fields += [*WHATSAPP_FIELDS, "created_at", "updated_at"]
        # What WhatsApp says (through submit and sync) is never written by a client.
        read_only_fields = [*WHATSAPP_FIELDS, "created_at", "updated_at"]
        # Uniqueness is checked with the other rules so its message lands on `name`.
        validators: list[Any] = []

    def get_variables(self, template: Template) -> list[str]:
        return [slot.key for slot in template_slots(template)]

    def get_preview(self, template: Template) -> str:
        return template_preview_text(template)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        namespace = attrs.get("whatsapp_namespace", "").strip()
        # A copy, so the stored row is not changed by a request that turns out invalid.
        candidate = copy.copy(self.instance) if self.instance is not None else Template()
        for name in ("provider", *EXPORT_FIELDS):
            if name in attrs:
                setattr(candidate, name, attrs[name])
            elif self.instance is not None:
                setattr(candidate, name, getattr(self.instance, name))
        errors = template_errors(candidate)
        if self.instance is None and "provider" in attrs:
            trouble = namespace_problem(provider=attrs["provider"], namespace=namespace)
            if trouble:
                errors["whatsapp_namespace"] = [trouble]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class TestSendSerializer(serializers.Serializer):
    to = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=TEST_SEND_MAX_RECIPIENTS,
        help_text=f"E.164 numbers; at most {TEST_SEND_MAX_RECIPIENTS} recipients in all.",
    )
    contacts = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        max_length=TEST_SEND_MAX_RECIPIENTS,
        help_text="Contact ids.",
    )
    parameters = serializers.DictField(required=False, help_text='{"1": "Ann", "header": "https://…"}')

    def to_internal_value(self, data: Any) -> Any:
        # `"to": "+44 7700 900001"` (one number, or several separated by commas) is accepted as well as a list.
        if isinstance(data, dict) and isinstance(data.get("to"), str):
            data = {**data, "to": phone_list_split(data["to"])}
        return super().to_internal_value(data)

    def validate_contacts(self, ids: list[int]) -> list[Contact]:
        found = {contact.pk: contact for contact in Contact.objects.filter(pk__in=ids)}
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(f"Unknown contact ids: {', '.join(missing)}.")
        return [found[pk] for pk in dict.fromkeys(ids)]


class TestSendResultSerializer(serializers.Serializer):
    to = serializers.CharField()
    contact = serializers.IntegerField(source="contact.pk", allow_null=True, default=None)
    ok = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    body = JSONField(allow_null=True)
    error = serializers.CharField()
    message = serializers.IntegerField(source="message_id", allow_null=True)


class SubmitSerializer(serializers.Serializer):
    header_file = serializers.FileField(
        required=False, help_text="Image or video header: an example file (multipart), JPEG, PNG or MP4."
    )
    examples = serializers.DictField(
        child=serializers.CharField(max_length=1000),
        required=False,
        default=dict,
        help_text="An example of every variable for WhatsApp's reviewers: "
        '{"1": "Ann", "header": "…", "button.0": "…"}.',
    )


class SyncReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    removed = serializers.IntegerField()


class ImportSerializer(serializers.Serializer):
    provider = serializers.PrimaryKeyRelatedField(queryset=ProviderConfig.objects.all())
    templates = serializers.ListField(child=serializers.DictField())
    whatsapp_namespace = serializers.CharField(required=False, allow_blank=True, default="")


class ExportQuerySerializer(serializers.Serializer):
    provider = serializers.PrimaryKeyRelatedField(queryset=ProviderConfig.objects.all())


class TemplateViewSet(viewsets.ModelViewSet):
    serializer_class = TemplateSerializer
    filterset_fields = ["provider", "status", "language", "category", "header_type"]
    search_fields = ["name", "body"]
    ordering_fields = ["name", "language", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Template]:
        return templates_list().order_by("provider_id", "name", "language", "id")

    def _data(self, validated: dict[str, Any]) -> dict[str, Any]:
        return {name: validated[name] for name in EXPORT_FIELDS if name in validated}

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = services.template_create(
            provider=serializer.validated_data["provider"],
            data=self._data(serializer.validated_data),
            whatsapp_namespace=serializer.validated_data.get("whatsapp_namespace", "").strip(),
        )
        return Response(self.get_serializer(template).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        template = self.get_object()
        serializer = self.get_serializer(template, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        if "provider" in serializer.validated_data:
            template.provider = serializer.validated_data["provider"]
        template = services.template_update(template=template, data=self._data(serializer.validated_data))
        return Response(self.get_serializer(template).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.template_delete(template=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=TestSendSerializer, responses=TestSendResultSerializer(many=True))
    @action(detail=True, methods=["post"], url_path="test-send")
    def test_send(self, request: Request, pk: str | None = None) -> Response:
        """Send the template now (any status) to numbers and/or contacts; one result per recipient."""
        template = self.get_object()
        serializer = TestSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preview, outcomes = services.template_test_send(
            template=template,
            to=serializer.validated_data.get("to", []),
            contacts=serializer.validated_data.get("contacts", []),
            parameters=serializer.validated_data.get("parameters") or {},
        )
        return Response({"preview": preview, "results": TestSendResultSerializer(outcomes, many=True).data})

    @extend_schema(request=SubmitSerializer, responses=TemplateSerializer)
    @action(detail=True, methods=["post"], url_path="submit")
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Send a draft to WhatsApp's review through Vonage; it comes back `pending`. Refusals are 400 by field."""
        template = self.get_object()
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data.get("header_file")
        template = sync.template_submit(
            template=template,
            examples=serializer.validated_data["examples"],
            header_file=sync.example_file(upload) if upload is not None else None,
        )
        return Response(self.get_serializer(template).data)

    @extend_schema(parameters=[ExportQuerySerializer])
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request: Request) -> Response:
        """A provider's templates as JSON (`?provider=<id>`), in the shape `import` reads."""
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(templates_export(provider=query.validated_data["provider"]))

    @extend_schema(request=ImportSerializer)
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request: Request) -> Response:
        """Create or update a provider's templates from an export; if any row is invalid nothing is saved."""
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.templates_import(
            provider=serializer.validated_data["provider"],
            document={"templates": serializer.validated_data["templates"]},
            whatsapp_namespace=serializer.validated_data["whatsapp_namespace"],
        )
        return Response({"created": result.created, "updated": result.updated}, status=status.HTTP_201_CREATED)


class ProviderTemplatesSyncViewSet(viewsets.GenericViewSet):
    """`POST /api/v1/providers/{id}/templates-sync/`: here, not in providers, because templates_app sits above it."""

    queryset = ProviderConfig.objects.all()
    serializer_class = SyncReportSerializer

    @extend_schema(request=None, responses=SyncReportSerializer)
    @action(detail=True, methods=["post"], url_path="templates-sync")
    def templates_sync(self, request: Request, pk: str | None = None) -> Response:
        """Pull every template of the number's WhatsApp Business Account from Vonage; what changed, counted.

        400 names what the number lacks (WhatsApp Business Account id, credentials); 502 when Vonage refused or did
        not answer, with nothing changed here."""
        provider = self.get_object()
        try:
            report = sync.templates_sync(provider=provider)
        except sync.TemplateSyncError as error:
            return Response({"detail": str(error)}, status=status.HTTP_502_BAD_GATEWAY)
        return Response(SyncReportSerializer(report.as_dict()).data)


def register(router: BaseRouter) -> None:
    """Add this app's endpoints to the `/api/v1/` router."""
    router.register("templates", TemplateViewSet, basename="api-template")
    # Only a detail action: the router adds `providers/{pk}/templates-sync/` next to the providers' own routes.
    router.register("providers", ProviderTemplatesSyncViewSet, basename="api-provider-templates")
