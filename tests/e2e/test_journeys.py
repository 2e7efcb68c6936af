"""The journey canvas in a real browser: the demo journey built from an empty one with the canvas and its side panels
only (event trigger → template with a mapped variable → wait for the reply → branch on a property → update a
property → exit), published, run for a test profile with "Send a test event" (Nexmo is the in-process simulator, whose
callbacks and the customer's tap reach the live server), the counts moving on the nodes and the path highlighted; and
an invalid journey showing its problems on the nodes they concern. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from contacts.models import Contact
from journeys import services
from journeys.models import Enrollment, Journey, JourneyStatus
from providers.models import Message, ProviderConfig
from providers.simulator import SimulatorConfig, run_in_thread
from templates_app.models import Template
from tests.e2e.conftest import ARTIFACTS
from tests.providers.factories import rsa_pem

pytestmark = pytest.mark.django_db(transaction=True)


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"journey-canvas-{name}.png"), full_page=True)


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def add_step(page: Any, slot: str, kind: str, name: str) -> None:
    """Click an open slot (or the first-step box), pick the kind of step and name it; the panel stays open."""
    page.click(slot)
    page.click(f".type-choice[data-type={kind}]")
    page.wait_for_selector(f"[data-panel-form] input[name=type][value={kind}]", state="attached")
    page.fill("[data-panel-form] input[name=id]", name)


def save_step(page: Any, name: str) -> None:
    page.click("[data-panel-form] button[type=submit]")
    page.wait_for_selector(f".jnode[data-node={name}]")
    page.wait_for_selector(".panel-saved")


def card(page: Any, name: str) -> Any:
    return page.locator(f".jnode[data-node={name}]")


def test_build_the_demo_journey_on_the_canvas_publish_and_send_a_test_event(
    page: Any, login: Any, marketer_user: Any, live_server: Any
) -> None:
    simulator = run_in_thread(SimulatorConfig(load_channels_from_db=True, callback_base=live_server.url), seed=5)
    try:
        provider = ProviderConfig.objects.create(
            nickname="Main",
            phone_number="+447700900000",
            application_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
            private_key=rsa_pem(),
            api_base_url=simulator.base_url,
            whatsapp_namespace="acme",
        )
        Template.objects.create(
            provider=provider,
            name="welcome",
            language="en_GB",
            status="approved",
            body="Hi {{1}}, welcome aboard! Shall we send you tips?",
            buttons=[
                {"type": "quick_reply", "text": "Yes please", "payload": "YES"},
                {"type": "quick_reply", "text": "No thanks", "payload": "NO"},
            ],
        )
        ann = Contact.objects.create(
            phone="+447700900123", name="Ann", is_test_profile=True, properties={"plan": "gold"}
        )

        login(marketer_user, "pw-teammate-123")
        page.goto("/journeys/new/")
        page.fill("input[name=name]", "Welcome tips")
        page.select_option("select[name=trigger_type]", "event")
        page.fill("input[name=trigger_event]", "signup")
        page.click("button:has-text('Save')")
        page.wait_for_selector(".slot-first")
        journey = Journey.objects.get()
        shot(page, "1-empty")

        # Send template, its {{1}} mapped to the contact's name with a fallback; the preview shows the message.
        add_step(page, ".slot-first", "send_template", "welcome")
        page.select_option("[data-panel-form] select[name=template]", label="welcome (en_GB)")
        page.wait_for_selector("[data-testid=template-preview]")
        assert "welcome aboard" in page.inner_text("[data-testid=template-preview]")
        page.select_option("select[name=var_1_source]", "property")
        page.fill("input[name=var_1_name]", "name")
        page.fill("input[name=var_1_fallback]", "there")
        shot(page, "2-template-panel")
        save_step(page, "welcome")
        assert "Start" in card(page, "welcome").inner_text()  # the first step is the entry, shown as such

        # Wait for a reply: its reply options are the awaited template's buttons (given their paths below).
        add_step(page, ".slot-add[data-after=welcome][data-field=next]", "wait_for_reply", "answer")
        page.select_option("[data-panel-form] select[name=message_node]", "welcome")
        page.wait_for_selector("label:has-text('When they choose “Yes please”, go to')")
        assert page.is_visible("label:has-text('When they choose “No thanks”, go to')")
        page.fill("input[name=timeout_amount]", "2")
        page.select_option("select[name=timeout_unit]", "hours")
        save_step(page, "answer")

        # Branch on a property, in words.
        add_step(page, ".slot-add[data-after=answer][data-field=next]", "branch", "is_gold")
        page.fill("input[name=property]", "plan")
        page.select_option("select[name=op]", "eq")
        page.fill("input[name=value]", "gold")
        save_step(page, "is_gold")
        assert "If plan is gold" in card(page, "is_gold").inner_text()

        add_step(page, ".slot-add[data-after=is_gold][data-field=yes]", "update_property", "mark_vip")
        page.fill("input[name=property]", "vip")
        page.fill("input[name=value]", "true")
        save_step(page, "mark_vip")

        add_step(page, ".slot-add[data-after=mark_vip][data-field=next]", "exit", "done")
        save_step(page, "done")
        # Still open: the branch's "no" and the wait's timeout, flagged on their nodes.
        assert "Choose where “no” leads." in card(page, "is_gold").inner_text()
        assert page.locator("#publish").is_disabled()
        shot(page, "3-open-ends")

        # Connect "no" by dragging from the branch's second port onto the exit…
        port = card(page, "is_gold").locator(".jnode-port[data-field=no]").bounding_box()
        target = card(page, "done").bounding_box()
        page.mouse.move(port["x"] + port["width"] / 2, port["y"] + port["height"] / 2)
        page.mouse.down()
        page.mouse.move(target["x"] + 30, target["y"] + 20, steps=8)
        page.mouse.up()
        page.wait_for_selector(".edge-label[data-edge='is_gold:no']")
        # …and the reply options, any other reply and the timeout from the wait's panel.
        card(page, "answer").click()
        page.wait_for_selector("[data-panel-form][data-node=answer]")
        page.select_option("select[name=reply_0_next]", "is_gold")
        page.select_option("select[name=reply_1_next]", "done")
        page.select_option("select[name=next]", "done")
        page.select_option("select[name=timeout_next]", "done")
        shot(page, "4-reply-options")
        page.click("[data-panel-form] button[type=submit]")
        page.wait_for_selector("text=All checks pass")
        journey.refresh_from_db()
        assert journey.entry_node == "welcome"
        nodes = {n["id"]: n for n in journey.nodes}
        assert nodes["welcome"]["variables"] == {"1": {"property": "name", "fallback": "there"}}
        assert nodes["answer"]["branches"] == [
            {"reply_id": "YES", "next": "is_gold"},
            {"reply_id": "NO", "next": "done"},
        ]
        assert nodes["answer"]["timeout_seconds"] == 7200 and nodes["answer"]["next"] == "done"
        assert nodes["is_gold"]["condition"] == {"type": "property", "property": "plan", "op": "eq", "value": "gold"}
        assert (nodes["is_gold"]["yes"], nodes["is_gold"]["no"]) == ("mark_vip", "done")
        assert nodes["mark_vip"] == {
            "id": "mark_vip",
            "type": "update_property",
            "property": "vip",
            "value": True,
            "next": "done",
        }
        shot(page, "5-ready")

        page.click("#publish")
        page.wait_for_selector("#journey-status:text-is('Live')")
        assert "Version 1 is live" in page.inner_text("#journey-version")
        journey.refresh_from_db()
        assert journey.status == JourneyStatus.LIVE

        page.select_option("#test-contact", str(ann.pk))
        page.click("#test-send")
        page.wait_for_selector("#test-result:has-text('Test sent as Ann')")
        enrollment = Enrollment.objects.get(journey=journey, contact=ann)
        assert enrollment.trigger_properties["test_event"] is True
        sent = eventually(
            lambda: Message.objects.filter(origin_ref__contains=":welcome:").exclude(message_uuid=None).first()
        )
        assert "Ann" in str(sent.request_body)  # {{1}} filled from the contact's name
        simulator.customer(tap=sent.message_uuid, index=0)  # "Yes please"
        eventually(lambda: Enrollment.objects.filter(pk=enrollment.pk, state="completed").exists())
        ann.refresh_from_db()
        assert ann.properties["vip"] is True

        # The counts move on the nodes (the page polls) and the test's path is highlighted.
        page.wait_for_selector(".jnode[data-node=welcome] [data-stat=sent] b:text-is('1')", timeout=40_000)
        page.wait_for_selector(".jnode[data-node=answer] [data-stat=replied] b:text-is('1')", timeout=40_000)
        page.wait_for_selector(".jnode[data-node=done] [data-stat=exited] b:text-is('1')", timeout=40_000)
        for name in ("welcome", "answer", "is_gold", "mark_vip", "done"):
            assert "jnode-path" in (card(page, name).get_attribute("class") or "")
        assert page.locator(".edge-label[data-edge='is_gold:yes'] .edge-count").inner_text() == "1"
        shot(page, "6-test-run")
        page.click("[data-zoom=fit]")
        shot(page, "7-test-run-whole")
    finally:
        simulator.stop()


def test_an_invalid_journey_shows_its_problems_on_the_right_nodes(
    page: Any, login: Any, marketer_user: Any, live_server: Any
) -> None:
    provider = ProviderConfig.objects.create(
        nickname="Main",
        phone_number="+447700900000",
        application_id="aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab",
        private_key=rsa_pem(),
        api_base_url="http://127.0.0.1:9",
        whatsapp_namespace="acme",
    )
    draft = Template.objects.create(provider=provider, name="promo", language="en_GB", status="draft", body="Hi")
    journey = services.journey_create(
        data={
            "name": "Broken",
            "trigger": {"type": "event", "event": "signup"},
            "entry_node": "hello",
            "nodes": [
                {"id": "hello", "type": "send_template", "template": draft.pk, "next": "answer"},
                {
                    "id": "answer",
                    "type": "wait_for_reply",
                    "message_node": "hello",
                    "timeout_seconds": 60,
                    "next": "split",
                },
                {"id": "split", "type": "split", "branches": [{"percent": 50, "next": "end"}, {"percent": 50}]},
                {"id": "end", "type": "exit"},
                {"id": "lost", "type": "exit"},
            ],
        }
    )
    login(marketer_user, "pw-teammate-123")
    page.goto(f"/journeys/{journey.pk}/")
    page.wait_for_selector(".jnode[data-node=hello]")
    assert "only approved templates can be sent" in card(page, "hello").inner_text()
    assert "dangling wait" in card(page, "answer").inner_text()
    assert "Unreachable" in card(page, "lost").inner_text()
    assert "jnode-invalid" not in (card(page, "end").get_attribute("class") or "")
    assert "jnode-invalid" not in (card(page, "split").get_attribute("class") or "")
    assert page.locator("#publish").is_disabled()
    shot(page, "8-invalid")

    # The split's panel totals the percentages as they are typed; a wrong total is refused in the panel.
    card(page, "split").click()
    page.wait_for_selector("[data-panel-form][data-node=split]")
    assert "100%" in page.inner_text("[data-percent-total]")
    page.fill("input[name=branch_1_percent]", "40")
    assert "90%, it must be 100%" in page.inner_text("[data-percent-total]")
    page.click("[data-panel-form] button[type=submit]")
    page.wait_for_selector("[data-panel-form] .form-errors:has-text('add up to 90, not 100')")
    shot(page, "9-split-total")
    journey.refresh_from_db()
    assert journey.nodes[2]["branches"][1]["percent"] == 50

    # Deleting the lost step clears its problem; deleting the wait mends the chain (hello leads to split).
    card(page, "lost").click()
    page.wait_for_selector("[data-panel-form][data-node=lost]")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-action=delete]")
    page.wait_for_selector(".jnode[data-node=lost]", state="detached")
    card(page, "answer").click()
    page.wait_for_selector("[data-panel-form][data-node=answer]")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-action=delete]")
    page.wait_for_selector(".jnode[data-node=answer]", state="detached")
    journey.refresh_from_db()
    assert journey.nodes[0]["next"] == "split"


def test_steps_are_reached_by_keyboard_and_dragged_positions_are_kept(
    page: Any, login: Any, marketer_user: Any, live_server: Any
) -> None:
    journey = services.journey_create(
        data={
            "name": "Nudge",
            "trigger": {"type": "event", "event": "signup"},
            "entry_node": "pause",
            "nodes": [
                {"id": "pause", "type": "wait", "seconds": 86400, "next": "end"},
                {"id": "end", "type": "exit"},
            ],
        }
    )
    login(marketer_user, "pw-teammate-123")
    page.goto(f"/journeys/{journey.pk}/")
    page.wait_for_selector(".jnode[data-node=pause]")
    assert "For 1 day" in card(page, "pause").inner_text()

    # Tab from the trigger reaches the first step, Enter opens its panel, and its "+" comes next.
    page.focus(".jnode-trigger")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.node") == "pause"
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-panel-form][data-node=pause]")
    assert page.input_value("input[name=wait_amount]") == "1"
    assert page.input_value("select[name=wait_unit]") == "days"
    page.focus(".jnode[data-node=pause]")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "edge-add"
    page.keyboard.press("Enter")
    page.wait_for_selector(".type-choice[data-type=send_template]")

    # Dragging a step keeps it where it was dropped, across a reload, without a new version.
    before = card(page, "end").bounding_box()
    anchor = card(page, "pause").bounding_box()
    page.mouse.move(before["x"] + 60, before["y"] + 15)
    page.mouse.down()
    page.mouse.move(before["x"] + 260, before["y"] + 75, steps=10)
    page.mouse.up()
    eventually(lambda: Journey.objects.get(pk=journey.pk).layout.get("end"))
    page.reload()
    page.wait_for_selector(".jnode[data-node=end]")
    after = card(page, "end").bounding_box()
    moved = card(page, "pause").bounding_box()  # the view is centred again: measure from the other step
    assert abs((after["x"] - moved["x"]) - (before["x"] - anchor["x"]) - 200) < 3
    assert abs((after["y"] - moved["y"]) - (before["y"] - anchor["y"]) - 60) < 3
    assert Journey.objects.get(pk=journey.pk).current_version is None

    # "Tidy up" forgets it; the zoom buttons scale the drawing.
    page.click("#tidy")
    eventually(lambda: Journey.objects.get(pk=journey.pk).layout == {})
    # Polled from here: Playwright's wait_for_function evaluates a string, which the page's CSP refuses.
    left = "document.querySelector('.jnode[data-node={}]').getBoundingClientRect().x"
    aligned = f"Math.abs({left.format('end')} - {left.format('pause')}) < 3"
    for _ in range(100):
        if page.evaluate(aligned):
            break
        page.wait_for_timeout(100)
    assert page.evaluate(aligned)
    width = card(page, "end").bounding_box()["width"]
    page.click("[data-zoom=out]")
    assert card(page, "end").bounding_box()["width"] < width
    shot(page, "10-keyboard-and-drag")


def test_an_interactive_message_and_the_paths_of_its_buttons_are_built_in_panels(
    page: Any, login: Any, marketer_user: Any, live_server: Any
) -> None:
    journey = services.journey_create(data={"name": "Plans", "trigger": {"type": "event", "event": "signup"}})
    login(marketer_user, "pw-teammate-123")
    page.goto(f"/journeys/{journey.pk}/")
    add_step(page, ".slot-first", "send_interactive", "ask")
    page.fill("textarea[name=text]", "Which plan suits you?")
    page.fill("input[name=button_0_title]", "Gold")
    page.fill("input[name=button_1_title]", "Silver")
    assert page.inner_text("[data-live-preview] [data-preview=buttons]").split() == ["Gold", "Silver"]
    save_step(page, "ask")
    assert "with 2 buttons" in card(page, "ask").inner_text()

    add_step(page, ".slot-add[data-after=ask][data-field=next]", "wait_for_reply", "choice")
    page.select_option("[data-panel-form] select[name=message_node]", "ask")
    page.wait_for_selector("label:has-text('When they choose “Silver”, go to')")
    save_step(page, "choice")
    add_step(page, ".slot-add[data-after=choice][data-field=next]", "exit", "bye")
    save_step(page, "bye")
    card(page, "choice").click()
    page.wait_for_selector("[data-panel-form][data-node=choice]")
    page.select_option("select[name=reply_1_next]", "bye")
    page.select_option("select[name=timeout_next]", "bye")
    page.click("[data-panel-form] button[type=submit]")
    page.wait_for_selector("text=All checks pass")
    assert page.inner_text(".edge-label[data-edge='choice:branches[0].next']").startswith("“Silver”")
    shot(page, "11-interactive")
    journey.refresh_from_db()
    nodes = {n["id"]: n for n in journey.nodes}
    assert nodes["ask"]["buttons"] == [{"id": "GOLD", "title": "Gold"}, {"id": "SILVER", "title": "Silver"}]
    assert nodes["choice"]["branches"] == [{"reply_id": "SILVER", "next": "bye"}]
