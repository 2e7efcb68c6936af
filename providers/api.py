"""`/api/v1/providers/`, `providers/{id}/test-message/`, `messages/`, `inbound-messages/`."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.serializers import BaseSerializer

from accounts.permissions import IsStaff, IsStaffOrMarketerReadOnly
from accounts.roles import is_staff
from providers import selectors, services
from providers.content import TextContent
from providers.messaging import sending
from providers.models import ApiVersion, InboundMessage, Message, ProviderConfig
from whatsapp_project.filters import FilterSet


class ProviderSerializer(serializers.ModelSerializer[ProviderConfig]):
    private_key = serializers.CharField(
        write_only=True, required=False, trim_whitespace=True, style={"base_template": "textarea.html"}
    )
    signature_secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Blank or absent: keep the one on file."
    )
    signature_secret_clear = serializers.BooleanField(
        write_only=True,
        required=False,
        default=False,
        help_text="True: remove the signature secret, so callbacks are accepted unsigned.",
    )
    api_version = serializers.ChoiceField(choices=ApiVersion.choices, default=ApiVersion.V0_1)
    inbound_callback_url = serializers.CharField(read_only=True, help_text="Staff only: absent for marketers.")
    status_callback_url = serializers.CharField(read_only=True, help_text="Staff only: absent for marketers.")
    has_signature_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = ProviderConfig
        fields = [
            "id",
            "nickname",
            "phone_number",
            "application_id",
            "private_key",
            "signature_secret",
            "signature_secret_clear",
            "api_version",
            "api_base_url",
            "whatsapp_namespace",
            "waba_id",
            "auto_reply_enabled",
            "auto_reply_text",
            "opt_out_keywords",
            "opt_in_keywords",
            "is_active",
            "max_messages_per_second",
            "inbound_callback_url",
            "status_callback_url",
            "private_key_fingerprint",
            "has_signature_secret",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["private_key_fingerprint", "created_at", "updated_at"]
        # Uniqueness is checked by the service after phone normalisation.
        extra_kwargs: ClassVar[dict[str, dict[str, Any]]] = {
            "nickname": {"validators": []},
            "phone_number": {"validators": []},
        }

    def to_representation(self, instance: ProviderConfig) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is None or not is_staff(request.user):
            # The callback URLs carry the callback token, the only check on callbacks of a number without a
            # signature secret: staff only, as in the UI.
            data.pop("inbound_callback_url", None)
            data.pop("status_callback_url", None)
        return data


class MessageSerializer(serializers.ModelSerializer[Message]):
    class Meta:
        model = Message
        fields = [
            "id",
            "provider",
            "contact",
            "to",
            "status",
            "message_uuid",
            "client_ref",
            "origin",
            "origin_ref",
            "content_type",
            "content_summary",
            "error_code",
            "error_reason",
            "price",
            "currency",
            "created_at",
            "submitted_at",
            "delivered_at",
            "read_at",
            "failed_at",
        ]


class InboundMessageSerializer(serializers.ModelSerializer[InboundMessage]):
    reply_id = serializers.CharField(read_only=True, help_text="Id of the tapped button or list row.")
    reply_title = serializers.CharField(read_only=True, help_text="Title of the tapped button or list row.")

    class Meta:
        model = InboundMessage
        fields = [
            "id",
            "provider",
            "contact",
            "message_uuid",
            "from_number",
            "content_type",
            "text",
            "media_url",
            "button_payload",
            "button_text",
            "reply_id",
            "reply_title",
            "context_message_uuid",
            "location",
            "profile_name",
            "received_at",
        ]


class TestMessageSerializer(serializers.Serializer[Any]):
    to = serializers.CharField(max_length=32)
    text = serializers.CharField(max_length=4096)


class ProviderViewSet(viewsets.ModelViewSet[ProviderConfig]):
    """WhatsApp numbers on Nexmo. Staff write; marketers read. Secrets are write-only."""

    serializer_class = ProviderSerializer
    permission_classes = [IsStaffOrMarketerReadOnly]
    queryset = ProviderConfig.objects.all()
    filterset_fields = ["is_active", "api_version"]
    search_fields = ["nickname", "phone_number"]

    def perform_create(self, serializer: BaseSerializer[ProviderConfig]) -> None:
        try:
            serializer.instance = services.provider_create(data=dict(serializer.validated_data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None

    def perform_update(self, serializer: BaseSerializer[ProviderConfig]) -> None:
        assert serializer.instance is not None
        try:
            services.provider_update(provider=serializer.instance, data=dict(serializer.validated_data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None

    def perform_destroy(self, instance: ProviderConfig) -> None:
        if instance.messages.exists() or instance.inbound_messages.exists():
            raise serializers.ValidationError(
                {"detail": "This number has logged messages; deactivate it (is_active=false) instead."}
            )
        instance.delete()

    @action(
        detail=True,
        methods=["post"],
        url_path="test-message",
        permission_classes=[IsStaff],
        serializer_class=TestMessageSerializer,
    )
    def test_message(self, request: Request, pk: str | None = None) -> Response:
        """Send a free-form test: 201 with Nexmo's answer, 400 when refused, 502 with Nexmo's problem+json."""
        provider = self.get_object()
        payload = TestMessageSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            result = sending.message_send(
                provider=provider,
                to=payload.validated_data["to"],
                content=TextContent(text=payload.validated_data["text"]),
                origin="test",
                origin_ref=f"test:{uuid.uuid4()}",
            )
        except sending.SendRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        body = {
            "message": MessageSerializer(result.message).data,
            "response": {"status_code": result.status_code, "body": result.body},
        }
        return Response(body, status=status.HTTP_201_CREATED if result.ok else status.HTTP_502_BAD_GATEWAY)


class MessageFilter(FilterSet):
    class Meta:
        model = Message
        fields = ["status", "provider", "origin", "origin_ref", "contact", "to", "message_uuid", "client_ref"]


class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Message]):
    serializer_class = MessageSerializer
    queryset = selectors.message_list()
    filterset_class = MessageFilter
    search_fields = ["to", "message_uuid", "client_ref"]
    ordering_fields = ["created_at", "status"]


class InboundMessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[InboundMessage]):
    serializer_class = InboundMessageSerializer
    queryset = selectors.inbound_list()
    filterset_fields = ["provider", "contact", "content_type", "from_number", "button_payload", "context_message_uuid"]
    search_fields = ["from_number", "text", "message_uuid"]
    ordering_fields = ["received_at"]


def register(router: BaseRouter) -> None:
    """Add this app's endpoints to the `/api/v1/` router."""
    router.register("providers", ProviderViewSet, basename="api-provider")
    router.register("messages", MessageViewSet, basename="api-message")
    router.register("inbound-messages", InboundMessageViewSet, basename="api-inbound-message")
