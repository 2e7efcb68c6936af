"""`/api/v1/contacts/`, `contacts/import/`, `events/`, `segments/` (+ `preview/`): thin layers over the services."""

from __future__ import annotations

import json
import zoneinfo
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import QueryDict, StreamingHttpResponse
from django.utils import timezone
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from contacts import selectors, services
from contacts.models import Consent, Contact, ContactImport, Segment
from contacts.phones import phone_normalize
from whatsapp_project.fields import JSONField
from whatsapp_project.filters import FilterSet, IsoDateTimeFilter


def _django_errors(exc: DjangoValidationError) -> Any:
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages


class ContactSerializer(serializers.ModelSerializer[Contact]):
    phone = serializers.CharField(max_length=40, help_text="E.164, or any format with a country code.")
    external_id = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    whatsapp_consent = serializers.ChoiceField(choices=Consent.choices, required=False)
    properties = JSONField(required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "external_id",
            "phone",
            "name",
            "email",
            "timezone",
            "language",
            "properties",
            "whatsapp_consent",
            "consent_source",
            "consent_changed_at",
            "is_test_profile",
            "last_inbound_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["consent_source", "consent_changed_at", "last_inbound_at", "created_at", "updated_at"]

    def validate_phone(self, value: str) -> str:
        try:
            phone = phone_normalize(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        others = Contact.objects.filter(phone=phone)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(f"Another contact already has the phone {phone}.")
        return phone

    def validate_external_id(self, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None:
            others = Contact.objects.filter(external_id=value)
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise serializers.ValidationError(f"Another contact already has the external id {value}.")
        return value

    def validate_timezone(self, value: str) -> str:
        if value and value not in zoneinfo.available_timezones():
            raise serializers.ValidationError(f"{value!r} is not a time zone name (use e.g. Europe/London).")
        return value

    def validate_properties(self, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError('Properties are a JSON object, e.g. {"plan": "gold"}.')
        return value


class ContactFilter(FilterSet):
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    segment = django_filters.ModelChoiceFilter(queryset=Segment.objects.all(), method="in_segment")

    class Meta:
        model = Contact
        fields = ["whatsapp_consent", "is_test_profile", "external_id", "phone", "language"]

    def in_segment(self, queryset: QuerySet[Contact], name: str, value: Segment) -> QuerySet[Contact]:
        return queryset & selectors.segment_contacts(value)


class ContactViewSet(viewsets.ModelViewSet[Contact]):
    serializer_class = ContactSerializer
    queryset = Contact.objects.all()
    filterset_class = ContactFilter
    search_fields = ["name", "email", "phone", "external_id"]
    ordering_fields = ["created_at", "updated_at", "name", "last_inbound_at", "id"]
    lookup_value_regex = r"\d+"

    def perform_create(self, serializer: serializers.BaseSerializer[Contact]) -> None:
        serializer.instance = services.contact_create(data=dict(serializer.validated_data), source="api")

    def perform_update(self, serializer: serializers.BaseSerializer[Contact]) -> None:
        assert serializer.instance is not None
        serializer.instance = services.contact_update(
            contact=serializer.instance, data=dict(serializer.validated_data), source="api"
        )

    def perform_destroy(self, instance: Contact) -> None:
        services.contact_delete(contact=instance)

    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> StreamingHttpResponse:
        """All contacts (or the filtered ones) as a streamed CSV."""
        contacts = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(selectors.contacts_csv_lines(contacts), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="contacts.csv"'
        return response


# --- imports -----------------------------------------------------------------------------------------------------


class ContactImportSerializer(serializers.ModelSerializer[ContactImport]):
    progress_percent = serializers.IntegerField(read_only=True)
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = ContactImport
        fields = [
            "id",
            "original_name",
            "size_bytes",
            "columns",
            "mapping",
            "default_country",
            "status",
            "error",
            "progress_percent",
            "rows_processed",
            "created_count",
            "updated_count",
            "skipped_count",
            "invalid_count",
            "errors_url",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_errors_url(self, job: ContactImport) -> str:
        return f"/api/v1/contacts/import/{job.pk}/errors/"


class ContactImportUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="CSV, UTF-8, first line names the columns.")
    mapping = JSONField(
        required=False,
        help_text='CSV column → field: {"Mobile": "phone", "Plan": "properties.plan", "Notes": "ignore"}. '
        "Unmapped columns are guessed from their names.",
    )
    default_country = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=8,
        help_text="Region code (e.g. GB) of phone numbers written without a country code (07700 900001).",
    )

    def validate_mapping(self, value: object) -> dict[str, str]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise serializers.ValidationError("The mapping is not valid JSON.") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("Give the mapping as a JSON object: CSV column → field.")
        return value


class ContactImportViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet[ContactImport]):
    """Upload a CSV (multipart `file`, optional `mapping`) to import contacts; poll the job for progress."""

    serializer_class = ContactImportSerializer
    queryset = ContactImport.objects.all()
    parser_classes = [MultiPartParser, FormParser]
    filterset_fields = ["status"]
    search_fields: list[str] = []

    def create(self, request: Request) -> Response:
        upload = ContactImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        job = services.contact_import_create(upload=upload.validated_data["file"], user=request.user)
        mapping = {**job.mapping, **upload.validated_data.get("mapping", {})}
        try:
            job = services.contact_import_start(
                contact_import=job, mapping=mapping, default_country=upload.validated_data.get("default_country", "")
            )
        except DjangoValidationError as exc:
            services.contact_import_discard(contact_import=job)
            return Response(_django_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        return Response(ContactImportSerializer(job).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"])
    def errors(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The rows that were refused or skipped, and why, as CSV."""
        job = self.get_object()
        response = StreamingHttpResponse(
            selectors.csv_lines(selectors.import_errors_rows(job)), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


# --- events ------------------------------------------------------------------------------------------------------


class EventRowSerializer(serializers.Serializer[Any]):
    external_id = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True)
    name = serializers.CharField(max_length=128)
    properties = JSONField(required=False)
    occurred_at = serializers.DateTimeField(required=False)
    event_id = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)

    def validate_phone(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return phone_normalize(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate_properties(self, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Properties are a JSON object.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("external_id") and not attrs.get("phone"):
            raise serializers.ValidationError({"external_id": ["Name the contact by external_id or phone."]})
        return attrs


class EventBatchSerializer(serializers.Serializer[Any]):
    events = serializers.ListField(child=JSONField(), min_length=1, max_length=services.MAX_EVENTS_PER_BATCH)
    create_contacts = serializers.BooleanField(
        default=False, help_text="Create a contact for an unknown phone instead of rejecting its events."
    )


class EventBatchViewSet(viewsets.ViewSet):
    """POST a batch of up to 1,000 events; every row gets a result, rejected rows say why."""

    serializer_class = EventBatchSerializer

    def create(self, request: Request) -> Response:
        # A form-encoded body arrives as a QueryDict (a dict too): events are only ever JSON.
        if not isinstance(request.data, dict) or isinstance(request.data, QueryDict):
            return Response(
                {"events": ['Send a JSON body: {"events": [...]} with Content-Type: application/json.']},
                status=status.HTTP_400_BAD_REQUEST,
            )
        batch = EventBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        valid: list[services.EventInput] = []
        rejected: list[dict[str, Any]] = []
        for index, raw in enumerate(batch.validated_data["events"]):
            row = EventRowSerializer(data=raw if isinstance(raw, dict) else {})
            if not isinstance(raw, dict):
                rejected.append({"index": index, "status": "rejected", "errors": {"event": ["Not an object."]}})
                continue
            if not row.is_valid():
                rejected.append({"index": index, "status": "rejected", "errors": row.errors})
                continue
            data = row.validated_data
            valid.append(
                services.EventInput(
                    index=index,
                    name=data["name"].strip(),
                    properties=data.get("properties") or {},
                    occurred_at=data.get("occurred_at") or timezone.now(),
                    event_id=data.get("event_id") or None,
                    external_id=(data.get("external_id") or "").strip() or None,
                    phone=data.get("phone"),
                )
            )
        results = services.event_record_batch(events=valid, create_contacts=batch.validated_data["create_contacts"])
        results = sorted([*results, *rejected], key=lambda r: r["index"])
        summary = {s: sum(1 for r in results if r["status"] == s) for s in ("created", "duplicate", "rejected")}
        return Response({**summary, "results": results}, status=status.HTTP_200_OK)


# --- segments ----------------------------------------------------------------------------------------------------


class SegmentSerializer(serializers.ModelSerializer[Segment]):
    definition = JSONField(
        help_text='{"match": "all|any", "groups": [{"match": "all|any", "conditions": [...]}]}; see contacts.segments'
    )

    class Meta:
        model = Segment
        fields = ["id", "name", "definition", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_definition(self, value: object) -> dict[str, Any]:
        try:
            return services.segment_definition_clean(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_django_errors(exc)) from None


class SegmentViewSet(viewsets.ModelViewSet[Segment]):
    serializer_class = SegmentSerializer
    queryset = Segment.objects.all()
    search_fields = ["name"]
    filterset_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def perform_create(self, serializer: serializers.BaseSerializer[Segment]) -> None:
        data = serializer.validated_data
        serializer.instance = services.segment_create(name=data["name"], definition=data["definition"])

    def perform_update(self, serializer: serializers.BaseSerializer[Segment]) -> None:
        assert serializer.instance is not None
        data = serializer.validated_data
        serializer.instance = services.segment_update(
            segment=serializer.instance, name=data.get("name"), definition=data.get("definition")
        )

    def perform_destroy(self, instance: Segment) -> None:
        services.segment_delete(segment=instance)

    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """How many contacts the segment holds now, how many a message would reach (and why not the others), a few."""
        preview = selectors.segment_preview(self.get_object())
        reach = preview["reach"]
        sample = ContactSerializer(preview["sample"], many=True).data
        return Response(
            {
                "count": preview["count"],
                "reachable": reach["reachable"],
                "left_out": reach["left_out"],
                "sample": sample,
            }
        )

    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str | None = None) -> StreamingHttpResponse:
        """The segment's contacts as a streamed CSV."""
        segment = self.get_object()
        response = StreamingHttpResponse(
            selectors.contacts_csv_lines(selectors.segment_contacts(segment)), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}.csv"'
        return response


def register(router: BaseRouter) -> None:
    """Add this app's endpoints to the `/api/v1/` router."""
    # contacts/import/ is registered first so that it is never read as a contact id.
    router.register("contacts/import", ContactImportViewSet, basename="api-contact-import")
    router.register("contacts", ContactViewSet, basename="api-contact")
    router.register("segments", SegmentViewSet, basename="api-segment")
    router.register("events", EventBatchViewSet, basename="api-event")
