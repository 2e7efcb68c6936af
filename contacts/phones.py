"""Phone numbers: everything we store is E.164 (`+447700900001`), parsed with phonenumbers."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from phonenumbers.geocoder import _region_display_name


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
    # "Possible locally only" numbers (a few digits dialled within an area) have no international form.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValidationError(f"{raw!r} has the wrong number of digits for its country.", code="invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_WORD = re.compile(r"[^\s,;]+")


def phone_list_split(text: str) -> list[str]:
    """The numbers typed in one field, in the order typed, each as written (for `phone_normalize` to check).

    Numbers with a country code are found by phonenumbers, so the spaces, dashes and brackets people write inside one
    ("+44 7700 900001") never split it, while commas, semicolons, new lines or plain spaces separate numbers. What is
    left over (bare digits, or text that is no number) comes back word by word, so each is checked and reported.
    """
    text = text or ""
    found: list[tuple[int, str]] = []
    rest = []
    end = 0
    for match in phonenumbers.PhoneNumberMatcher(text, None, leniency=phonenumbers.Leniency.POSSIBLE):
        found.append((match.start, match.raw_string))
        rest.append((end, text[end : match.start]))
        end = match.end
    rest.append((end, text[end:]))
    for offset, chunk in rest:
        found.extend((offset + m.start(), m.group()) for m in _WORD.finditer(chunk))
    return [raw for _, raw in sorted(found)]


def phone_regions() -> list[tuple[str, str]]:
    """(region code, "United Kingdom (+44)") for each region phonenumbers knows, by name: for country pickers."""
    regions = []
    for code in phonenumbers.SUPPORTED_REGIONS:
        name = _region_display_name(code, "en") or code
        regions.append((code, f"{name} (+{phonenumbers.country_code_for_region(code)})"))
    return sorted(regions, key=lambda pair: pair[1])


def phone_digits(e164: str) -> str:
    """Nexmo's form of a number: international digits without the plus."""
    return e164.lstrip("+")


_PLAIN_INTERNATIONAL = re.compile(r"\+?([1-9][0-9]{6,14})")
_SEPARATORS = str.maketrans("", "", " -.()\t")
# Where the national number may legitimately begin with the trunk prefix or a mobile token that parsing rewrites,
# the shortcut below could differ from phonenumbers; those always take the full parse.
_ALWAYS_PARSE = frozenset({39, 52, 54, 225, 242, 7})
# Verdict per (number of digits, first five digits): the first five hold the country code (at most three digits) and
# the first two national digits, so one key never mixes two shapes. Bounded so odd input cannot grow it forever.
_identity_by_shape: dict[tuple[int, str], bool] = {}
_SHAPES_KEPT = 200_000


def _shape_verdict(digits: str) -> bool:
    """Whether numbers shaped like `digits` are already their own E.164 form (full parse once per shape)."""
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return False
    national = digits[size:]
    if code in _ALWAYS_PARSE or not national or national[0] == "0":
        return False
    try:
        return phone_normalize("+" + digits) == "+" + digits
    except ValidationError:
        return False


def phone_normalize_national(raw: str, *, region: str) -> str:
    """A number that may be written without its country code ("07700 900001"): read as a number of `region`.

    International digits without a plus ("447700900001", Nexmo's form) are still accepted when they are not a
    number of `region`, so a file mixing both imports whole.
    """
    try:
        return phone_normalize(raw, region=region)
    except ValidationError:
        text = (raw or "").strip()
        if text.isdigit() and text[0] != "0":
            return phone_normalize(text)
        raise


def phone_normalize_fast(raw: str, *, region: str | None = None) -> str:
    """Same answer as `phone_normalize`, ~20x faster for bulk input already in international digits.

    Whether a number is possible depends on its country code and length, and whether parsing rewrites it depends on
    its leading digits; so the full parse runs once per (country code, length, first two digits) and its verdict is
    reused for numbers of the same shape. Anything else goes through `phone_normalize`. With a `region`, a number
    without a plus is read as that region's (`phone_normalize_national`).
    """
    if region and raw.lstrip()[:1] != "+":
        return phone_normalize_national(raw, region=region)
    digits = raw[1:] if raw[:1] == "+" else raw
    if not (digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15 and digits[0] != "0"):
        # Not bare digits: separators, letters, a wrong length; the slower shape check decides.
        match = _PLAIN_INTERNATIONAL.fullmatch((raw or "").strip().translate(_SEPARATORS))
        if match is None or not (raw.lstrip().startswith("+") or raw.strip().isdigit()):
            return phone_normalize(raw)
        digits = match.group(1)
    shape = (len(digits), digits[:5])
    identity = _identity_by_shape.get(shape)
    if identity is None:
        identity = _shape_verdict(digits)
        if len(_identity_by_shape) >= _SHAPES_KEPT:
            _identity_by_shape.clear()
        _identity_by_shape[shape] = identity
    if identity:
        return "+" + digits
    return phone_normalize(raw)
