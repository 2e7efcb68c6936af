"""`/api/v1/campaigns/`: CRUD, lifecycle actions and stats; every write goes through campaigns.services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from campaigns import services
from campaigns.audience_lists import audience_list_upload
from campaigns.models import Audience, AudienceList, Campaign
from campaigns.selectors import campaign_list, campaign_stats
from providers.messaging.sending import SendResult


class AudienceListSerializer(serializers.ModelSerializer):
    problems = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="The first unmatched rows, each {line, value, reason}.",
    )

    class Meta:
        model = AudienceList
        fields = ["id", "name", "rows", "matched", "duplicates", "unmatched", "problems", "created_at"]
        read_only_fields = fields


class CampaignSerializer(serializers.ModelSerializer):
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)
    audience_file = serializers.FileField(
        write_only=True,
        required=False,
        help_text="An uploaded list (multipart): a CSV of phone numbers and/or external ids, one per row, header "
        "row optional ('phone', 'external_id'). Rows matching existing contacts become the audience (`audience` "
        "becomes `uploaded_list`); the rows matching nobody are reported in `audience_upload`.",
    )
    audience_upload = AudienceListSerializer(
        source="audience_list",
        read_only=True,
        help_text="What the uploaded list resolved to: matched contacts and the unmatched rows with reasons.",
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            *services.EDITABLE_FIELDS,
            "audience_file",
            "audience_upload",
            "status",
            "pause_reason",
            "started_at",
            "completed_at",
            "created_at",
        ]
        read_only_fields = ["status", "pause_reason", "started_at", "completed_at", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("segment") is not None and "audience" not in attrs:
            attrs["audience"] = Audience.SEGMENT
        uploaded = attrs.get("audience_file") is not None or attrs.get("audience_list") is not None
        if uploaded and "audience" not in attrs:
            attrs["audience"] = Audience.UPLOADED_LIST
        if attrs.get("audience_file") is not None and attrs.get("audience") != Audience.UPLOADED_LIST:
            raise serializers.ValidationError({"audience_file": ["A list file goes with audience 'uploaded_list'."]})
        return attrs


class ScheduleSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True)


class CampaignViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CampaignSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_fields = ["status", "provider", "template"]

    def get_queryset(self) -> QuerySet[Campaign]:
        return campaign_list()

    def _write(self, request: Request, instance: Campaign | None, partial: bool) -> Response:
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        upload = data.pop("audience_file", None)
        try:
            # One transaction: a list read for a campaign that is then refused is not kept.
            with transaction.atomic():
                if upload is not None:
                    data["audience_list"] = self._upload(upload, request)
                if instance is None:
                    campaign = services.campaign_create(data=data, user=request.user)
                else:
                    campaign = services.campaign_update(campaign=instance, data=data)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        except services.CampaignActionRefused as exc:
            raise serializers.ValidationError({"status": [str(exc)]}) from None
        code = status.HTTP_201_CREATED if instance is None else status.HTTP_200_OK
        return Response(self.get_serializer(campaign).data, status=code)

    @staticmethod
    def _upload(upload: UploadedFile, request: Request) -> AudienceList:
        try:
            return audience_list_upload(handle=upload, name=upload.name or "", size=upload.size, user=request.user)
        except ValidationError as exc:
            raise serializers.ValidationError({"audience_file": exc.messages}) from None

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._write(request, None, False)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._write(request, self.get_object(), kwargs.get("partial", False))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        if campaign.status != "draft":
            return Response({"detail": "Only a draft can be deleted; cancel the campaign instead."}, status=400)
        campaign.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _act(self, fn: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        try:
            result = fn(campaign=campaign, **kwargs)
        except services.CampaignActionRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        campaign.refresh_from_db()
        data = dict(self.get_serializer(campaign).data)
        if isinstance(result, int):
            data["retried"] = result
        return Response(data)

    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str | None = None) -> Response:
        serializer = ScheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self._act(services.campaign_schedule, scheduled_at=serializer.validated_data.get("scheduled_at"))

    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.campaign_pause)

    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.campaign_resume)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.campaign_cancel)

    @action(detail=True, methods=["post"], url_path="retry-failed")
    def retry_failed(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.campaign_retry_failed)

    @action(detail=True, methods=["post"], url_path="test-send")
    def test_send(self, request: Request, pk: str | None = None) -> Response:
        campaign = self.get_object()
        try:
            results = services.campaign_test_send(campaign=campaign)
        except services.CampaignActionRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        out = [
            {"to": r.message.to, "status": r.message.status, "message": r.message.pk}
            if isinstance(r, SendResult)
            else {"error": r}
            for r in results
        ]
        return Response({"results": out})

    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: str | None = None) -> Response:
        return Response(campaign_stats(campaign=self.get_object()))


def register(router: BaseRouter) -> None:
    """Add this app's endpoints to the `/api/v1/` router."""
    router.register("campaigns", CampaignViewSet, basename="campaign")
