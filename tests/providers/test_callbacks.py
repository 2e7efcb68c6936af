"""Nexmo's callbacks replayed from our Vonage-shaped payloads (tests/fixtures/vonage): answers, dedupe, forward-only
states, signatures."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from contacts.models import Consent, Contact
from providers.models import CallbackLog, InboundMessage, Message, PendingStatus, ProviderConfig
from providers.signals import inbound_message_received, message_status_changed, status_announced_origins
from tests.providers.factories import message_make, provider_make, sign
from tests.vonage_fixtures import load

pytestmark = pytest.mark.django_db

V01_INBOUND = [
    "v0.1-inbound-text.json",
    "v0.1-inbound-button.json",
    "v0.1-inbound-image.json",
    "v0.1-inbound-location.json",
]
V1_INBOUND = [
    "v1-inbound-text.json",
    "v1-inbound-image.json",
    "v1-inbound-location.json",
    "v1-inbound-reply.json",
    "v1-inbound-button.json",
    "v1-inbound-audio.json",
    "v1-inbound-video.json",
    "v1-inbound-file.json",
    "v1-inbound-sticker.json",
    "v1-inbound-order.json",
    "v1-inbound-unsupported.json",
    "v1-inbound-text-docs.json",
    "v1-inbound-text-bsuid.json",
    "v1-inbound-reply-button-docs.json",
    "v1-inbound-reply-list-docs.json",
]
V01_STATUS = [
    "v0.1-status-submitted.json",
    "v0.1-status-delivered.json",
    "v0.1-status-read.json",
    "v0.1-status-rejected-error.json",
    "v0.1-status-undeliverable.json",
]
V1_STATUS = [
    "v1-status-submitted.json",
    "v1-status-delivered.json",
    "v1-status-read.json",
    "v1-status-read-bsuid.json",
    "v1-status-rejected-error.json",
    "v1-status-undeliverable.json",
]
# Who is who in the fixtures: our WhatsApp number, the customer of most payloads, the one who taps the button.
CUSTOMER = "+447700900207"
BUTTON_CUSTOMER = "+447700900318"
SECRET = "signature-secret-0123456789-abcdefghij"


def post(provider: ProviderConfig, kind: str, payload: Any, *, secret: str | None = None, **headers: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if secret is not None:
        headers.setdefault("HTTP_AUTHORIZATION", sign(body, secret))
    # Run the on-commit work (the django-q2 task, sync in tests) as the real request would.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client().post(
            f"/callbacks/nexmo/{provider.callback_token}/{kind}/", body, content_type="application/json", **headers
        )


def message_for(provider: ProviderConfig, *, uuid: str | None, client_ref: str, status: str = "submitted") -> Message:
    return Message.objects.create(
        provider=provider,
        to="+447700900000",
        status=status,
        message_uuid=uuid,
        client_ref=client_ref,
        origin="test",
        content_type="text",
    )


@pytest.fixture
def provider() -> ProviderConfig:
    return provider_make()


@pytest.fixture
def signed_provider() -> ProviderConfig:
    return provider_make(signature_secret=SECRET)


@pytest.mark.parametrize("name", V01_INBOUND + V1_INBOUND)
@pytest.mark.parametrize("signed", [False, True])
def test_every_inbound_fixture_is_accepted_once(name: str, signed: bool) -> None:
    provider = provider_make(signature_secret=SECRET if signed else "")
    payload = load(name)
    first = post(provider, "inbound", payload, secret=SECRET if signed else None)
    again = post(provider, "inbound", payload, secret=SECRET if signed else None)
    assert (first.status_code, again.status_code) == (200, 200)
    inbound = InboundMessage.objects.get()
    expected_type = payload.get("message_type") or payload["message"]["content"]["type"]
    assert inbound.content_type == expected_type
    assert inbound.raw == payload


def test_inbound_fields_are_extracted_for_v01_and_v1(provider: ProviderConfig) -> None:
    for name in [
        "v0.1-inbound-button.json",
        "v0.1-inbound-image.json",
        "v0.1-inbound-location.json",
        "v1-inbound-reply.json",
        "v1-inbound-text.json",
    ]:
        post(provider, "inbound", load(name) | {"message_uuid": name})
    button = InboundMessage.objects.get(message_uuid="v0.1-inbound-button.json")
    image = InboundMessage.objects.get(message_uuid="v0.1-inbound-image.json")
    location = InboundMessage.objects.get(message_uuid="v0.1-inbound-location.json")
    reply = InboundMessage.objects.get(message_uuid="v1-inbound-reply.json")
    text = InboundMessage.objects.get(message_uuid="v1-inbound-text.json")
    assert (button.button_payload, button.button_text) == ("RESTOCK_ALERT_YES", "Yes, tell me")
    assert (image.media_url, image.text) == (
        "https://media.example.com/inbound/4471/receipt.jpg",
        "Receipt for order 4471",
    )
    assert location.location == {
        "latitude": "53.800755",
        "longitude": "-1.549077",
        "name": "Collection point 3",
        "address": "14 Example Lane, Leeds LS1 4AB",
    }
    assert (reply.button_payload, reply.button_text) == ("slot-tue-1030", "Tue 10:30")
    assert (reply.reply_id, reply.reply_title) == ("slot-tue-1030", "Tue 10:30")
    assert reply.context_message_uuid == load("v1-inbound-reply.json")["context"]["message_uuid"]
    assert button.context_message_uuid == ""  # no context: a reply to no message in particular
    assert text.text == "Do you have the blue one in size 10?" and text.profile_name == "Rosa Delgado"
    assert button.contact is not None and button.contact.phone == BUTTON_CUSTOMER


def test_unknown_sender_becomes_untracked_contact_and_window_opens(provider: ProviderConfig) -> None:
    now = timezone.now()
    payload = load("v0.1-inbound-text.json") | {"timestamp": now.isoformat().replace("+00:00", "Z")}
    post(provider, "inbound", payload)
    contact = Contact.objects.get(phone=CUSTOMER)
    assert contact.whatsapp_consent == Consent.UNTRACKED
    assert contact.window_open()
    assert InboundMessage.objects.get().opened_window


def test_stop_opts_out_and_start_opts_back_in(provider: ProviderConfig) -> None:
    base = load("v0.1-inbound-text.json")
    post(provider, "inbound", base | {"message_uuid": "u1", "message": {"content": {"type": "text", "text": " stop "}}})
    contact = Contact.objects.get(phone=CUSTOMER)
    assert contact.whatsapp_consent == Consent.UNSUBSCRIBED
    post(provider, "inbound", base | {"message_uuid": "u2", "message": {"content": {"type": "text", "text": "START"}}})
    contact.refresh_from_db()
    assert contact.whatsapp_consent == Consent.SUBSCRIBED
    assert [c.source for c in contact.consent_changes.all()] == ["inbound keyword", "inbound keyword"]


def test_opt_out_keywords_come_from_the_provider() -> None:
    provider = provider_make(opt_out_keywords="ARRET, HALT")
    base = load("v1-inbound-text-bsuid.json")
    post(provider, "inbound", base | {"text": "halt"})
    assert Contact.objects.get(phone=CUSTOMER).whatsapp_consent == Consent.UNSUBSCRIBED


def test_inbound_is_announced_to_higher_apps(provider: ProviderConfig) -> None:
    heard: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        heard.append(kwargs)

    inbound_message_received.connect(receiver)
    try:
        post(provider, "inbound", load("v0.1-inbound-button.json"))
        post(provider, "inbound", load("v0.1-inbound-button.json"))
    finally:
        inbound_message_received.disconnect(receiver)
    assert len(heard) == 1
    assert heard[0]["inbound"].button_payload == "RESTOCK_ALERT_YES"
    assert heard[0]["contact"].phone == BUTTON_CUSTOMER
    assert heard[0]["provider"] == provider and heard[0]["keyword"] is None


@pytest.mark.parametrize("name", V01_STATUS + V1_STATUS)
@pytest.mark.parametrize("signed", [False, True])
def test_every_status_fixture_is_accepted_and_applied(name: str, signed: bool) -> None:
    provider = provider_make(signature_secret=SECRET if signed else "")
    payload = load(name)
    message = message_for(provider, uuid=payload["message_uuid"], client_ref="ref-1", status="sending")
    response = post(provider, "status", payload, secret=SECRET if signed else None)
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == payload["status"]


def test_status_error_and_price_are_kept(provider: ProviderConfig) -> None:
    rejected = load("v0.1-status-rejected-error.json")
    delivered = load("v0.1-status-delivered.json") | {"message_uuid": "other"}
    m1 = message_for(provider, uuid=rejected["message_uuid"], client_ref="r1")
    m2 = message_for(provider, uuid="other", client_ref="r2")
    post(provider, "status", rejected)
    post(provider, "status", delivered)
    m1.refresh_from_db()
    m2.refresh_from_db()
    assert (m1.status, m1.error_code, m1.error_reason) == ("rejected", "1340", "Outside the allowed window")
    assert m1.failed_at is not None
    assert (str(m2.price), m2.currency) == ("0.01470", "EUR")


def _status(status: str, at: datetime, uuid: str = "m-1", **extra: Any) -> dict[str, Any]:
    return {
        "message_uuid": uuid,
        "to": {"type": "whatsapp", "number": "447700900000"},
        "from": {"type": "whatsapp", "number": "447700900001"},
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "status": status,
        **extra,
    }


def test_shuffled_and_duplicated_statuses_end_read_with_every_timestamp(provider: ProviderConfig) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    events = [
        _status("submitted", t0),
        _status("delivered", t0 + timedelta(seconds=5)),
        _status("read", t0 + timedelta(seconds=60)),
    ] * 2
    rng = random.Random(7)
    for _ in range(5):
        Message.objects.all().delete()
        message = message_for(provider, uuid="m-1", client_ref="r", status="sending")
        rng.shuffle(events)
        for event in events:
            assert post(provider, "status", event).status_code == 200
        message.refresh_from_db()
        assert message.status == "read"
        assert message.submitted_at == t0
        assert message.delivered_at == t0 + timedelta(seconds=5)
        assert message.read_at == t0 + timedelta(seconds=60)


def test_read_before_delivered_still_records_delivered(provider: ProviderConfig) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    message = message_for(provider, uuid="m-1", client_ref="r")
    post(provider, "status", _status("read", t0 + timedelta(seconds=60)))
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == ("read", t0 + timedelta(seconds=60))
    post(provider, "status", _status("delivered", t0 + timedelta(seconds=5)))
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == ("read", t0 + timedelta(seconds=5))


def test_status_never_moves_back_and_a_late_failure_does_not_undo_delivery(provider: ProviderConfig) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    message = message_for(provider, uuid="m-1", client_ref="r")
    post(provider, "status", _status("delivered", t0))
    post(provider, "status", _status("submitted", t0 - timedelta(seconds=1)))
    post(provider, "status", _status("rejected", t0 + timedelta(seconds=1), error={"code": 1300, "reason": "x"}))
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.failed_at is None


def test_status_before_the_message_is_known_is_kept_and_applied_later(provider: ProviderConfig) -> None:
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert post(provider, "status", _status("delivered", t0, uuid="early", client_ref="ref-early")).status_code == 200
    assert post(provider, "status", _status("delivered", t0, uuid="early", client_ref="ref-early")).status_code == 200
    assert PendingStatus.objects.count() == 1
    from providers.messaging.statuses import message_pending_apply

    message = message_for(provider, uuid=None, client_ref="ref-early", status="sending")
    message_pending_apply(message)
    message.refresh_from_db()
    assert (message.status, message.message_uuid, message.delivered_at) == ("delivered", "early", t0)
    assert not PendingStatus.objects.exists()


def test_status_finds_message_by_client_ref_before_its_uuid_is_recorded(provider: ProviderConfig) -> None:
    message = message_for(provider, uuid=None, client_ref="ref-9", status="sending")
    post(provider, "status", _status("delivered", timezone.now(), uuid="u-9", client_ref="ref-9"))
    message.refresh_from_db()
    assert (message.status, message.message_uuid) == ("delivered", "u-9")


def message_for_origin(provider: ProviderConfig, *, uuid: str, origin: str) -> Message:
    message = message_for(provider, uuid=uuid, client_ref=f"ref-{uuid}")
    Message.objects.filter(pk=message.pk).update(origin=origin)
    return message


def test_status_changes_are_announced_once_for_the_origins_listened_to(provider: ProviderConfig) -> None:
    """Journeys listen for their own messages' statuses; a campaign's callbacks announce nothing (no task)."""
    heard: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        heard.append(kwargs)

    assert "journey" in status_announced_origins and "campaign" not in status_announced_origins
    message_status_changed.connect(receiver)
    try:
        message_for_origin(provider, uuid="m-1", origin="journey")
        message_for_origin(provider, uuid="m-2", origin="campaign")
        post(provider, "status", _status("delivered", timezone.now()))
        post(provider, "status", _status("delivered", timezone.now()))
        post(provider, "status", _status("delivered", timezone.now(), uuid="m-2"))
    finally:
        message_status_changed.disconnect(receiver)
    assert Message.objects.filter(status="delivered").count() == 2
    assert len(heard) == 1
    assert heard[0]["message"].message_uuid == "m-1"
    assert heard[0]["message"].status == "delivered" and heard[0]["status"] == "delivered"


def test_answers_for_bad_requests(provider: ProviderConfig) -> None:
    client = Client()
    url = f"/callbacks/nexmo/{provider.callback_token}/status/"
    assert client.get(url).status_code == 405
    assert client.post("/callbacks/nexmo/nope/status/", b"{}", content_type="application/json").status_code == 404
    assert client.post(url, b"not json", content_type="application/json").status_code == 400
    assert client.post(url, b'{"hello": 1}', content_type="application/json").status_code == 400
    assert client.post(url, b"[1, 2]", content_type="application/json").status_code == 400
    assert client.post(url, b'{"status": NaN}', content_type="application/json").status_code == 400
    big = json.dumps({"pad": "x" * (256 * 1024)}).encode()
    assert client.post(url, big, content_type="application/json").status_code == 413
    assert CallbackLog.objects.filter(response_status=400).count() == 4


def test_unknown_status_value_is_acknowledged_and_logged(provider: ProviderConfig) -> None:
    assert post(provider, "status", _status("deleted", timezone.now())).status_code == 200
    assert CallbackLog.objects.filter(response_status=200, note="status ignored").exists()


def test_signature_rules(signed_provider: ProviderConfig) -> None:
    payload = load("v0.1-status-delivered.json")
    body = json.dumps(payload).encode()
    assert post(signed_provider, "status", payload).status_code == 401
    assert (
        post(
            signed_provider, "status", payload, HTTP_AUTHORIZATION=sign(body, "wrong-secret-0123456789-abcdefghijkl")
        ).status_code
        == 401
    )
    other = sign(b'{"other": 1}', SECRET)
    assert post(signed_provider, "status", payload, HTTP_AUTHORIZATION=other).status_code == 401
    stale = sign(body, SECRET, iat=time.time() - 3600)
    assert post(signed_provider, "status", payload, HTTP_AUTHORIZATION=stale).status_code == 401
    assert post(signed_provider, "status", payload, HTTP_AUTHORIZATION="Bearer x.y.z").status_code == 401
    assert post(signed_provider, "status", payload, secret=SECRET).status_code == 200
    assert CallbackLog.objects.filter(response_status=401).count() == 5


def test_regenerated_token_retires_the_old_urls(provider: ProviderConfig) -> None:
    from providers.services import provider_callback_token_regenerate

    old = provider.callback_token
    assert post(provider, "status", _status("delivered", timezone.now())).status_code == 200
    provider_callback_token_regenerate(provider=provider)
    response = Client().post(f"/callbacks/nexmo/{old}/status/", b"{}", content_type="application/json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "raw",
    [
        b'{"message_uuid": "a\x00b", "status": "delivered"',  # a raw NUL in a body that is not JSON
        b"\x00\x00\x00",
        b'{"message_uuid": "a\\u0000b", "to": {"type": "whatsapp", "number": "1"}, "timestamp": "x", "status": 1}',
    ],
)
@pytest.mark.parametrize("kind", ["status", "inbound"])
def test_a_body_with_nul_characters_is_a_400_never_a_500(provider: ProviderConfig, kind: str, raw: bytes) -> None:
    response = Client().post(
        f"/callbacks/nexmo/{provider.callback_token}/{kind}/", data=raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert CallbackLog.objects.filter(response_status=400).count() == 1


def test_a_status_racing_the_send_answer_is_still_applied(
    provider: ProviderConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's uuid lands between the callback's update by uuid and its update by client_ref."""
    from providers.messaging import statuses

    message = message_for(provider, uuid=None, client_ref="race-1", status="sending")
    real_update = statuses._status_update
    calls: list[str | None] = []

    def answer_lands_after_first_try(where: str, params: Any, event: Any) -> str | None:
        changed = real_update(where, params, event)
        if not calls:
            Message.objects.filter(pk=message.pk).update(message_uuid="uuid-race", status="submitted")
        calls.append(changed)
        return changed

    monkeypatch.setattr(statuses, "_status_update", answer_lands_after_first_try)

    response = post(provider, "status", _status("delivered", timezone.now(), uuid="uuid-race", client_ref="race-1"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at is not None


@pytest.mark.parametrize("price", ["1e-999999", "1e999999", "NaN", "-Infinity", "12345678901", "abc"])
def test_an_odd_price_is_dropped_and_the_status_still_stored(provider: ProviderConfig, price: str) -> None:
    delivered = load("v0.1-status-delivered.json") | {"usage": {"currency": "EUR", "price": price}}
    message = message_for(provider, uuid=delivered["message_uuid"], client_ref="r1")
    assert post(provider, "status", delivered).status_code == 200
    message.refresh_from_db()
    assert message.status == "delivered" and message.price is None


def test_a_v01_reply_keeps_its_context_and_the_api_shows_the_reply(provider: ProviderConfig, staff_api: Any) -> None:
    payload = load("v0.1-inbound-button.json") | {"context": {"message_uuid": "sent-uuid-1"}}
    payload["message"] = {"content": {"type": "reply", "reply": {"id": "no", "title": "No"}}}
    assert post(provider, "inbound", payload).status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.content_type, inbound.reply_id, inbound.reply_title) == ("reply", "no", "No")
    assert inbound.context_message_uuid == "sent-uuid-1"
    listed = staff_api.get("/api/v1/inbound-messages/", {"context_message_uuid": "sent-uuid-1"}).json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert (row["reply_id"], row["reply_title"], row["context_message_uuid"]) == ("no", "No", "sent-uuid-1")


def test_the_contact_timeline_says_which_message_a_reply_answers(provider: ProviderConfig) -> None:
    from providers.selectors import contact_timeline

    payload = load("v1-inbound-reply.json")
    contact = Contact.objects.create(phone="+" + payload["from"], name="Jane")
    message_make(
        provider=provider,
        contact=contact,
        origin="journey",
        content_type="interactive",
        content_summary="Which time suits you?\n[9am] [10am]",
        message_uuid=payload["context"]["message_uuid"],
    )
    post(provider, "inbound", payload)
    received = [item for item in contact_timeline(contact)["messages"] if item["inbound"]]
    assert received[0]["summary"] == "Tapped “Tue 10:30”"
    assert received[0]["in_reply_to"].startswith("Which time suits you?")
