"""Django's loaddata, ending in a one-line error rather than a traceback when a fixture cannot be read.

Restoring a dump is where an encrypted secret meets the wrong FIELD_ENCRYPTION_KEYS (or a dump of an older version
that held placeholders): the reason, which names the setting, is what the operator needs to see.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands import loaddata
from django.core.serializers.base import DeserializationError


class Command(loaddata.Command):
    def handle(self, *fixture_labels: str, **options: Any) -> None:
        try:
            super().handle(*fixture_labels, **options)
        except DeserializationError as exc:
            raise CommandError(str(exc)) from None
