from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.models import Consent
from contacts.segments import segment_definition_clean, segment_definition_describe
from contacts.selectors import segment_contacts, segment_definition_contacts, segment_preview
from tests.contacts.factories import ContactFactory, EventFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def one(*conditions: dict[str, Any], match: str = "all") -> dict[str, Any]:
    return {"match": "all", "groups": [{"match": match, "conditions": list(conditions)}]}


def names(definition: dict[str, Any]) -> set[str]:
    return set(segment_definition_contacts(definition=definition).values_list("name", flat=True))


def test_property_equals_compares_numbers_numerically_whether_stored_as_number_or_text() -> None:
    ContactFactory(name="int", properties={"age": 30})
    ContactFactory(name="text", properties={"age": "30.0"})
    ContactFactory(name="other", properties={"age": "thirty"})
    ContactFactory(name="none")
    assert names(one({"type": "property", "key": "age", "op": "eq", "value": "30"})) == {"int", "text"}


def test_greater_and_less_than_ignore_values_that_are_not_numbers() -> None:
    ContactFactory(name="big", properties={"spend": 250})
    ContactFactory(name="small", properties={"spend": "9.5"})
    ContactFactory(name="junk", properties={"spend": "lots"})
    assert names(one({"type": "property", "key": "spend", "op": "gt", "value": 100})) == {"big"}
    assert names(one({"type": "property", "key": "spend", "op": "lt", "value": "100"})) == {"small"}


def test_text_operators_not_equal_contains_in_and_is_set() -> None:
    ContactFactory(name="gold", properties={"plan": "Gold plus"})
    ContactFactory(name="silver", properties={"plan": "silver"})
    ContactFactory(name="blank", properties={"plan": ""})
    ContactFactory(name="none")
    assert names(one({"type": "property", "key": "plan", "op": "ne", "value": "silver"})) == {"gold", "blank", "none"}
    assert names(one({"type": "property", "key": "plan", "op": "contains", "value": "GOLD"})) == {"gold"}
    assert names(one({"type": "property", "key": "plan", "op": "in", "value": ["silver", "Gold plus"]})) == {
        "gold",
        "silver",
    }
    assert names(one({"type": "property", "key": "plan", "op": "is_set"})) == {"gold", "silver"}
    assert names(one({"type": "property", "key": "plan", "op": "not_set"})) == {"blank", "none"}


def test_consent_and_test_profile_conditions() -> None:
    ContactFactory(name="in", whatsapp_consent=Consent.SUBSCRIBED, is_test_profile=True)
    ContactFactory(name="out", whatsapp_consent=Consent.UNSUBSCRIBED)
    assert names(one({"type": "consent", "op": "eq", "value": "subscribed"})) == {"in"}
    assert names(one({"type": "consent", "op": "ne", "value": "subscribed"})) == {"out"}
    assert names(one({"type": "test_profile", "value": True})) == {"in"}


def test_date_conditions_on_columns_and_on_date_properties() -> None:
    now = timezone.now()
    ContactFactory(name="recent", last_inbound_at=now - timedelta(days=2), properties={"signup": "2024-05-20"})
    ContactFactory(name="old", last_inbound_at=now - timedelta(days=40), properties={"signup": "2023-01-01T10:00Z"})
    ContactFactory(name="never", properties={"signup": "not a date"})
    within = {"type": "date", "field": "last_inbound_at", "op": "within_last_days", "value": 7}
    assert names(one(within)) == {"recent"}
    assert names(one({**within, "op": "not_within_last_days"})) == {"old", "never"}
    prop = {"type": "date", "field": "property", "key": "signup"}
    assert names(one({**prop, "op": "before", "value": "2024-01-01"})) == {"old"}
    assert names(one({**prop, "op": "after", "value": "2024-05-19"})) == {"recent"}
    assert names(one({**prop, "op": "after", "value": "2024-05-20"})) == set()


def test_event_conditions_count_times_window_and_property_filters() -> None:
    now = timezone.now()
    twice = ContactFactory.create(name="twice")
    EventFactory.create_batch(2, contact=twice, properties={"sku": "A1", "total": 30})
    once = ContactFactory.create(name="once")
    EventFactory(contact=once, properties={"sku": "B2", "total": 5})
    stale = ContactFactory.create(name="stale")
    EventFactory(contact=stale, occurred_at=now - timedelta(days=90))
    ContactFactory(name="nothing")
    did = {"type": "event", "op": "did", "name": "purchase", "min_count": 1, "days": 30}
    assert names(one(did)) == {"twice", "once"}
    assert names(one({**did, "min_count": 2})) == {"twice"}
    assert names(one({**did, "days": None})) == {"twice", "once", "stale"}
    assert names(one({**did, "op": "did_not"})) == {"stale", "nothing"}
    assert names(one({**did, "op": "did_not", "min_count": 2})) == {"once", "stale", "nothing"}
    filtered = {**did, "filters": [{"key": "total", "op": "gt", "value": 10}]}
    assert names(one(filtered)) == {"twice"}


