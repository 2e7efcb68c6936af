"""Publish checks name the node and the field; the API answers 400 with them, never 500."""

from __future__ import annotations

from typing import Any

import pytest

from journeys.definition import definition_problems, trigger_problems
from tests.journeys.factories import provider_make, template_make


def problems(nodes: Any, entry: str = "a", **kwargs: Any) -> list[str]:
    return [str(p) for p in definition_problems(entry_node=entry, nodes=nodes, complete=True, **kwargs)]


def test_complete_definition_has_no_problems() -> None:
    nodes = [
        {"id": "a", "type": "send_template", "template": 1, "next": "w"},
        {
            "id": "w",
            "type": "wait_for_reply",
            "message_node": "a",
            "payload": "YES",
            "timeout_seconds": 60,
            "next": "s",
            "timeout_next": "x",
        },
        {"id": "s", "type": "split", "branches": [{"percent": 90, "next": "b"}, {"percent": 10, "next": None}]},
        {"id": "b", "type": "branch", "condition": {"type": "event", "event": "buy"}, "yes": "u", "no": "t"},
        {"id": "t", "type": "send_text", "text": "Hi", "fallback_template": None, "next": "z"},
        {"id": "z", "type": "wait", "seconds": 5, "next": "u"},
        {"id": "u", "type": "update_property", "property": "done", "value": True, "next": "x"},
        {"id": "x", "type": "exit"},
    ]
    assert problems(nodes) == []


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        ([{"id": "a", "type": "teleport"}], "node 'a', type: Unknown type 'teleport'"),
        ([{"id": "a", "type": "exit"}, {"id": "b", "type": "exit"}], "node 'b', id: Unreachable"),
        (
            [
                {"id": "a", "type": "branch", "condition": {"type": "property", "property": "p"}, "yes": "b"},
                {"id": "b", "type": "exit"},
            ],
            "node 'a', no: Choose where “no” leads.",
        ),
        ([{"id": "a", "type": "wait", "seconds": 5}], "node 'a', next: A wait needs the step that follows it"),
        (
            [
                {"id": "a", "type": "send_template", "template": 1, "next": "w"},
                {"id": "w", "type": "wait_for_reply", "message_node": "a", "timeout_seconds": 5, "next": "x"},
                {"id": "x", "type": "exit"},
            ],
            "node 'w', timeout_next: A wait for a reply needs both",
        ),
        (
            [
                {
                    "id": "a",
                    "type": "wait_for_reply",
                    "message_node": "x",
                    "timeout_seconds": 5,
                    "next": "x",
                    "timeout_next": "x",
                },
                {"id": "x", "type": "exit"},
            ],
            "node 'a', message_node: 'x' is not a sending step",
        ),
        (
            [
                {"id": "a", "type": "split", "branches": [{"percent": 50, "next": "x"}, {"percent": 40, "next": "x"}]},
                {"id": "x", "type": "exit"},
            ],
            "node 'a', branches: The percentages add up to 90, not 100.",
        ),
        (
            [
                {"id": "a", "type": "wait", "seconds": 5, "until_local_time": "09:00", "next": "x"},
                {"id": "x", "type": "exit"},
            ],
            "node 'a', seconds: Give exactly one of",
        ),
        (
            [{"id": "a", "type": "wait", "until_local_time": "25:00", "next": "x"}, {"id": "x", "type": "exit"}],
            "node 'a', until_local_time: Give a time of day as HH:MM",
        ),
        (
            [
                {"id": "a", "type": "update_property", "property": "bad name", "value": 1, "next": "x"},
                {"id": "x", "type": "exit"},
            ],
            "node 'a', property:",
        ),
        ([{"id": "a", "type": "send_text", "next": "nowhere"}], "node 'a', next: Points at 'nowhere'"),
        ("not a list", "nodes: Nodes are a list"),
    ],
)
def test_problem_names_node_and_field(nodes: Any, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(nodes)), problems(nodes)


def test_unknown_template_is_reported() -> None:
    nodes = [{"id": "a", "type": "send_template", "template": 7, "next": "x"}, {"id": "x", "type": "exit"}]
    assert problems(nodes, template_ok=lambda pk: f"There is no template {pk}.") == [
        "node 'a', template: There is no template 7."
    ]


