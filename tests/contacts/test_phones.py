from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contacts.phones import phone_list_split, phone_normalize, phone_normalize_fast, phone_regions


def test_numbers_written_with_spaces_stay_whole_and_several_are_split() -> None:
    typed = "+44 7700 900001, +447700900002 447700900003;+44 (0)7700 900004\n+1 202-555-0123"
    assert phone_list_split(typed) == [
        "+44 7700 900001",
        "+447700900002",
        "447700900003",
        "+44 (0)7700 900004",
        "+1 202-555-0123",
    ]
    assert [phone_normalize(raw) for raw in phone_list_split(typed)] == [
        "+447700900001",
        "+447700900002",
        "+447700900003",
        "+447700900004",
        "+12025550123",
    ]


def test_words_that_are_no_number_come_back_to_be_reported() -> None:
    assert phone_list_split("+44 7700 900001 call me") == ["+44 7700 900001", "call", "me"]
    assert phone_list_split("  ,, ") == []


def test_a_default_country_reads_national_numbers_and_keeps_international_digits() -> None:
    assert phone_normalize_fast("07700 900001", region="GB") == "+447700900001"
    assert phone_normalize_fast("447700900001", region="GB") == "+447700900001"
    assert phone_normalize_fast("33612345678", region="GB") == "+33612345678"
    assert phone_normalize_fast("+33 6 12 34 56 78", region="GB") == "+33612345678"
    assert phone_normalize_fast("(202) 555-0123", region="US") == "+12025550123"
    with pytest.raises(ValidationError):
        phone_normalize_fast("07700 900001")
    with pytest.raises(ValidationError):
        phone_normalize_fast("0770", region="GB")


def test_regions_are_named_with_their_calling_code() -> None:
    regions = dict(phone_regions())
    assert regions["GB"] == "United Kingdom (+44)"
    assert regions["US"] == "United States (+1)"