def test_groups_combine_with_and_or() -> None:
    ContactFactory(name="a", properties={"plan": "gold"}, whatsapp_consent=Consent.SUBSCRIBED)
    ContactFactory(name="b", properties={"plan": "gold"})
    ContactFactory(name="c", properties={"vip": "yes"})
    gold = {"type": "property", "key": "plan", "op": "eq", "value": "gold"}
    vip = {"type": "property", "key": "vip", "op": "is_set"}
    subscribed = {"type": "consent", "op": "eq", "value": "subscribed"}
    definition = {
        "match": "any",
        "groups": [{"match": "all", "conditions": [gold, subscribed]}, {"match": "all", "conditions": [vip]}],
    }
    assert names(definition) == {"a", "c"}
    assert names(one(gold, vip, match="any")) == {"a", "b", "c"}
    assert names({**definition, "match": "all"}) == set()


def test_segment_is_one_query_and_preview_gives_count_and_sample() -> None:
    for _ in range(3):
        EventFactory(contact=ContactFactory(is_test_profile=True))
    segment = SegmentFactory.create(
        definition=one(
            {"type": "test_profile", "value": True},
            {"type": "event", "op": "did", "name": "purchase", "min_count": 2, "days": 7},
            match="any",
        )
    )
    with CaptureQueriesContext(connection) as queries:
        count = segment_contacts(segment).count()
    assert count == 3 and len(queries) == 1
    preview = segment_preview(segment)
    assert preview["count"] == 3 and len(preview["sample"]) == 3


def test_invalid_definitions_name_each_wrong_field() -> None:
    with pytest.raises(ValidationError) as caught:
        segment_definition_clean(
            {
                "match": "some",
                "groups": [
                    {
                        "conditions": [
                            {"type": "property", "key": "", "op": "gt", "value": "abc"},
                            {"type": "event", "name": "", "min_count": 0, "days": -1},
                            {"type": "wat"},
                        ]
                    }
                ],
            }
        )
    errors = caught.value.message_dict
    assert set(errors) == {
        "match",
        "groups[0].conditions[0].key",
        "groups[0].conditions[0].value",
        "groups[0].conditions[1].name",
        "groups[0].conditions[1].min_count",
        "groups[0].conditions[1].days",
        "groups[0].conditions[2].type",
    }
    with pytest.raises(ValidationError):
        segment_definition_clean({"groups": []})
    with pytest.raises(ValidationError):
        segment_definition_clean("everyone")


def test_a_definition_reads_as_a_sentence() -> None:
    simple = {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "conditions": [
                    {"type": "property", "key": "plan", "op": "eq", "value": "gold"},
                    {"type": "event", "op": "did", "name": "signup", "days": 30},
                ],
            }
        ],
    }
    assert segment_definition_describe(simple) == "plan is “gold” and did “signup” in the last 30 days"
    mixed = {
        "match": "any",
        "groups": [
            {
                "match": "any",
                "conditions": [
                    {"type": "property", "key": "plan", "op": "in", "value": "gold, silver"},
                    {"type": "consent", "op": "ne", "value": "subscribed"},
                ],
            },
            {
                "match": "all",
                "conditions": [{"type": "date", "field": "created_at", "op": "within_last_days", "value": 7}],
            },
            {
                "match": "all",
                "conditions": [
                    {"type": "date", "field": "property", "key": "renewal", "op": "before", "value": "2026-01-01"},
                    {
                        "type": "event",
                        "op": "did_not",
                        "name": "purchase",
                        "min_count": 2,
                        "filters": [{"key": "sku", "op": "eq", "value": "A1"}],
                    },
                    {"type": "test_profile", "value": False},
                    {"type": "property", "key": "age", "op": "gt", "value": "30"},
                ],
            },
        ],
    }
    assert segment_definition_describe(mixed) == (
        "(plan is one of “gold”, “silver” or WhatsApp consent is not subscribed)"
        " or became a contact in the last 7 days"
        " or (renewal is before 2026-01-01 and did not do “purchase” at least 2 times where sku is “A1”"
        " and is not a test profile and age is more than 30)"
    )
    assert "not valid" in segment_definition_describe({"groups": "nope"})


def test_the_builder_suggests_property_and_event_names_in_use() -> None:
    from contacts.selectors import contact_property_keys, event_names

    ContactFactory(properties={"plan": "gold", "city": "Leeds"})
    ContactFactory(properties={"plan": "free", "score": 3})
    EventFactory(name="signup")
    EventFactory(name="purchase")
    EventFactory(name="purchase")
    assert contact_property_keys() == ["city", "plan", "score"]
    assert event_names() == ["purchase", "signup"]
