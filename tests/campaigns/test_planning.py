"""Planning: the set-based SQL path freezes exactly what the per-contact Python path would (it plans the contacts and
campaigns SQL cannot render exactly, so both paths run in production)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from campaigns import planning
from campaigns.models import CampaignRecipient, CampaignStatus, RecipientState, SkipReason
from campaigns.services import campaign_plan, campaign_run
from contacts.models import Consent
from providers.models import Message
from providers.nexmo.client import transport_override
from tests.campaigns.factories import campaign_make, setup_provider, subscribed
from tests.providers.factories import FakeNexmo, contact_make
from tests.templates_app.factories import template_make

pytestmark = pytest.mark.django_db

ODD_PROPERTIES: list[dict[str, Any]] = [
    {"city": "Leeds"},
    {"city": "  New\tYork \u00a0 City\n"},  # whitespace collapsed and trimmed, Unicode included
    {"city": " \u2003 "},  # only whitespace: the fallback
    {"city": 42},
    {"city": 1.5},  # Python's text form of a float: planned by Python
    {"city": True},  # not text: a missing variable, planned by Python
    {"city": {}},  # empty: the fallback
    {"city": {"name": "x"}},  # not text
    {"city": None},
    {"city": "50%'; --"},
    {},
    {"address": {"city": "Nested"}},
    {"address": ["Leeds"]},
]


def _snapshot(campaign: Any) -> dict[int, tuple[Any, ...]]:
    rows = CampaignRecipient.objects.filter(campaign=campaign).values_list(
        "contact_id", "phone", "state", "skip_reason", "skip_detail", "parameters", "send_after"
    )
    return {row[0]: row[1:] for row in rows}


def _python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from campaigns import services

    monkeypatch.setattr(services, "plan_in_sql", lambda **_: None)


@pytest.mark.parametrize(
    "variables",
    [
        {"1": {"property": "city", "fallback": "there"}, "2": {"value": "SPRING"}},
        {"1": {"property": "city"}, "2": {"property": "address.city", "fallback": "%home%"}},
        {"1": {"field": "name"}, "2": {"property": "city", "fallback": "  "}},
        {"1": {"property": "nothing.here"}, "2": {"value": "X"}},  # no fallback: every contact misses {{1}}
    ],
)
def test_sql_planning_freezes_the_same_rows_as_python(monkeypatch: pytest.MonkeyPatch, variables: Any) -> None:
    provider, template = setup_provider()
    contacts = [subscribed(1, properties=properties)[0] for properties in ODD_PROPERTIES]
    contact_make(whatsapp_consent=Consent.UNSUBSCRIBED)
    contact_make(whatsapp_consent=Consent.UNTRACKED)
    subscribed(1, name="")
    for _ in range(20):
        subscribed(1)
    invalid = subscribed(1)[0]
    type(invalid).objects.filter(pk=invalid.pk).update(phone="+44 7700 900")
    campaign = campaign_make(
        provider=provider,
        template=template,
        variables=variables,
        control_group_percent=30,
        conversion_event="purchase",
        frequency_cap_count=1,
        frequency_cap_days=7,
    )
    Message.objects.create(
        provider=provider, contact=contacts[0], to=contacts[0].phone, client_ref="earlier", status="delivered"
    )

    added = campaign_plan(campaign=campaign)
    by_sql = _snapshot(campaign)
    CampaignRecipient.objects.filter(campaign=campaign).delete()
    _python_only(monkeypatch)
    campaign_plan(campaign=campaign)
    by_python = _snapshot(campaign)

    assert added == len(by_sql) == len(by_python)
    assert by_sql == by_python
    reasons = {row[2] for row in by_python.values()}
    assert {SkipReason.CAPPED, SkipReason.CONTROL_GROUP, SkipReason.INVALID} <= reasons
    # Where every contact misses a value, some are skipped for it; elsewhere the few that miss may all be drawn for
    # the control group first, so it is not required there.
    if variables["1"].get("property") == "nothing.here":
        assert SkipReason.MISSING_VARIABLE in reasons


def test_media_header_from_a_contact_is_planned_by_python_with_the_same_result() -> None:
    provider, _ = setup_provider()
    template = template_make(
        provider=provider, body="Hi {{1}}.", header_type="image", header_media_url="https://example.com/a.png"
    )
    ann = subscribed(1, properties={"photo": "https://example.com/ann.png"})[0]
    bob = subscribed(1, properties={"photo": "not a url"})[0]
    campaign = campaign_make(
        provider=provider,
        template=template,
        variables={"1": {"field": "name"}, "header": {"property": "photo"}},
    )

    campaign_plan(campaign=campaign)

    rows = _snapshot(campaign)
    assert rows[ann.pk][4] == {"1": ann.name, "header": "https://example.com/ann.png"}
    assert rows[bob.pk][2] == SkipReason.MISSING_VARIABLE


def test_replanning_adds_only_contacts_not_yet_planned() -> None:
    provider, template = setup_provider()
    subscribed(3)
    campaign = campaign_make(provider=provider, template=template)
    assert campaign_plan(campaign=campaign) == 3
    subscribed(2)

    assert campaign_plan(campaign=campaign) == 2
    assert CampaignRecipient.objects.filter(campaign=campaign).count() == 5


def test_the_request_body_is_built_from_the_frozen_parameters_at_send_time() -> None:
    provider, template = setup_provider()
    ann = subscribed(1, name="Ann", properties={})[0]
    campaign = campaign_make(provider=provider, template=template)
    Campaign = type(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    campaign.refresh_from_db()
    campaign_plan(campaign=campaign)
    type(ann).objects.filter(pk=ann.pk).update(name="Changed after planning")
    fake = FakeNexmo(lambda r: httpx.Response(202, json={"message_uuid": "u-1"}))

    with transport_override(fake.transport):
        campaign_run(campaign=campaign)

    [body] = fake.bodies()
    assert body["message"]["content"]["template"]["parameters"] == ["Ann", "SPRING"]
    recipient = CampaignRecipient.objects.get(campaign=campaign, contact=ann)
    assert recipient.state == RecipientState.QUEUED
    # The log shows the message as Ann reads it, under the template's name.
    assert recipient.message is not None
    assert recipient.message.content_summary == f"{template.name}\nHi Ann, use code SPRING."


def test_control_group_draw_is_stable_and_near_its_percentage() -> None:
    drawn = [planning.in_control_group(7, contact_id, 20) for contact_id in range(5000)]
    assert drawn == [planning.in_control_group(7, contact_id, 20) for contact_id in range(5000)]
    assert 0.17 < sum(drawn) / len(drawn) < 0.23


def test_whitespace_characters_are_the_ones_python_collapses() -> None:
    characters = planning.whitespace_characters()
    assert all(re.fullmatch(r"\s", c) for c in characters)
    assert not any(re.fullmatch(r"\s", chr(code)) for code in range(0x3001, 0x110000) if chr(code) not in characters)