def test_triggers() -> None:
    assert trigger_problems({"type": "event", "event": "signup", "filters": {"plan": "gold"}}) == []
    assert [p.field for p in trigger_problems({"type": "inbound_keyword"})] == ["trigger.keyword"]
    assert [p.field for p in trigger_problems({"type": "nope"})] == ["trigger.type"]
    assert [p.field for p in trigger_problems(None)] == ["trigger"]


def flow(welcome: int, coupon: int) -> list[dict[str, Any]]:
    return [
        {"id": "welcome", "type": "send_template", "template": welcome, "variables": {}, "next": "answer"},
        {
            "id": "answer",
            "type": "wait_for_reply",
            "message_node": "welcome",
            "payload": "YES",
            "timeout_seconds": 86400,
            "next": "coupon",
            "timeout_next": "end",
        },
        {"id": "coupon", "type": "send_template", "template": coupon, "variables": {}, "next": "end"},
        {"id": "end", "type": "exit"},
    ]


@pytest.mark.django_db
def test_api_create_publish_pause_resume_stop_and_stats(marketer_api: Any) -> None:
    provider = provider_make()
    welcome, coupon = template_make(provider, name="welcome"), template_make(provider, name="coupon")
    answer = marketer_api.post(
        "/api/v1/journeys/",
        {
            "name": "Welcome",
            "trigger": {"type": "event", "event": "signup"},
            "entry_node": "welcome",
            "nodes": flow(welcome.pk, coupon.pk),
            "reentry": "never",
            "goal_event": "purchase",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    journey = answer.json()
    assert journey["status"] == "draft" and journey["version"] is None and journey["problems"] == []
    url = f"/api/v1/journeys/{journey['id']}/"
    published = marketer_api.post(url + "publish/")
    assert published.status_code == 200 and published.json()["status"] == "live" and published.json()["version"] == 1
    assert marketer_api.post(url + "pause/").json()["status"] == "paused"
    assert marketer_api.post(url + "pause/").status_code == 400
    assert marketer_api.post(url + "resume/").json()["status"] == "live"
    edited = marketer_api.patch(url, {"nodes": flow(welcome.pk, welcome.pk)}, format="json")
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stats = marketer_api.get(url + "stats/").json()
    assert stats["totals"]["entered"] == 0
    assert marketer_api.post(url + "stop/").json()["status"] == "stopped"
    assert marketer_api.get("/api/v1/journeys/?status=stopped").json()["count"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "nodes": "junk"},
        {"name": "x", "trigger": {"type": "teleport"}},
        {"name": "x", "nodes": [{"id": "a", "type": "wait", "seconds": -1, "next": "a"}]},
        {"name": "x", "nodes": [{"id": "a b", "type": "exit"}]},
        {"name": "x", "nodes": [None, 3]},
        {"name": "x", "reentry": "sometimes"},
        {"name": ""},
    ],
)
def test_api_refuses_bad_definitions_with_field_messages(marketer_api: Any, body: dict[str, Any]) -> None:
    answer = marketer_api.post("/api/v1/journeys/", body, format="json")
    assert answer.status_code == 400
    assert isinstance(answer.json(), dict) and answer.json()


@pytest.mark.django_db
def test_api_publish_refuses_incomplete_draft(marketer_api: Any) -> None:
    created = marketer_api.post(
        "/api/v1/journeys/",
        {
            "name": "Loose",
            "trigger": {"type": "event", "event": "signup"},
            "entry_node": "a",
            "nodes": [{"id": "a", "type": "send_template", "template": 999, "next": ""}],
        },
        format="json",
    ).json()
    assert created["problems"]
    answer = marketer_api.post(f"/api/v1/journeys/{created['id']}/publish/")
    assert answer.status_code == 400
    assert "node 'a', template: There is no template 999." in answer.json()["nodes"]


@pytest.mark.django_db
def test_api_needs_the_marketer_role(outsider_api: Any) -> None:
    assert outsider_api.get("/api/v1/journeys/").status_code == 403


# --- interactive messages and reply options ---------------------------------------------------------------------------

