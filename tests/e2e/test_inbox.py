"""The shared inbox in a real browser, Nexmo being the in-process simulator whose callbacks reach the live server: a
customer writes through the simulator (`/_sim/customer`), the conversation appears unread without a reload, an agent
assigns it to themselves, answers in text and sees the ticks turn to read; once the 24-hour window has passed (the
contact's last inbound moved back a day), the composer offers approved templates only and the template reply reaches
the simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from contacts.models import Contact
from conversations.models import Conversation
from providers.simulator.runner import customer_request
from templates_app.models import Template
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_journeys import eventually
from tests.simulated import simulated_provider

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMER = "+447700900777"


def test_an_agent_takes_over_answers_in_text_then_with_a_template_once_the_window_closed(
    page: Any, login: Any, marketer_user: Any, live_server: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    with simulated_provider(api_version="v1", nickname="Support line") as (provider, simulator):
        Template.objects.create(
            provider=provider,
            name="order_update",
            language="en_GB",
            category="utility",
            status="approved",
            body="Hi {{1}}, your order ships today.",
        )
        login(marketer_user, "pw-teammate-123")
        page.goto("/inbox/")
        page.wait_for_selector("text=No conversations here")

        # The customer writes; the open list shows it, unread, without a reload.
        status, _ = customer_request(
            simulator.base_url,
            {"from": CUSTOMER.lstrip("+"), "to": provider.phone_number.lstrip("+"), "text": "Hi, where is my order?"},
        )
        assert status == 200
        row = page.wait_for_selector(".inbox-row.unread:has-text('Hi, where is my order?')")
        assert row.query_selector("[data-testid=unread-count]").inner_text() == "1"
        page.wait_for_selector("[data-testid=inbox-badge]:has-text('1')")
        assert "Window: 23 h" in row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "inbox-list.png"), full_page=True)

        # Opening the thread reads it (and marks it read at Nexmo: the simulator counts the PATCH).
        row.click()
        page.wait_for_selector("[data-testid=thread] >> text=Hi, where is my order?")
        eventually(lambda: simulator.counters()["patched"] >= 1)
        page.click("button:has-text('Assign to me')")
        page.wait_for_selector("[data-testid=assignee]:has-text('you')")
        assert Conversation.objects.get().assignee_id == marketer_user.pk

        # A text reply inside the window: sent through the outbox, ticks follow the simulator's statuses.
        page.fill("textarea[placeholder='Write a reply…']", "It ships today, Ann.")
        page.click("button:has-text('Send')")
        page.wait_for_selector(".bubble.out:has-text('It ships today, Ann.')")
        page.wait_for_selector(".bubble.out .ticks.read", timeout=20_000)
        sent = simulator.messages(to=CUSTOMER.lstrip("+"))
        assert [m["text"] for m in sent] == ["It ships today, Ann."]
        page.screenshot(path=str(ARTIFACTS / "inbox-thread.png"), full_page=True)

        # A day later the window has closed: templates only, with their values and a preview.
        Contact.objects.filter(phone=CUSTOMER).update(last_inbound_at=timezone.now() - timedelta(hours=25))
        page.reload()
        page.wait_for_selector("[data-testid=window-closed]")
        assert page.query_selector("textarea[placeholder='Write a reply…']") is None
        page.select_option("select[name=template]", label="order_update (en_GB)")
        page.wait_for_selector("input[name=p_1]")
        page.fill("input[name=p_1]", "Ann")
        page.wait_for_selector("[data-testid=preview]:has-text('Hi Ann, your order ships today.')")
        page.screenshot(path=str(ARTIFACTS / "inbox-template.png"), full_page=True)
        page.click("button:has-text('Send template')")
        page.wait_for_selector(".bubble.out:has-text('Hi Ann, your order ships today.')")

        page.fill("textarea[placeholder='Only your team sees notes']", "Promised delivery today; check tomorrow.")
        page.click("button:has-text('Add note')")
        page.wait_for_selector("[data-testid=note]:has-text('Promised delivery today')")
        page.screenshot(path=str(ARTIFACTS / "inbox-thread-final.png"), full_page=True)

        templates = eventually(
            lambda: [m for m in simulator.messages(to=CUSTOMER.lstrip("+")) if m["message_type"] == "template"]
        )
        assert templates[0]["template_name"].endswith("order_update")


def test_an_agent_sends_reply_buttons_and_sees_which_one_the_customer_tapped(
    page: Any, login: Any, marketer_user: Any, live_server: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    with simulated_provider(api_version="v1", nickname="Support line") as (provider, simulator):
        login(marketer_user, "pw-teammate-123")
        status, _ = customer_request(
            simulator.base_url,
            {"from": CUSTOMER.lstrip("+"), "to": provider.phone_number.lstrip("+"), "text": "Can you deliver?"},
        )
        assert status == 200
        conversation = eventually(lambda: Conversation.objects.first())
        page.goto(f"/inbox/{conversation.pk}/")
        page.click("summary:has-text('Add reply buttons')")
        page.fill("textarea[placeholder='Write a reply…']", "Which day suits you?")
        page.fill("input[name=button_1]", "Monday")
        page.fill("input[name=button_2]", "Tuesday")
        page.screenshot(path=str(ARTIFACTS / "inbox-buttons-compose.png"), full_page=True)
        page.click("button:has-text('Send')")
        page.wait_for_selector(".bubble.out .bubble-options li:text-is('Tuesday')")
        sent = eventually(lambda: [m for m in simulator.messages(to=CUSTOMER.lstrip("+")) if m["buttons"]])
        assert [b["text"] for b in sent[0]["buttons"]] == ["Monday", "Tuesday"]

        # The customer taps "Tuesday" on their phone: the thread shows it without a reload.
        simulator.customer(tap=sent[0]["message_uuid"], index=1)
        page.wait_for_selector(".bubble.in:has-text('Tapped “Tuesday”')")
        page.screenshot(path=str(ARTIFACTS / "inbox-buttons-tapped.png"), full_page=True)
