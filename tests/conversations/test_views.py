"""`/inbox/` screens: the list and its tabs, the thread (marks read), the composer (text inside the window, approved
templates with their values outside it), notes, assignment, close/reopen, the polled fragments and the badge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from contacts.models import Contact
from conversations.models import Conversation, Note
from providers.models import Message, Origin, ProviderConfig
from tests.conversations.factories import conversation_of, customer_writes
from tests.journeys.factories import template_make
from tests.providers.factories import FakeNexmo, contact_make, provider_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client: Client, marketer_user: Any) -> Client:
    client.force_login(marketer_user)
    return client


@pytest.fixture
def provider() -> ProviderConfig:
    return provider_make(nickname="Support line")


def _conversation(provider: ProviderConfig, phone: str = "+447700900301", name: str = "Ann Lee") -> Conversation:
    contact = contact_make(phone=phone, name=name)
    customer_writes(provider, phone, "Where is my parcel?")
    return conversation_of(provider, contact)


def test_the_inbox_lists_conversations_with_window_and_unread_and_the_nav_has_a_badge(
    marketer: Client, provider: ProviderConfig
) -> None:
    _conversation(provider)
    page = marketer.get("/inbox/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ann Lee" in html and "Where is my parcel?" in html
    assert "Window: 23 h" in html
    assert 'data-testid="unread-count"' in html
    assert 'data-testid="inbox-badge" >1<' in html or 'data-testid="inbox-badge">1<' in html


def test_the_tabs_and_search_filter_the_list(marketer: Client, marketer_user: Any, provider: ProviderConfig) -> None:
    ann = _conversation(provider)
    _conversation(provider, "+447700900302", "Bob Ray")
    Conversation.objects.filter(pk=ann.pk).update(assignee=marketer_user)
    mine = marketer.get("/inbox/?view=mine").content.decode()
    assert "Ann Lee" in mine and "Bob Ray" not in mine
    unassigned = marketer.get("/inbox/?view=unassigned").content.decode()
    assert "Bob Ray" in unassigned and "Ann Lee" not in unassigned
    found = marketer.get("/inbox/?view=all&search=bob").content.decode()
    assert "Bob Ray" in found and "Ann Lee" not in found
    assert "No conversations here" in marketer.get("/inbox/?view=closed").content.decode()


def test_the_list_fragment_answers_rows_and_the_unread_count(marketer: Client, provider: ProviderConfig) -> None:
    _conversation(provider)
    data = marketer.get("/inbox/rows/?view=open").json()
    assert data["unread"] == 1 and "Ann Lee" in data["html"]


def test_opening_the_thread_shows_messages_and_marks_them_read(
    marketer: Client, provider: ProviderConfig, nexmo: FakeNexmo
) -> None:
    conversation = _conversation(provider)
    page = marketer.get(f"/inbox/{conversation.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "Where is my parcel?" in html
    assert "Free text is allowed" in html and 'name="text"' in html
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    data = marketer.get(f"/inbox/{conversation.pk}/messages/").json()
    assert "Where is my parcel?" in data["html"]


def test_a_text_reply_from_the_composer_is_queued_and_shown(
    marketer: Client, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    with django_capture_on_commit_callbacks(execute=True):
        answer = marketer.post(f"/inbox/{conversation.pk}/reply/", {"text": "Out for delivery today."})
    assert answer.status_code == 302
    assert Message.objects.get(origin=Origin.INBOX).content_summary == "Out for delivery today."
    html = marketer.get(f"/inbox/{conversation.pk}/").content.decode()
    assert "Out for delivery today." in html and 'data-status="submitted"' in html


def test_an_empty_reply_shows_the_reason_and_sends_nothing(marketer: Client, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    answer = marketer.post(f"/inbox/{conversation.pk}/reply/", {"text": ""})
    assert answer.status_code == 400 and "The reply is empty" in answer.content.decode()
    assert not Message.objects.exists()


def test_outside_the_window_the_composer_offers_approved_templates_with_their_values(
    marketer: Client, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    Contact.objects.filter(pk=conversation.contact_id).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    approved = template_make(provider, name="order_update", body="Hi {{1}}, your order ships {{2}}.")
    template_make(provider, name="draft_one", status="draft")
    template_make(provider_make(), name="other_number")

    page = marketer.get(f"/inbox/{conversation.pk}/").content.decode()
    assert "window has closed" in page and "Write a reply" not in page
    assert "order_update" in page and "draft_one" not in page and "other_number" not in page

    chosen = marketer.get(f"/inbox/{conversation.pk}/?template={approved.pk}").content.decode()
    assert 'name="p_1"' in chosen and 'name="p_2"' in chosen and "data-wa-screen" in chosen

    missing = marketer.post(f"/inbox/{conversation.pk}/reply/", {"template": approved.pk, "p_1": "Ann"})
    assert missing.status_code == 400 and not Message.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sent = marketer.post(
            f"/inbox/{conversation.pk}/reply/", {"template": approved.pk, "p_1": "Ann", "p_2": "today"}
        )
    assert sent.status_code == 302
    assert nexmo.bodies()[0]["message"]["content"]["template"]["parameters"] == ["Ann", "today"]


def test_free_text_posted_outside_the_window_is_refused_on_the_page(marketer: Client, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    Contact.objects.filter(pk=conversation.contact_id).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    answer = marketer.post(f"/inbox/{conversation.pk}/reply/", {"text": "Hello?"})
    assert answer.status_code == 400 and "only allows an approved template" in answer.content.decode()
    assert not Message.objects.exists()


def test_notes_assignment_close_and_reopen(marketer: Client, marketer_user: Any, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    base = f"/inbox/{conversation.pk}"
    assert marketer.post(f"{base}/notes/", {"text": "Refund approved"}).status_code == 302
    assert marketer.post(f"{base}/notes/", {"text": ""}).status_code == 400
    assert list(Note.objects.values_list("text", flat=True)) == ["Refund approved"]
    assert "Refund approved" in marketer.get(f"{base}/").content.decode()

    marketer.post(f"{base}/assign/", {"me": "1"})
    conversation.refresh_from_db()
    assert conversation.assignee == marketer_user
    marketer.post(f"{base}/assign/", {"user": ""})
    conversation.refresh_from_db()
    assert conversation.assignee is None
    marketer.post(f"{base}/close/")
    conversation.refresh_from_db()
    assert conversation.status == "closed"
    marketer.post(f"{base}/reopen/")
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_without_a_role_the_inbox_is_refused(client: Client, outsider_user: Any, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    client.force_login(outsider_user)
    assert client.get("/inbox/").status_code == 403
    assert client.get(f"/inbox/{conversation.pk}/").status_code == 403
    assert client.post(f"/inbox/{conversation.pk}/reply/", {"text": "x"}).status_code == 403


def test_a_failed_reply_shows_why_in_the_thread(marketer: Client, provider: ProviderConfig) -> None:
    conversation = _conversation(provider)
    Message.objects.create(
        provider=provider,
        contact=conversation.contact,
        to=conversation.contact.phone,
        status="rejected",
        client_ref="failed-reply",
        origin=Origin.INBOX,
        origin_ref=f"conversation:{conversation.pk}:x",
        content_type="text",
        content_summary="Are you there?",
        error_code="1340",
        error_reason="Outside the allowed window",
    )
    html = marketer.get(f"/inbox/{conversation.pk}/").content.decode()
    assert "✕ Not delivered" in html and 'data-testid="send-error"' in html and "1340" in html


@pytest.mark.parametrize(
    ("hours_left", "shown"), [(None, "closed"), (-1, "closed"), (0.5, "30 min left"), (5.25, "5 h 15 min left")]
)
def test_the_window_is_said_in_hours_and_minutes(hours_left: float | None, shown: str) -> None:
    from conversations.templatetags.inbox import window_left

    expires = None if hours_left is None else timezone.now() + timedelta(hours=hours_left, seconds=30)
    assert window_left(expires) == shown


def test_how_long_ago_is_said_in_words() -> None:
    from conversations.templatetags.inbox import ago

    assert ago(timezone.now()) == "just now"
    # Django keeps the number with its unit (a no-break space).
    assert ago(timezone.now() - timedelta(hours=2, minutes=5)) == "2\xa0hours ago"


def test_conversations_and_notes_are_in_the_admin(
    client: Client, django_user_model: Any, provider: ProviderConfig
) -> None:
    conversation = _conversation(provider)
    Note.objects.create(conversation=conversation, text="Called back")
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123"))
    assert "Ann Lee" in client.get("/admin/conversations/conversation/").content.decode()
    assert client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").status_code == 200
    assert client.get("/admin/conversations/note/").status_code == 200
    # Assignment and status go through the inbox (which releases held journey sends): read-only here.
    saved = client.post(
        f"/admin/conversations/conversation/{conversation.pk}/change/",
        {
            "contact": conversation.contact_id,
            "provider": conversation.provider_id,
            "status": "closed",
            "assignee": "",
            "notes-TOTAL_FORMS": "1",
            "notes-INITIAL_FORMS": "1",
            "notes-0-id": Note.objects.get().pk,
            "notes-0-conversation": conversation.pk,
            "notes-0-text": "Called back",
        },
    )
    assert saved.status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_the_composer_sends_reply_buttons_and_refuses_a_long_one_on_its_field(
    marketer: Client, provider: ProviderConfig, nexmo: FakeNexmo, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = _conversation(provider)
    assert "Add reply buttons" in marketer.get(f"/inbox/{conversation.pk}/").content.decode()
    too_long = marketer.post(
        f"/inbox/{conversation.pk}/reply/", {"text": "Which day?", "button_1": "Monday morning please!"}
    )
    assert too_long.status_code == 400 and "at most 20 characters" in too_long.content.decode()
    assert not Message.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        sent = marketer.post(
            f"/inbox/{conversation.pk}/reply/", {"text": "Which day?", "button_1": "Monday", "button_3": "Tuesday"}
        )
    assert sent.status_code == 302
    custom = nexmo.bodies()[0]["message"]["content"]["custom"]
    assert [b["reply"]["title"] for b in custom["interactive"]["action"]["buttons"]] == ["Monday", "Tuesday"]
    html = marketer.get(f"/inbox/{conversation.pk}/").content.decode()
    assert '<ul class="bubble-options" aria-label="Reply buttons"><li>Monday</li><li>Tuesday</li></ul>' in html
    assert "[Monday]" not in html  # the options are drawn as buttons, not repeated in brackets
