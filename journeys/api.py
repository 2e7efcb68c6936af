"""`/api/v1/journeys/` (+ `publish|pause|resume|stop/`, `stats/`): thin layers over the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from journeys import selectors, services
from journeys.definition import problems_by_field
from journeys.models import Journey
from whatsapp_project.fields import JSONField


class JourneySerializer(serializers.ModelSerializer[Journey]):
    version = serializers.SerializerMethodField()
    trigger = JSONField(required=False)
    nodes = JSONField(required=False)
    problems = serializers.SerializerMethodField(help_text="What publish would refuse, by node and field.")

    class Meta:
        model = Journey
        fields = [
            "id",
            "status",
            "version",
            *services.JOURNEY_FIELDS,
            "problems",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "created_at", "updated_at"]

    def get_version(self, journey: Journey) -> int | None:
        return journey.current_version.number if journey.current_version else None

    def get_problems(self, journey: Journey) -> list[str]:
        return [str(p) for p in services.journey_problems(journey=journey, complete=True)]


def _invalid(exc: services.JourneyInvalid) -> ValidationError:
    return ValidationError(problems_by_field(exc.problems))


class JourneyViewSet(viewsets.ModelViewSet):
    serializer_class = JourneySerializer
    filterset_fields = ["status"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Journey]:
        return selectors.journey_list().order_by("-created_at", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            journey = services.journey_create(data=dict(serializer.validated_data))
        except services.JourneyInvalid as exc:
            raise _invalid(exc) from None
        return Response(self.get_serializer(journey).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        journey = self.get_object()
        serializer = self.get_serializer(journey, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        try:
            journey = services.journey_update(journey=journey, data=dict(serializer.validated_data))
        except services.JourneyInvalid as exc:
            raise _invalid(exc) from None
        return Response(self.get_serializer(journey).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.journey_delete(journey=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _act(self, action_service: Callable[..., Journey]) -> Response:
        try:
            journey = action_service(journey=self.get_object())
        except services.JourneyInvalid as exc:
            raise _invalid(exc) from None
        return Response(self.get_serializer(journey).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        """Check the draft and make it live as a new version."""
        return self._act(services.journey_publish)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.journey_pause)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.journey_resume)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str | None = None) -> Response:
        return self._act(services.journey_stop)

    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: str | None = None) -> Response:
        """Per-node counts: entered, waiting, sent, delivered, read, replied, exited, converted."""
        return Response(selectors.journey_stats(journey=self.get_object()))


def register(router: BaseRouter) -> None:
    """Add this app's endpoints to the `/api/v1/` router."""
    router.register("journeys", JourneyViewSet, basename="api-journey")
