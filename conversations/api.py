"""`/api/v1/conversations/` (+ `messages/`, `reply/`, `assign/`, `close/`, `reopen/`, `notes/`): thin layers over
the services and selectors; marketers and staff alike (the API's default permission)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from conversations import selectors, services
from conversations.models import Conversation, ConversationStatus, Note
from providers.api import MessageSerializer
from templates_app.models import Template


class ConversationContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    phone = serializers.CharField()


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    contact = ConversationContactSerializer(read_only=True)
    window_expires_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Conversation
        fields = [
            "id",
            "provider",
            "contact",
            "status",
            "assignee",
            "unread_count",
            "last_message_at",
            "last_message_text",
            "window_expires_at",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields


class ThreadMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=["in", "out"])
    type = serializers.CharField()
    text = serializers.CharField()
    status = serializers.CharField(help_text="Outbound only (empty for inbound): queued → … → read, or a failure.")
    template_name = serializers.CharField()
    media_url = serializers.CharField()
    error = serializers.CharField(help_text="Outbound only: why the message failed, in words (empty otherwise).")
    options = serializers.ListField(
        child=serializers.CharField(), help_text="Outbound interactive messages: the titles of their buttons or rows."
    )
    created_at = serializers.DateTimeField()


class NoteSerializer(serializers.ModelSerializer[Note]):
    class Meta:
        model = Note
        fields = ["id", "conversation", "author", "text", "created_at"]
        read_only_fields = ["id", "conversation", "author", "created_at"]


class ReplyButtonSerializer(serializers.Serializer):
    id = serializers.CharField(
        required=False, allow_blank=True, max_length=256, help_text="Made from the title if empty."
    )
    title = serializers.CharField(max_length=255, help_text="What the button says (WhatsApp: up to 20 characters).")


class ReplySerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=4096)
    buttons = ReplyButtonSerializer(
        many=True, required=False, help_text="Up to 3 reply buttons under the text (inside the 24-hour window)."
    )
    template = serializers.PrimaryKeyRelatedField(queryset=Template.objects.select_related("provider"), required=False)
    parameters = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=1024), required=False)


class AssignSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.filter(is_active=True), allow_null=True)


class ListQuerySerializer(serializers.Serializer):
    """The list's filters, checked: a bad value is a 400 naming the parameter, never an empty list or a 500."""

    status = serializers.ChoiceField(choices=ConversationStatus.choices, required=False)
    assignee = serializers.CharField(required=False, help_text="`me`, `none` or a user id.")
    unread = serializers.BooleanField(required=False, default=False)
    provider = serializers.IntegerField(required=False, min_value=1)
    search = serializers.CharField(required=False, allow_blank=True, max_length=100)

    def validate_assignee(self, value: str) -> str | int:
        if value in (selectors.ASSIGNEE_ME, selectors.ASSIGNEE_NONE):
            return value
        if value.isdigit() and int(value) < 2**63:
            return int(value)
        raise serializers.ValidationError("Use `me`, `none` or a user id.")


_LIST_PARAMETERS = [
    OpenApiParameter("status", str, enum=ConversationStatus.values),
    OpenApiParameter("assignee", str, description="`me`, `none` or a user id."),
    OpenApiParameter("unread", bool),
    OpenApiParameter("provider", int),
    OpenApiParameter("search", str, description="Name or phone number."),
]


class ConversationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ConversationSerializer
    # The filters are the list's own (checked by ListQuerySerializer), not the generic backends'.
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Conversation]:
        if self.action != "list":
            return Conversation.objects.select_related("contact", "provider", "assignee")
        query = ListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.conversations_list(user=self.request.user, **query.validated_data)

    @extend_schema(parameters=_LIST_PARAMETERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=ThreadMessageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """Inbound and outbound messages in time order (`?page=last` for the latest)."""
        conversation = self.get_object()
        page = self.paginate_queryset(selectors.thread_keys(conversation=conversation))
        items = selectors.thread_items(keys=list(page or []))
        return self.get_paginated_response(ThreadMessageSerializer(items, many=True).data)

    @extend_schema(
        request=ReplySerializer, responses={201: inline_serializer("Reply", {"message": MessageSerializer()})}
    )
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str | None = None) -> Response:
        """Answer the customer: free text inside the 24-hour window, an approved template of this number otherwise."""
        conversation = self.get_object()
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = services.conversation_reply(
            conversation=conversation,
            author=request.user,  # type: ignore[arg-type]
            text=data.get("text"),
            template=data.get("template"),
            parameters=data.get("parameters"),
            buttons=data.get("buttons"),
        )
        return Response({"message": MessageSerializer(message).data}, status=status.HTTP_201_CREATED)

    @extend_schema(request=AssignSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        """`{"user": id}` assigns (the auto-reply stops and journeys hold their sends), `{"user": null}` unassigns."""
        conversation = self.get_object()
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = services.conversation_assign(conversation=conversation, user=serializer.validated_data["user"])
        return Response(self.get_serializer(conversation).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        conversation = services.conversation_close(conversation=self.get_object())
        return Response(self.get_serializer(conversation).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        conversation = services.conversation_reopen(conversation=self.get_object())
        return Response(self.get_serializer(conversation).data)

    @extend_schema(request=NoteSerializer, responses={201: NoteSerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        """Add an internal note (never sent to the customer)."""
        conversation = self.get_object()
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = services.conversation_note_add(
            conversation=conversation,
            author=request.user,  # type: ignore[arg-type]
            text=serializer.validated_data["text"],
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


def register(router: BaseRouter) -> None:
    """Add this app's endpoints to the `/api/v1/` router."""
    router.register("conversations", ConversationViewSet, basename="api-conversation")