ASK = {
    "id": "ask",
    "type": "send_interactive",
    "text": "Keep your table?",
    "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}, {"id": "later", "title": "Later"}],
    "next": "w",
}


def _reply_wait(**changes: Any) -> dict[str, Any]:
    return {
        "id": "w",
        "type": "wait_for_reply",
        "message_node": "ask",
        "timeout_seconds": 3600,
        "branches": [{"reply_id": "yes", "next": "x"}, {"reply_id": "no", "next": "x"}],
        "next": "x",
        "timeout_next": "x",
        **changes,
    }


def test_interactive_node_with_reply_options_is_complete() -> None:
    assert problems([ASK, _reply_wait(), {"id": "x", "type": "exit"}], entry="ask") == []


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (
            {**ASK, "buttons": [{"id": f"b{n}", "title": f"B{n}"} for n in range(4)]},
            "node 'ask', buttons: WhatsApp allows at most 3 reply buttons",
        ),
        (
            {**ASK, "buttons": [{"id": "yes", "title": "Yes"}, {"id": "yes", "title": "No"}]},
            "node 'ask', buttons[1].id: Two options have the id 'yes'",
        ),
        ({**ASK, "buttons": [{"id": "yes", "title": ""}]}, "node 'ask', buttons[0].title: Write it."),
        ({**ASK, "buttons": None}, "node 'ask', buttons: Give reply buttons (up to 3) or a list"),
    ],
)
def test_interactive_node_breaking_whatsapps_limits_is_refused_at_save_and_publish(
    node: dict[str, Any], expected: str
) -> None:
    nodes = [node, _reply_wait(branches=[]), {"id": "x", "type": "exit"}]
    saved = [str(p) for p in definition_problems(entry_node="ask", nodes=nodes, complete=False)]
    assert any(p.startswith(expected) for p in saved), saved
    assert any(p.startswith(expected) for p in problems(nodes, entry="ask"))


@pytest.mark.parametrize(
    ("branches", "expected"),
    [
        (
            [{"reply_id": "maybe", "next": "x"}],
            "node 'w', branches[0].reply_id: 'maybe' is not a button or row of 'ask'.",
        ),
        ([{"reply_id": "yes", "next": ""}], "node 'w', branches[0].next: Choose where this path leads."),
        ([{"reply_id": "", "next": "x"}], "node 'w', branches[0].reply_id: Choose the button or list row"),
        (
            [{"reply_id": "yes", "next": "x"}, {"reply_id": "YES", "next": "x"}],
            "node 'w', branches[1].reply_id: Two paths are for the reply 'YES'.",
        ),
        ([{"reply_id": "yes", "next": "nowhere"}], "node 'w', branches[0].next: Points at 'nowhere'"),
    ],
)
def test_reply_options_must_name_the_awaited_messages_buttons_and_lead_somewhere(
    branches: list[dict[str, Any]], expected: str
) -> None:
    found = problems([ASK, _reply_wait(branches=branches), {"id": "x", "type": "exit"}], entry="ask")
    assert any(p.startswith(expected) for p in found), found


def test_the_steps_of_reply_options_are_reachable() -> None:
    node = _reply_wait(branches=[{"reply_id": "yes", "next": "a"}, {"reply_id": "no", "next": "b"}])
    nodes = [ASK, node, {"id": "a", "type": "exit"}, {"id": "b", "type": "exit"}, {"id": "x", "type": "exit"}]
    assert problems(nodes, entry="ask") == []  # a and b are reachable through the reply options


@pytest.mark.django_db
def test_api_refuses_an_interactive_node_over_whatsapps_limits_with_the_field(marketer_api: Any) -> None:
    node = {**ASK, "buttons": [{"id": f"b{n}", "title": f"Option {n}"} for n in range(4)]}
    answer = marketer_api.post(
        "/api/v1/journeys/",
        {"name": "Too many", "trigger": {"type": "event", "event": "x"}, "entry_node": "ask", "nodes": [node]},
        format="json",
    )
    assert answer.status_code == 400
    assert any("buttons: WhatsApp allows at most 3 reply buttons" in m for m in answer.json()["nodes"])
