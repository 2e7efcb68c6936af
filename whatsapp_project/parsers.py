"""The API's JSON parser: DRF's, refusing what the rest of the product cannot hold (deep nesting, NUL, surrogates)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from whatsapp_project.safe_input import json_loads


class JSONParser(parsers.JSONParser):
    """A 400 with the reason, instead of a RecursionError (JSON nested thousands deep) or a database error later (a
    NUL or a lone surrogate in any string) that answered 500."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            return json_loads(text)
        except ValueError as exc:  # malformed JSON, undecodable bytes, or refused by json_loads
            raise ParseError(f"JSON parse error - {exc}") from None
