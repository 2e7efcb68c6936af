"""The canvas's server side: its state as JSON, the side panels (new steps on an edge, edits, errors in words), the
edge, entry, delete, layout and test-event actions, and their refusals of bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from journeys import selectors, services
from journeys.models import Enrollment, Journey, JourneyStatus, JourneyStep
from tests.journeys.factories import contact_make, journey_live, provider_make, template_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_marketer(client: Client, marketer_user: Any) -> Client:
    client.force_login(marketer_user)
    return client


def draft(nodes: list[dict[str, Any]], entry: str = "") -> Journey:
    return services.journey_create(
        data={
            "name": "Draft",
            "trigger": {"type": "event", "event": "signup"},
            "entry_node": entry or (nodes[0]["id"] if nodes else ""),
            "nodes": nodes,
        }
    )


def post_json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_the_state_gives_each_node_its_words_slots_and_problems(client_marketer: Client) -> None:
    template = template_make(provider_make(), name="welcome")
    journey = draft(
        [
            {"id": "hi", "type": "send_template", "template": template.pk, "next": "gold"},
            {"id": "gold", "type": "branch", "condition": {"type": "property", "property": "plan", "value": "gold"}},
        ]
    )
    state = client_marketer.get(f"/journeys/{journey.pk}/canvas/").json()
    nodes = {n["id"]: n for n in state["nodes"]}
    assert nodes["hi"]["summary"] == "Template “welcome”" and nodes["hi"]["entry"] is True
    assert nodes["hi"]["slots"] == [{"field": "next", "label": "", "target": "gold", "count": 0}]
    assert nodes["gold"]["summary"] == "If plan is gold"
    assert [(s["field"], s["label"], s["target"]) for s in nodes["gold"]["slots"]] == [
        ("yes", "Yes", ""),
        ("no", "No", ""),
    ]
    assert nodes["gold"]["problems"] == ["Choose where “yes” leads.", "Choose where “no” leads."]
    assert nodes["hi"]["problems"] == [] and state["ready"] is False


def test_a_step_added_on_an_edge_continues_where_the_edge_led(client_marketer: Client) -> None:
    journey = draft([{"id": "wait", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}])
    form = client_marketer.get(f"/journeys/{journey.pk}/canvas/panel/?type=wait&after=wait&field=next")
    assert form.status_code == 200 and 'value="wait_1"' in form.content.decode()
    answer = client_marketer.post(
        f"/journeys/{journey.pk}/canvas/panel/",
        {"type": "wait", "after": "wait", "field": "next", "id": "nine", "mode": "time", "until_local_time": "09:00"},
    )
    assert answer.status_code == 200 and answer["X-Journey-Saved"] == "nine"
    journey.refresh_from_db()
    nodes = {n["id"]: n for n in journey.nodes}
    assert nodes["wait"]["next"] == "nine"
    assert nodes["nine"] == {"id": "nine", "type": "wait", "until_local_time": "09:00", "next": "end"}


def test_waits_in_units_and_reply_options_from_the_awaited_buttons(client_marketer: Client) -> None:
    template = template_make(
        provider_make(), buttons=[{"type": "quick_reply", "text": "Yes"}, {"type": "quick_reply", "text": "No"}]
    )
    journey = draft([{"id": "hi", "type": "send_template", "template": template.pk}])
    url = f"/journeys/{journey.pk}/canvas/panel/"
    answer = client_marketer.post(
        url,
        {"type": "wait", "id": "pause", "mode": "delay", "wait_amount": "3", "wait_unit": "hours"},
    )
    assert answer.status_code == 200
    rerendered = client_marketer.post(
        url, {"type": "wait_for_reply", "id": "r", "message_node": "hi", "_rerender": "1"}
    )
    page = rerendered.content.decode()
    assert "When they choose “Yes”, go to" in page and 'name="reply_1_id" value="No"' in page
    assert "errorlist" not in page
    answer = client_marketer.post(
        url,
        {
            "type": "wait_for_reply",
            "id": "r",
            "message_node": "hi",
            "reply_0_id": "Yes",
            "reply_0_next": "pause",
            "reply_1_id": "No",
            "reply_1_next": "",
            "timeout_amount": "2",
            "timeout_unit": "days",
        },
    )
    assert answer.status_code == 200
    journey.refresh_from_db()
    nodes = {n["id"]: n for n in journey.nodes}
    assert nodes["pause"]["seconds"] == 3 * 3600
    assert nodes["r"]["branches"] == [{"reply_id": "Yes", "next": "pause"}]
    assert nodes["r"]["timeout_seconds"] == 2 * 86400 and nodes["r"]["payload"] is None
    again = client_marketer.get(f"/journeys/{journey.pk}/canvas/panel/r/").content.decode()
    assert '<option value="pause" selected>' in again
    edit = client_marketer.get(f"/journeys/{journey.pk}/canvas/panel/pause/").content.decode()
    assert 'name="wait_amount" value="3"' in edit and '<option value="hours" selected>' in edit


def test_the_panel_says_what_is_wrong_next_to_the_field(client_marketer: Client) -> None:
    template = template_make(provider_make(), body="Hi {{1}}")
    journey = draft([])
    url = f"/journeys/{journey.pk}/canvas/panel/"
    answer = client_marketer.post(url, {"type": "send_template", "id": "bad id!", "template": template.pk})
    page = answer.content.decode()
    assert answer.status_code == 400
    assert "Use letters, digits, - and _ only (no spaces)." in page
    assert "Say what fills Variable {{1}}." in page
    answer = client_marketer.post(
        url,
        {"type": "split", "id": "s", "branch_0_percent": "60", "branch_1_percent": "30"},
    )
    assert answer.status_code == 400 and "The percentages add up to 90, not 100." in answer.content.decode()
    assert client_marketer.get(f"{url}?type=nonsense").status_code == 400
    assert client_marketer.get(f"{url}missing/").status_code == 404
    assert Journey.objects.get().nodes == []


def test_a_template_variable_is_mapped_from_the_contact_or_the_event(client_marketer: Client) -> None:
    template = template_make(provider_make(), body="Hi {{1}}, your code is {{2}}")
    journey = draft([])
    answer = client_marketer.post(
        f"/journeys/{journey.pk}/canvas/panel/",
        {
            "type": "send_template",
            "id": "hi",
            "template": template.pk,
            "var_1_source": "property",
            "var_1_name": "name",
            "var_1_fallback": "there",
            "var_2_source": "event",
            "var_2_name": "code",
        },
    )
    assert answer.status_code == 200
    journey.refresh_from_db()
    assert journey.nodes[0]["variables"] == {"1": {"property": "name", "fallback": "there"}, "2": {"event": "code"}}
    assert journey.entry_node == "hi"


def test_edges_entry_and_delete_with_the_chain_mended(client_marketer: Client) -> None:
    journey = draft(
        [
            {"id": "a", "type": "wait", "seconds": 60, "next": "b"},
            {"id": "b", "type": "wait", "seconds": 60, "next": "c"},
            {"id": "c", "type": "exit"},
            {"id": "d", "type": "exit"},
        ]
    )
    base = f"/journeys/{journey.pk}/canvas"
    state = post_json(client_marketer, f"{base}/edge/", {"node": "c", "field": "next", "target": "d"})
    assert state.status_code == 400 and "no such outgoing path" in state.json()["errors"][0]
    state = post_json(client_marketer, f"{base}/delete/", {"node": "b"}).json()
    assert {n["id"]: n["slots"][0]["target"] for n in state["nodes"] if n["slots"]} == {"a": "c"}
    state = post_json(client_marketer, f"{base}/edge/", {"node": "a", "field": "next", "target": "d"}).json()
    assert state["nodes"][0]["slots"][0]["target"] == "d"
    state = post_json(client_marketer, f"{base}/entry/", {"node": "c"}).json()
    assert state["journey"]["entry_node"] == "c"
    for url, body in [
        ("edge/", {"node": "a", "field": "next", "target": "nowhere"}),
        ("edge/", {"node": 3, "field": "next"}),
        ("entry/", {"node": "ghost"}),
        ("delete/", {"node": "ghost"}),
        ("delete/", ["not", "an", "object"]),
    ]:
        answer = post_json(client_marketer, f"{base}/{url}", body)
        assert answer.status_code == 400 and answer.json()["errors"], (url, body)
    answer = client_marketer.post(f"{base}/edge/", data="{bad json", content_type="application/json")
    assert answer.status_code == 400 and "JSON" in answer.json()["errors"][0]


def test_dragged_positions_are_kept_outside_the_definition(client_marketer: Client) -> None:
    journey = journey_live(nodes=[{"id": "end", "type": "exit"}])
    base = f"/journeys/{journey.pk}/canvas/layout/"
    state = post_json(client_marketer, base, {"positions": {"end": [120.4, 80]}}).json()
    assert state["nodes"][0]["position"] == [120, 80]
    journey.refresh_from_db()
    assert journey.layout == {"end": [120, 80]} and journey.versions.count() == 1
    assert journey.nodes == [{"id": "end", "type": "exit"}]
    for body in [{"positions": {"ghost": [1, 2]}}, {"positions": {"end": [1]}}, {"positions": "x"}]:
        assert post_json(client_marketer, base, body).status_code == 400
    post_json(client_marketer, base, {"reset": True})
    journey.refresh_from_db()
    assert journey.layout == {}


def test_editing_a_live_journey_in_a_panel_publishes_a_new_version(client_marketer: Client) -> None:
    journey = journey_live(
        nodes=[{"id": "w", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}]
    )
    answer = client_marketer.post(
        f"/journeys/{journey.pk}/canvas/panel/w/",
        {"type": "wait", "id": "w", "mode": "delay", "wait_amount": "5", "wait_unit": "minutes", "next": "end"},
    )
    assert answer.status_code == 200
    journey.refresh_from_db()
    assert journey.current_version is not None and journey.current_version.number == 2
    assert journey.current_version.nodes[0]["seconds"] == 300
    # An edit that would leave it unpublishable is refused, and says why.
    answer = client_marketer.post(
        f"/journeys/{journey.pk}/canvas/panel/w/",
        {"type": "wait", "id": "w", "mode": "delay", "wait_amount": "5", "wait_unit": "minutes", "next": ""},
    )
    assert answer.status_code == 400 and "dangling wait" in answer.content.decode()


def test_a_test_event_runs_the_live_journey_for_a_test_profile(client_marketer: Client, nexmo: Any) -> None:
    template = template_make(provider_make())
    journey = journey_live(
        nodes=[
            {"id": "hi", "type": "send_template", "template": template.pk, "next": "end"},
            {"id": "end", "type": "exit"},
        ]
    )
    tester = contact_make(is_test_profile=True)
    stranger = contact_make(phone="+447700900999")
    url = f"/journeys/{journey.pk}/canvas/test/"
    refused = post_json(client_marketer, url, {"contact": stranger.pk})
    assert refused.status_code == 400 and refused.json()["errors"] == ["Choose one of the test profiles."]
    state = post_json(client_marketer, url, {"contact": tester.pk}).json()
    enrollment = Enrollment.objects.get(contact=tester)
    assert state["enrollment"] == enrollment.pk and enrollment.trigger_properties == {"test_event": True}
    assert state["path"]["nodes"] == ["hi", "end"]
    nodes = {n["id"]: n for n in state["nodes"]}
    assert nodes["hi"]["stats"]["sent"] == 1 and nodes["hi"]["slots"][0]["count"] == 1
    again = post_json(client_marketer, url, {"contact": tester.pk})
    assert again.status_code == 400 and "re-entry" in again.json()["errors"][0]
    paused = services.journey_pause(journey=journey)
    assert paused.status == JourneyStatus.PAUSED
    assert "Publish the journey first" in post_json(client_marketer, url, {"contact": tester.pk}).json()["errors"][0]


def test_edge_counts_follow_consecutive_steps(client_marketer: Client, nexmo: Any) -> None:
    journey = journey_live(
        nodes=[
            {"id": "w", "type": "update_property", "property": "seen", "value": True, "next": "a"},
            {"id": "a", "type": "exit"},
        ]
    )
    contacts: list[tuple[Any, dict[str, Any]]] = [(contact_make(phone=f"+44770090010{n}"), {}) for n in range(3)]
    entered = services.enrollments_enter(journey=journey, entrants=contacts, run=False)
    services.enrollments_run(enrollment_ids=[e.pk for e in entered])
    assert selectors.journey_edge_counts(journey=journey) == {"w": {"a": 3}}


def test_builder_needs_the_marketer_role(client: Client, outsider_user: Any) -> None:
    client.force_login(outsider_user)
    assert client.get("/journeys/").status_code == 403
    journey = draft([])
    assert client.get(f"/journeys/{journey.pk}/canvas/").status_code == 403
    assert post_json(client, f"/journeys/{journey.pk}/canvas/entry/", {"node": "x"}).status_code == 403


def test_an_interactive_message_is_written_in_its_panel_and_its_options_await_replies(client_marketer: Client) -> None:
    journey = draft([])
    url = f"/journeys/{journey.pk}/canvas/panel/"
    answer = client_marketer.post(
        url,
        {
            "type": "send_interactive",
            "id": "ask",
            "text": "Which plan?",
            "footer": "Tap one",
            "choice_kind": "buttons",
            "button_0_title": "Gold plan",
            "button_1_title": "Silver",
            "button_1_id": "SILVER",
        },
    )
    assert answer.status_code == 200, answer.content.decode()
    journey.refresh_from_db()
    assert journey.nodes[0] == {
        "id": "ask",
        "type": "send_interactive",
        "text": "Which plan?",
        "footer": "Tap one",
        "buttons": [{"id": "GOLD_PLAN", "title": "Gold plan"}, {"id": "SILVER", "title": "Silver"}],
        "fallback_template": None,
        "next": None,
    }
    page = client_marketer.get(f"{url}?type=wait_for_reply").content.decode()
    assert "ask (buttons or list)" in page
    rerendered = client_marketer.post(url, {"type": "wait_for_reply", "message_node": "ask", "_rerender": "1"})
    assert "When they choose “Gold plan”, go to" in rerendered.content.decode()

    # A list: sections of rows; WhatsApp's limits are checked where they are written (providers.interactive).
    answer = client_marketer.post(
        url,
        {
            "type": "send_interactive",
            "id": "menu",
            "text": "Pick a day",
            "choice_kind": "list",
            "list_button": "See the days",
            "row_0_0_title": "Monday",
            "row_0_0_description": "x" * 80,
        },
    )
    assert answer.status_code == 400 and "At most 72 characters (this has 80)." in answer.content.decode()
    answer = client_marketer.post(
        url,
        {
            "type": "send_interactive",
            "id": "menu",
            "text": "Pick a day",
            "choice_kind": "list",
            "list_button": "See the days",
            "row_0_0_title": "Monday",
            "row_0_1_title": "Tuesday",
            "row_0_1_id": "TUE",
        },
    )
    assert answer.status_code == 200
    journey.refresh_from_db()
    assert journey.nodes[1]["list"] == {
        "button": "See the days",
        "sections": [{"rows": [{"id": "MONDAY", "title": "Monday"}, {"id": "TUE", "title": "Tuesday"}]}],
    }
    state = client_marketer.get(f"/journeys/{journey.pk}/canvas/").json()
    assert state["nodes"][1]["summary"] == "“Pick a day” with a list of 2 options"


def test_settings_take_trigger_filters_in_words_and_show_problems_on_their_field(client_marketer: Client) -> None:
    journey = draft([])
    url = f"/journeys/{journey.pk}/settings/"
    base = {"name": "Draft", "trigger_type": "event", "reentry": "never", "cap_days": 1}
    answer = client_marketer.post(
        url, {**base, "trigger_event": "signup", "trigger_filters": "plan = gold\ncity=Leeds"}
    )
    assert answer.status_code == 302
    journey.refresh_from_db()
    assert journey.trigger == {"type": "event", "event": "signup", "filters": {"plan": "gold", "city": "Leeds"}}
    assert "city = Leeds\nplan = gold" in client_marketer.get(url).content.decode()  # as PostgreSQL orders keys
    answer = client_marketer.post(url, {**base, "trigger_event": "signup", "trigger_filters": "plan gold"})
    assert "Write each filter as property = value: “plan gold” has no =." in answer.content.decode()
    answer = client_marketer.post(url, {**base, "trigger_event": " "})
    page = answer.content.decode()
    assert answer.status_code == 200 and "Name the event that starts the journey" in page


def test_a_step_added_on_a_path_that_does_not_exist_is_refused_in_words(client_marketer: Client) -> None:
    journey = draft([{"id": "end", "type": "exit"}])
    url = f"/journeys/{journey.pk}/canvas/panel/"
    for after, field in [("end", "next"), ("ghost", "next")]:
        answer = client_marketer.post(url, {"type": "exit", "id": "bye", "after": after, "field": field})
        assert answer.status_code == 400
        assert "no such" in answer.content.decode()
    assert client_marketer.get(f"/journeys/{journey.pk}/canvas/?enrollment=999").json()["path"] is None
    journey.refresh_from_db()
    assert [n["id"] for n in journey.nodes] == ["end"]


def test_a_renamed_step_keeps_its_place_and_its_paths(client_marketer: Client) -> None:
    journey = draft([{"id": "w", "type": "wait", "seconds": 60, "next": "end"}, {"id": "end", "type": "exit"}])
    post_json(client_marketer, f"/journeys/{journey.pk}/canvas/layout/", {"positions": {"end": [10, 20]}})
    answer = client_marketer.post(f"/journeys/{journey.pk}/canvas/panel/end/", {"type": "exit", "id": "goodbye"})
    assert answer.status_code == 200 and answer["X-Journey-Saved"] == "goodbye"
    journey.refresh_from_db()
    assert journey.layout == {"goodbye": [10, 20]}
    assert journey.nodes[0]["next"] == "goodbye"


def test_an_older_wait_for_one_payload_keeps_it_until_any_reply_is_let_in(client_marketer: Client) -> None:
    template = template_make(
        provider_make(),
        buttons=[
            {"type": "quick_reply", "text": "Show me", "payload": "SALE_YES"},
            {"type": "quick_reply", "text": "No"},
        ],
    )
    journey = draft(
        [
            {"id": "hi", "type": "send_template", "template": template.pk, "next": "r"},
            {"id": "r", "type": "wait_for_reply", "message_node": "hi", "payload": "SALE_YES", "timeout_seconds": 60},
        ]
    )
    url = f"/journeys/{journey.pk}/canvas/panel/r/"
    page = client_marketer.get(url).content.decode()
    assert "Only “Show me”" in page and "When they choose “Show me”, go to" in page and "reply_0_next" not in page
    answer = client_marketer.post(url, {"type": "wait_for_reply", "id": "r", "message_node": "hi", "_rerender": "1"})
    page = answer.content.decode()
    assert "When they choose “Show me”, go to" in page and 'name="reply_1_id" value="No"' in page
    assert "Any other reply, go to" in page


def test_the_paths_of_a_wait_count_the_replies_that_took_each_option(client_marketer: Client) -> None:
    template = template_make(provider_make(), buttons=[{"type": "quick_reply", "text": "Yes", "payload": "YES"}])
    journey = journey_live(
        nodes=[
            {"id": "hi", "type": "send_template", "template": template.pk, "next": "w"},
            {
                "id": "w",
                "type": "wait_for_reply",
                "message_node": "hi",
                "timeout_seconds": 60,
                "branches": [{"reply_id": "YES", "next": "end"}],
                "next": "end",
                "timeout_next": "end",
            },
            {"id": "end", "type": "exit"},
        ]
    )
    assert journey.current_version is not None
    for n, (outcome, detail) in enumerate([("replied", "YES"), ("replied", "YES"), ("replied", ""), ("timed_out", "")]):
        enrollment = Enrollment.objects.create(
            journey=journey, version=journey.current_version, contact=contact_make(phone=f"+4477009002{n:02}"), node="w"
        )
        JourneyStep.objects.create(
            enrollment=enrollment,
            journey=journey,
            version=journey.current_version,
            node="w",
            visit=1,
            outcome=outcome,
            detail=detail,
        )
    state = client_marketer.get(f"/journeys/{journey.pk}/canvas/").json()
    wait = next(n for n in state["nodes"] if n["id"] == "w")
    assert [(s["label"], s["count"]) for s in wait["slots"]] == [
        ("“Yes”", 2),
        ("Any other reply", 1),
        ("No reply in time", 1),
    ]


def test_the_canvas_state_reads_the_templates_once_however_many_reply_options(client_marketer: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    provider = provider_make()
    buttons = [{"type": "quick_reply", "text": t, "payload": t.upper()} for t in ("Yes", "No", "Later")]
    template = template_make(provider, name="ask", buttons=buttons)

    def journey_with(waits: int) -> Journey:
        nodes: list[dict[str, Any]] = [{"id": "ask", "type": "send_template", "template": template.pk, "next": "w0"}]
        for n in range(waits):
            options = [{"reply_id": b["payload"], "next": "end"} for b in buttons]
            nodes.append(
                {
                    "id": f"w{n}",
                    "type": "wait_for_reply",
                    "message_node": "ask",
                    "timeout_seconds": 60,
                    "branches": options,
                    "next": f"w{n + 1}" if n + 1 < waits else "end",
                    "timeout_next": "end",
                }
            )
        return draft([*nodes, {"id": "end", "type": "exit"}], entry="ask")

    counts = []
    for waits in (1, 4):
        journey = journey_with(waits)
        with CaptureQueriesContext(connection) as queries:
            state = client_marketer.get(f"/journeys/{journey.pk}/canvas/").json()
        counts.append(len(queries))
        assert next(n for n in state["nodes"] if n["id"] == "w0")["slots"][0]["label"] == "“Yes”"
    assert counts[0] == counts[1]
