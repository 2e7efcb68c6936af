"""The canvas's reading of a definition: slots found generically (edge fields and any `branches` list), set by field
path, and each node and condition said in words."""

from __future__ import annotations

from typing import Any

from journeys.forms import duration_split, node_id_free
from journeys.graph import condition_words, duration_words, first_slot_field, node_slots, node_summary, slot_set
from journeys.models import Journey


def test_slots_come_from_the_edge_fields_and_any_branches_list() -> None:
    split = {"id": "s", "type": "split", "branches": [{"percent": 70, "next": "a"}, {"percent": 30}]}
    assert [(s.field, s.label, s.target) for s in node_slots(split)] == [
        ("branches[0].next", "70%", "a"),
        ("branches[1].next", "30%", ""),
    ]
    # Reply options on a wait: each branch is a slot named by its reply, before "any other reply" and the timeout.
    wait = {
        "id": "w",
        "type": "wait_for_reply",
        "branches": [{"reply_id": "YES", "next": "y"}],
        "next": "o",
        "timeout_next": "t",
    }
    assert [(s.field, s.label, s.target) for s in node_slots(wait)] == [
        ("branches[0].next", "YES", "y"),
        ("next", "Any other reply", "o"),
        ("timeout_next", "No reply in time", "t"),
    ]
    assert node_slots({"id": "e", "type": "exit"}) == []
    assert first_slot_field({"id": "b", "type": "branch"}) == "yes"


def test_a_slot_is_set_by_its_field_path_without_touching_the_others() -> None:
    split: dict[str, Any] = {
        "id": "s",
        "type": "split",
        "branches": [{"percent": 50, "next": "a"}, {"percent": 50, "next": "b"}],
    }
    changed = slot_set(split, "branches[1].next", "c")
    assert changed["branches"] == [{"percent": 50, "next": "a"}, {"percent": 50, "next": "c"}]
    assert split["branches"][1]["next"] == "b"
    assert slot_set({"id": "w", "type": "wait", "next": "x"}, "next", None)["next"] is None


def test_nodes_and_conditions_read_as_words() -> None:
    names = {4: "welcome"}
    assert node_summary({"type": "send_template", "template": 4}, names) == "Template “welcome”"
    assert node_summary({"type": "send_template"}, names) == "No template chosen"
    assert node_summary({"type": "wait", "seconds": 7200}, names) == "For 2 hours"
    assert node_summary({"type": "wait", "until_local_time": "09:00"}, names) == "Until 09:00, contact's time"
    assert node_summary({"type": "split", "branches": [{"percent": 60}, {"percent": 40}]}, names) == "Random: 60% / 40%"
    assert condition_words({"type": "property", "property": "plan", "op": "neq", "value": "gold"}) == "plan is not gold"
    assert condition_words({"type": "property", "property": "email", "op": "exists"}) == "email is set"
    assert condition_words({"type": "event", "event": "purchase"}) == "did purchase since entering"
    assert (
        condition_words({"type": "message", "node": "hi", "status": "read", "within_seconds": 86400})
        == "message of hi was read within 1 day"
    )
    assert duration_words(90) == "90 seconds" and duration_words(60) == "1 minute"
    assert node_summary({"type": "update_property", "property": "vip", "value": True}, names) == "Set vip to true"
    assert node_summary({"type": "update_property", "property": "plan", "value": "gold"}, names) == "Set plan to gold"


def test_durations_are_shown_in_the_largest_unit_that_fits() -> None:
    assert duration_split(3 * 86400) == (3, "days")
    assert duration_split(5400) == (90, "minutes")
    assert duration_split(90) == (90, "seconds")  # an API-made wait keeps its exact length
    assert duration_split(None) == (None, "days")


def test_new_steps_get_a_free_name_from_their_kind() -> None:
    journey = Journey(nodes=[{"id": "message_1", "type": "send_template"}, {"id": "wait_1", "type": "wait"}])
    assert node_id_free(journey, "send_template") == "message_2"
    assert node_id_free(journey, "branch") == "branch_1"
