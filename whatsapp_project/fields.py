"""API fields shared by every app."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from whatsapp_project.safe_input import InputRefused, json_loads, value_check


class JSONField(serializers.JSONField):
    """DRF's JSONField with the API parser's limits, whichever way the value came in.

    In a multipart or form body the value is JSON text that DRF decodes itself, with the stdlib (JSON nested
    thousands deep raised RecursionError, `\\ud800` gave a lone surrogate, and the text `null` got past
    allow_null=False): a 500 each. Here deep nesting, NUL and lone surrogates are a 400 with the reason, and null is
    refused unless allowed.
    """

    def to_internal_value(self, data: Any) -> Any:
        try:
            if self.binary or getattr(data, "is_json_string", False):
                text = data.decode() if isinstance(data, bytes) else str(data)
                value = json_loads(text)
            else:
                value_check(data)
                value = super().to_internal_value(data)
        except InputRefused as exc:
            raise serializers.ValidationError(str(exc)) from None
        except ValueError:
            self.fail("invalid")
        if value is None and not self.allow_null:
            self.fail("null")
        return value
