"""The issue's journey built in a real browser: on signup → welcome template → wait up to a day for the quick reply
"Yes" → yes: coupon template, timeout: exit. Nexmo is the in-process simulator, whose callbacks and the customer's
tap reach the live server, so the coupon is sent by the reply and delivered by the simulator's status callbacks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from contacts.models import Contact
from contacts.services import event_record
from journeys.models import Journey, JourneyStatus
from providers.models import Message, ProviderConfig
from providers.simulator import SimulatorConfig, run_in_thread
from templates_app.models import Template
from tests.providers.factories import rsa_pem

pytestmark = pytest.mark.django_db(transaction=True)


def _closing(work: Callable[[], Any]) -> Callable[[], None]:
    """Run `work` in a thread of its own, closing that thread's database connection afterwards."""

    def run() -> None:
        from django.db import connection

        try:
            work()
        finally:
            connection.close()

    return run


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def add_node(page: Any, kind: str, fields: dict[str, str], selects: dict[str, str]) -> None:
    page.select_option("#add-node select[name=type]", kind)
    page.click("#add-node button")
    for name, value in fields.items():
        page.fill(f"[name={name}]", value)
    for name, value in selects.items():
        page.select_option(f"select[name={name}]", value)
    page.click("button:has-text('Save node')")
    page.wait_for_selector(".flash-success")


def test_build_publish_and_run_the_welcome_coupon_journey(
    page: Any, login: Any, marketer_user: Any, live_server: Any
) -> None:
    simulator = run_in_thread(SimulatorConfig(load_channels_from_db=True, callback_base=live_server.url), seed=3)
    try:
        provider = ProviderConfig.objects.create(
            nickname="Main",
            phone_number="+447700900000",
            application_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
            private_key=rsa_pem(),
            api_base_url=simulator.base_url,
            whatsapp_namespace="acme",
        )
        button = [{"type": "quick_reply", "text": "Yes", "payload": "YES"}]
        welcome = Template.objects.create(
            provider=provider,
            name="welcome",
            language="en_GB",
            status="approved",
            body="Welcome! Want a coupon?",
            buttons=button,
        )
        coupon = Template.objects.create(
            provider=provider, name="coupon", language="en_GB", status="approved", body="Here is your coupon: SAVE10"
        )
        contact = Contact.objects.create(phone="+447700900123", name="Ann")

        login(marketer_user, "pw-teammate-123")
        page.goto("/journeys/")
        page.click("text=+ New journey")
        page.fill("input[name=name]", "Welcome coupon")
        page.select_option("select[name=trigger_type]", "event")
        page.fill("input[name=trigger_event]", "signup")
        page.click("button:has-text('Save')")
        page.wait_for_selector("#journey-graph")
        journey = Journey.objects.get()

        add_node(page, "exit", {"id": "end"}, {})
        add_node(page, "send_template", {"id": "coupon"}, {"template": str(coupon.pk), "next": "end"})
        add_node(page, "send_template", {"id": "welcome"}, {"template": str(welcome.pk)})
        add_node(
            page,
            "wait_for_reply",
            {"id": "answer", "payload": "YES", "timeout_seconds": "86400"},
            {"message_node": "welcome", "next": "coupon", "timeout_next": "end"},
        )
        page.click("#node-table a:text-is('welcome')")
        page.select_option("select[name=next]", "answer")
        page.click("button:has-text('Save node')")
        page.wait_for_selector(".flash-success")
        assert "Unreachable" in page.inner_text("#checks")  # the entry node is still "end"
        page.click(".page-head a:text-is('Settings')")
        page.select_option("select[name=entry_node]", "welcome")
        page.click("button:has-text('Save')")
        page.wait_for_selector("text=All checks pass")
        assert page.locator("#journey-graph [data-node]").count() == 4
        page.click("button:has-text('Publish')")
        page.wait_for_selector("#journey-status:text-is('live')")
        journey.refresh_from_db()
        assert journey.status == JourneyStatus.LIVE and journey.current_version is not None

        # Recorded as the events API or a worker would, off this thread (Playwright's event loop runs here, and the
        # outbox sends through an asyncio client of its own).
        recorder = threading.Thread(target=_closing(lambda: event_record(contact=contact, name="signup")))
        recorder.start()
        recorder.join(timeout=60)
        sent = eventually(
            lambda: Message.objects.filter(origin_ref__contains=":welcome:").exclude(message_uuid=None).first()
        )
        simulator.customer(tap=sent.message_uuid)
        coupon_message = eventually(
            lambda: Message.objects.filter(origin_ref__contains=":coupon:", status__in=["delivered", "read"]).first()
        )
        assert coupon_message.to == contact.phone
        assert Message.objects.count() == 2

        page.goto(f"/journeys/{journey.pk}/")
        row = page.locator("#node-table tr[data-node=coupon]")
        assert row.locator("td[data-stat=entered]").inner_text() == "1"
        assert row.locator("td[data-stat=sent]").inner_text() == "1"
        assert row.locator("td[data-stat=delivered]").inner_text() == "1"
        assert page.locator("#node-table tr[data-node=answer] td[data-stat=replied]").inner_text() == "1"
        assert page.locator("#node-table tr[data-node=end] td[data-stat=exited]").inner_text() == "1"
        assert "sent 1" in (page.locator("#journey-graph [data-node=coupon]").text_content() or "")
    finally:
        simulator.stop()
