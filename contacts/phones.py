"""Phone numbers: everything we store is E.164 (`+447700900001`), parsed with phonenumbers."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """Return the E.164 form of `raw`, or raise ValidationError saying what is wrong with it."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.", code="required")
    if not text.startswith("+") and region is None:
        # Nexmo sends and expects bare international digits ("447700900001").
        text = "+" + text.lstrip("0") if text.isdigit() else text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            f"{raw!r} is not a phone number; use the international format, e.g. +447700900001.",
            code="invalid",
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(f"{raw!r} has the wrong number of digits for its country.", code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_digits(e164: str) -> str:
    """Nexmo's form of a number: international digits without the plus."""
    return e164.lstrip("+")
