"""The message log's reads and words: both directions in one time order, taps by label, errors explained."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from providers import selectors
from providers.models import InboundMessage, Message, ProviderConfig
from providers.nexmo.errors import error_in_words
from tests.providers.factories import provider_make

pytestmark = pytest.mark.django_db


def _sent(provider: ProviderConfig, ref: str, minutes_ago: int, **fields: object) -> Message:
    return Message.objects.create(
        provider=provider,
        to="+447700900001",
        client_ref=ref,
        origin="test",
        content_type="text",
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def _received(provider: ProviderConfig, uuid: str, minutes_ago: int, **fields: object) -> InboundMessage:
    return InboundMessage.objects.create(
        provider=provider,
        message_uuid=uuid,
        from_number="447700900001",
        content_type=str(fields.pop("content_type", "text")),
        raw={},
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
        **fields,
    )


def test_the_log_interleaves_sent_and_received_newest_first_and_filters_by_direction() -> None:
    provider, other = provider_make(), provider_make()
    _sent(provider, "a", 30, status="delivered")
    _received(provider, "in-1", 20, text="hello")
    _sent(provider, "b", 10, status="failed")
    _received(other, "in-2", 5, text="elsewhere")

    entries = selectors.message_log_entries(selectors.message_log(filters={"provider": provider}))
    assert [(e.sent or e.received or Message()).pk for e in entries] == [
        Message.objects.get(client_ref="b").pk,
        InboundMessage.objects.get(message_uuid="in-1").pk,
        Message.objects.get(client_ref="a").pk,
    ]
    assert [bool(e.sent) for e in entries] == [True, False, True]

    received = selectors.message_log_entries(selectors.message_log(filters={"direction": "in"}))
    assert {e.received.message_uuid for e in received if e.received} == {"in-1", "in-2"} and len(received) == 2
    sent = selectors.message_log(filters={"direction": "out"})
    assert sent.count() == 2
    # A status filter is about sent messages: received ones have no delivery status.
    failed = selectors.message_log_entries(selectors.message_log(filters={"status": "failed"}))
    assert [e.sent.client_ref for e in failed if e.sent] == ["b"] and len(failed) == 1


def test_a_received_message_reads_as_what_the_customer_did() -> None:
    provider = provider_make()
    tap = _received(provider, "t", 1, content_type="button", button_payload="YES", button_text="Yes please")
    row = _received(provider, "r", 1, content_type="reply", button_payload="row-2", button_text="Tuesday 10:00")
    image = _received(provider, "i", 1, content_type="image", text="my receipt", media_url="https://m.example/1.jpg")
    pin = _received(provider, "l", 1, content_type="location", location={"latitude": 51.5, "longitude": -0.12})
    assert tap.summary == "Tapped “Yes please”"
    assert row.summary == "Tapped “Tuesday 10:00”"
    assert image.summary == "Image: my receipt https://m.example/1.jpg"
    assert pin.summary == "Location: 51.5, -0.12"
    assert tap.from_display == "+447700900001"


def test_errors_read_in_words_with_nexmo_s_own_reason_kept() -> None:
    window = error_in_words("1340", "Outside the allowed window")
    assert window.startswith("Outside the 24-hour window") and window.endswith("(1340: Outside the allowed window)")
    # Our own reason already says it: not repeated.
    stopped = "The journey was stopped before this message went out."
    assert error_in_words("journey_stopped", stopped) == stopped
    detailed = error_in_words("1022", "Template name does not exist in the translation")
    assert detailed.startswith("Template not accepted") and "(1022: Template name does not exist" in detailed
    assert error_in_words("9999", "Something new") == "9999: Something new"
    assert error_in_words("503", "").startswith("Nexmo had a server error")
    assert error_in_words("", "") == ""
