"""`/api/v1/conversations/`: the shared inbox's list, thread, replies (through the outbox), assignment, notes, and
every bad input the issue names answered 400 with nothing sent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Consent
from conversations.models import Conversation, ConversationStatus, Note
from providers.content import TextContent
from providers.messaging import outbox
from providers.messaging.sending import message_prepare
from providers.models import Message, MessageStatus, Origin, ProviderConfig
from tests.conversations.factories import conversation_of, customer_writes
from tests.journeys.factories import template_make
from tests.providers.factories import FakeNexmo, contact_make, provider_make

pytestmark = pytest.mark.django_db
URL = "/api/v1/conversations/"


@pytest.fixture
def provider() -> ProviderConfig:
    return provider_make()


def _conversation(provider: ProviderConfig, phone: str = "+447700900101", **contact: Any) -> Conversation:
    person = contact_make(phone=phone, **contact)
    customer_writes(provider, phone, "Hi, is my order on its way?")
    return conversation_of(provider, person)


def _reply(api: APIClient, conversation: Conversation, body: dict[str, Any], capture: Any) -> Any:
    with capture(execute=True):
        return api.post(f"{URL}{conversation.pk}/reply/", body, format="json")


# --- opening -------------------------------------------------------------------------------------------------


def test_an_inbound_message_opens_a_conversation_unread_and_a_closed_one_reopens(provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    assert conversation.status == ConversationStatus.OPEN and conversation.unread_count == 1
    assert conversation.last_message_text == "Hi, is my order on its way?"
    conversation.status = ConversationStatus.CLOSED
    conversation.save()

    customer_writes(provider, conversation.contact.phone, "Hello again")

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN and conversation.unread_count == 2
    assert Conversation.objects.count() == 1


def test_our_own_sends_do_not_open_a_conversation(provider: ProviderConfig) -> None:
    contact = contact_make(last_inbound_at=timezone.now())
    message_prepare(
        provider=provider,
        to=contact.phone,
        content=TextContent(text="Hi"),
        origin=Origin.TEST,
        origin_ref="t",
        contact=contact,
    )
    assert not Conversation.objects.exists()


# --- list and detail ------------------------------------------------------------------------------------------


def test_the_list_has_the_contract_fields(marketer_api: APIClient, provider: ProviderConfig) -> None:
    conversation = _conversation(provider, name="Ann Lee")
    answer = marketer_api.get(URL)
    assert answer.status_code == 200 and answer.json()["count"] == 1
    row = answer.json()["results"][0]
    assert row["id"] == conversation.pk and row["provider"] == provider.pk
    assert row["contact"] == {"id": conversation.contact_id, "name": "Ann Lee", "phone": "+447700900101"}
    assert row["status"] == "open" and row["assignee"] is None and row["unread_count"] == 1
    assert conversation.contact.last_inbound_at is not None
    expires = conversation.contact.last_inbound_at + timedelta(hours=24)
    assert row["window_expires_at"].replace("Z", "+00:00")[:19] == expires.isoformat()[:19]
    assert marketer_api.get(f"{URL}{conversation.pk}/").json()["id"] == conversation.pk


def test_the_list_filters(marketer_api: APIClient, marketer_user: Any, staff_user: Any) -> None:
    first, second = provider_make(), provider_make()
    mine = _conversation(first, "+447700900101", name="Ann Lee")
    theirs = _conversation(first, "+447700900102", name="Bob Ray")
    unassigned = _conversation(second, "+447700900103", name="Cy Doe")
    closed = _conversation(second, "+447700900104", name="Di Fox")
    Conversation.objects.filter(pk=mine.pk).update(assignee=marketer_user, unread_count=0)
    Conversation.objects.filter(pk=theirs.pk).update(assignee=staff_user)
    Conversation.objects.filter(pk=closed.pk).update(status="closed")

    def ids(query: str) -> set[int]:
        answer = marketer_api.get(f"{URL}?{query}")
        assert answer.status_code == 200, answer.content
        return {row["id"] for row in answer.json()["results"]}

    assert ids("status=open") == {mine.pk, theirs.pk, unassigned.pk}
    assert ids("status=closed") == {closed.pk}
    assert ids("assignee=me") == {mine.pk}
    assert ids("assignee=none") == {unassigned.pk, closed.pk}
    assert ids(f"assignee={staff_user.pk}") == {theirs.pk}
    assert ids("unread=true") == {theirs.pk, unassigned.pk, closed.pk}
    assert ids(f"provider={second.pk}") == {unassigned.pk, closed.pk}
    assert ids("search=bob") == {theirs.pk}
    assert ids("search=7700 900103") == {unassigned.pk}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=pending", "status"),
        ("assignee=someone", "assignee"),
        ("unread=maybe", "unread"),
        ("provider=x", "provider"),
        ("assignee=-1", "assignee"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(marketer_api: APIClient, query: str, field: str) -> None:
    answer = marketer_api.get(f"{URL}?{query}")
    assert answer.status_code == 400 and field in answer.json()


def test_without_a_role_the_inbox_is_refused(outsider_api: APIClient, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    assert outsider_api.get(URL).status_code == 403
    assert outsider_api.post(f"{URL}{conversation.pk}/close/").status_code == 403


# --- the thread ----------------------------------------------------------------------------------------------


def test_the_thread_lists_inbound_and_outbound_in_time_order(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    _reply(marketer_api, conversation, {"text": "Yes, tomorrow."}, django_capture_on_commit_callbacks)
    customer_writes(
        provider, conversation.contact.phone, content={"type": "button", "button": {"payload": "OK", "text": "Thanks!"}}
    )

    answer = marketer_api.get(f"{URL}{conversation.pk}/messages/")

    assert answer.status_code == 200 and answer.json()["count"] == 3
    rows = answer.json()["results"]
    assert [(r["direction"], r["type"], r["text"]) for r in rows] == [
        ("in", "text", "Hi, is my order on its way?"),
        ("out", "text", "Yes, tomorrow."),
        ("in", "button", "Tapped “Thanks!”"),
    ]
    assert rows[1]["status"] == "submitted" and rows[0]["status"] == ""
    assert all(r["created_at"] for r in rows)


# --- replies -------------------------------------------------------------------------------------------------


def test_a_text_reply_inside_the_window_goes_through_the_outbox(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)

    answer = _reply(marketer_api, conversation, {"text": "Yes, tomorrow."}, django_capture_on_commit_callbacks)

    assert answer.status_code == 201, answer.content
    message = Message.objects.get(pk=answer.json()["message"]["id"])
    assert message.origin == Origin.INBOX and message.status == MessageStatus.SUBMITTED
    assert nexmo.bodies()[0]["message"]["content"] == {"type": "text", "text": "Yes, tomorrow."}
    conversation.refresh_from_db()
    assert conversation.unread_count == 0 and conversation.last_message_text == "Yes, tomorrow."


def test_free_text_outside_the_window_is_refused_saying_a_template_is_needed(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    conversation.contact.__class__.objects.filter(pk=conversation.contact_id).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )

    answer = _reply(marketer_api, conversation, {"text": "Still there?"}, django_capture_on_commit_callbacks)

    assert answer.status_code == 400
    reason = answer.json()["text"][0]
    assert "24 hours" in reason and "template" in reason
    assert not Message.objects.exists() and not nexmo.requests


def test_a_template_reply_with_parameters_is_sent_once_the_window_has_closed(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    conversation.contact.__class__.objects.filter(pk=conversation.contact_id).update(last_inbound_at=None)
    template = template_make(provider, name="order_update", body="Hi {{1}}, your order ships {{2}}.")

    answer = _reply(
        marketer_api,
        conversation,
        {"template": template.pk, "parameters": {"1": "Ann", "2": "today"}},
        django_capture_on_commit_callbacks,
    )

    assert answer.status_code == 201, answer.content
    sent = nexmo.bodies()[0]["message"]["content"]
    assert sent["type"] == "template" and sent["template"]["parameters"] == ["Ann", "today"]
    rows = marketer_api.get(f"{URL}{conversation.pk}/messages/").json()["results"]
    assert rows[-1]["type"] == "template" and rows[-1]["template_name"] == "order_update"
    assert rows[-1]["text"] == "Hi Ann, your order ships today."


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("empty", "text"),
        ("blank", "text"),
        ("nothing", "text"),
        ("both", "text"),
        ("other_number", "template"),
        ("not_approved", "template"),
        ("missing_parameter", "parameters"),
        ("unknown_template", "template"),
        ("parameters_not_object", "parameters"),
    ],
)
def test_bad_replies_are_400_with_the_reason_and_nothing_sent(
    marketer_api: APIClient,
    provider: ProviderConfig,
    nexmo: FakeNexmo,
    django_capture_on_commit_callbacks: Any,
    case: str,
    field: str,
) -> None:
    conversation = _conversation(provider)
    ours = template_make(provider, name="order_update", body="Hi {{1}}.")
    elsewhere = template_make(provider_make(), name="other_update", body="Hi.")
    draft = template_make(provider, name="draft_update", body="Hi.", status="draft")
    bodies: dict[str, Any] = {
        "empty": {"text": ""},
        "blank": {"text": "   \n "},
        "nothing": {},
        "both": {"text": "Hi", "template": ours.pk, "parameters": {"1": "Ann"}},
        "other_number": {"template": elsewhere.pk},
        "not_approved": {"template": draft.pk},
        "missing_parameter": {"template": ours.pk, "parameters": {}},
        "unknown_template": {"template": 999999},
        "parameters_not_object": {"template": ours.pk, "parameters": ["Ann"]},
    }
    body = bodies[case]

    answer = _reply(marketer_api, conversation, body, django_capture_on_commit_callbacks)

    assert answer.status_code == 400, answer.content
    assert field in answer.json() and answer.json()[field]
    assert not Message.objects.exists() and not nexmo.requests


def test_a_reply_to_an_opted_out_contact_is_refused(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    conversation.contact.__class__.objects.filter(pk=conversation.contact_id).update(
        whatsapp_consent=Consent.UNSUBSCRIBED
    )

    answer = _reply(marketer_api, conversation, {"text": "Hello?"}, django_capture_on_commit_callbacks)

    assert answer.status_code == 400 and "opted out" in answer.json()["contact"][0]
    assert not Message.objects.exists() and not nexmo.requests


def test_a_reply_to_a_closed_conversation_reopens_it(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    marketer_api.post(f"{URL}{conversation.pk}/close/")

    answer = _reply(marketer_api, conversation, {"text": "One more thing"}, django_capture_on_commit_callbacks)

    assert answer.status_code == 201
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.OPEN and conversation.closed_at is None


def test_two_people_replying_at_once_both_send_in_order(
    marketer_api: APIClient,
    staff_api: APIClient,
    provider: ProviderConfig,
    nexmo: FakeNexmo,
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = _conversation(provider)
    first = marketer_api.post(f"{URL}{conversation.pk}/reply/", {"text": "I'll check."}, format="json")
    second = staff_api.post(f"{URL}{conversation.pk}/reply/", {"text": "I'll check."}, format="json")
    assert first.status_code == second.status_code == 201

    outbox.outbox_send(provider_id=provider.pk)

    assert first.json()["message"]["id"] < second.json()["message"]["id"]
    assert [json.loads(r.content)["client_ref"] for r in nexmo.requests] == [
        first.json()["message"]["client_ref"],
        second.json()["message"]["client_ref"],
    ]


# --- assign, close, reopen, notes -------------------------------------------------------------------------------


def test_assign_unassign_close_and_reopen(
    marketer_api: APIClient, marketer_user: Any, provider: ProviderConfig
) -> None:
    conversation = _conversation(provider)
    base = f"{URL}{conversation.pk}"

    assigned = marketer_api.post(f"{base}/assign/", {"user": marketer_user.pk}, format="json")
    assert assigned.status_code == 200 and assigned.json()["assignee"] == marketer_user.pk
    unassigned = marketer_api.post(f"{base}/assign/", {"user": None}, format="json")
    assert unassigned.status_code == 200 and unassigned.json()["assignee"] is None
    closed = marketer_api.post(f"{base}/close/")
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["closed_at"]
    reopened = marketer_api.post(f"{base}/reopen/")
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"


@pytest.mark.parametrize("body", [{"user": 999999}, {"user": "me"}, {}])
def test_assigning_to_nobody_known_is_a_400(marketer_api: APIClient, provider: ProviderConfig, body: Any) -> None:
    conversation = _conversation(provider)
    answer = marketer_api.post(f"{URL}{conversation.pk}/assign/", body, format="json")
    assert answer.status_code == 400 and "user" in answer.json()


def test_notes_are_kept_and_an_empty_one_is_refused(
    marketer_api: APIClient, marketer_user: Any, provider: ProviderConfig
) -> None:
    conversation = _conversation(provider)
    added = marketer_api.post(f"{URL}{conversation.pk}/notes/", {"text": "VIP: refund approved"}, format="json")
    assert added.status_code == 201 and added.json()["author"] == marketer_user.pk
    for body in ({"text": ""}, {"text": "   "}, {}):
        refused = marketer_api.post(f"{URL}{conversation.pk}/notes/", body, format="json")
        assert refused.status_code == 400 and "text" in refused.json()
    assert list(Note.objects.values_list("text", flat=True)) == ["VIP: refund approved"]


def test_an_unknown_conversation_is_a_404(marketer_api: APIClient) -> None:
    assert marketer_api.get(f"{URL}999999/messages/").status_code == 404
    assert marketer_api.post(f"{URL}999999/reply/", {"text": "x"}, format="json").status_code == 404


def test_the_thread_says_what_media_and_locations_are(marketer_api: APIClient, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    phone = conversation.contact.phone
    customer_writes(
        provider, phone, content={"type": "image", "image": {"url": "https://example.com/a.jpg", "caption": "The box"}}
    )
    customer_writes(
        provider, phone, content={"type": "location", "location": {"lat": 51.5, "long": -0.12, "name": "Depot"}}
    )

    rows = marketer_api.get(f"{URL}{conversation.pk}/messages/").json()["results"]

    assert [(r["type"], r["text"], r["media_url"]) for r in rows[1:]] == [
        ("image", "The box", "https://example.com/a.jpg"),
        ("location", "Location: Depot (51.5, -0.12)", ""),
    ]


def test_the_latest_page_of_a_long_thread(marketer_api: APIClient, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    for n in range(60):
        customer_writes(
            provider, conversation.contact.phone, f"Message {n}", at=timezone.now() - timedelta(minutes=60 - n)
        )
    last = marketer_api.get(f"{URL}{conversation.pk}/messages/?page=last").json()
    assert last["count"] == 61 and last["next"] is None
    assert [r["text"] for r in last["results"]][-2:] == ["Message 59", "Hi, is my order on its way?"]


# --- reply buttons (interactive messages) ----------------------------------------------------------------------


def test_a_reply_with_buttons_is_sent_as_an_interactive_message(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    body = {
        "text": "Shall we deliver tomorrow?",
        "buttons": [{"title": "Yes please"}, {"id": "later", "title": "Later"}],
    }

    answer = _reply(marketer_api, conversation, body, django_capture_on_commit_callbacks)

    assert answer.status_code == 201, answer.content
    custom = nexmo.bodies()[0]["message"]["content"]["custom"]
    assert custom["interactive"]["body"] == {"text": "Shall we deliver tomorrow?"}
    assert [b["reply"] for b in custom["interactive"]["action"]["buttons"]] == [
        {"id": "YES_PLEASE", "title": "Yes please"},
        {"id": "later", "title": "Later"},
    ]
    assert Message.objects.get().content_type == "interactive"
    conversation.refresh_from_db()
    assert conversation.last_message_text == "Shall we deliver tomorrow? [Yes please] [Later]"
    thread = marketer_api.get(f"{URL}{conversation.pk}/messages/", {"page": "last"}).json()["results"]
    sent = [m for m in thread if m["direction"] == "out"]
    assert (sent[0]["text"], sent[0]["options"], sent[0]["error"]) == (
        "Shall we deliver tomorrow?",
        ["Yes please", "Later"],
        "",
    )


@pytest.mark.parametrize(
    ("buttons", "field", "words"),
    [
        ([{"title": f"Option {n}"} for n in range(4)], "buttons", "at most 3"),
        ([{"title": "A title longer than twenty"}], "buttons", "At most 20"),
        ([{"title": "Yes"}, {"title": "yes"}], "buttons", "each must be different"),
    ],
)
def test_reply_buttons_over_whatsapps_limits_are_a_400_and_nothing_is_sent(
    marketer_api: APIClient,
    provider: ProviderConfig,
    nexmo: FakeNexmo,
    django_capture_on_commit_callbacks: Any,
    buttons: list[dict[str, str]],
    field: str,
    words: str,
) -> None:
    conversation = _conversation(provider)
    answer = _reply(
        marketer_api, conversation, {"text": "Pick one", "buttons": buttons}, django_capture_on_commit_callbacks
    )
    assert answer.status_code == 400
    assert any(words in problem for problem in answer.json()[field]), answer.json()
    assert not Message.objects.exists() and not nexmo.requests


def test_reply_buttons_outside_the_window_are_refused_like_free_text(
    marketer_api: APIClient, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    conversation.contact.__class__.objects.filter(pk=conversation.contact_id).update(
        last_inbound_at=timezone.now() - timedelta(hours=25)
    )
    body = {"text": "Still keen?", "buttons": [{"title": "Yes"}]}
    answer = _reply(marketer_api, conversation, body, django_capture_on_commit_callbacks)
    assert answer.status_code == 400 and "template" in answer.json()["text"][0]
    assert not Message.objects.exists() and not nexmo.requests
