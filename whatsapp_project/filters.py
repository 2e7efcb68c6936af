"""The API's filter backend: django-filter's, with date-time filters that PostgreSQL can always compare.

Python accepts UTC offsets up to ±23:59 (`?created_before=2026-01-01T00:00+17:51`), PostgreSQL only up to ±15:59,
and such a value answered 500. Filter values are turned to UTC before they reach a query: the same instant, in a
form every database takes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.db import models
from django_filters.fields import IsoDateTimeField
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend


class UTCIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value: Any) -> Any:
        result = super().to_python(value)
        if isinstance(result, datetime) and result.tzinfo is not None:
            return result.astimezone(UTC)
        return result


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class FilterSet(django_filters.FilterSet):
    FILTER_DEFAULTS = {**FILTER_FOR_DBFIELD_DEFAULTS, models.DateTimeField: {"filter_class": IsoDateTimeFilter}}


class FilterBackend(DjangoFilterBackend):
    filterset_base = FilterSet
