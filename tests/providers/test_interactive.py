"""Interactive messages (reply buttons, lists): WhatsApp's limits checked in one place, and the bodies built for v0.1
and v1 conform to Nexmo's envelope and to WhatsApp's interactive object (tests/fixtures/schemas)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from providers.content import InteractiveContent
from providers.interactive import interactive_object, interactive_parse, interactive_summary
from providers.nexmo.payloads import body_v01, body_v1, client_ref_for, content_describe
from tests.vonage_fixtures import schema

BUTTONS = {
    "text": "Shall we keep your table for tonight?",
    "header": "Booking",
    "footer": "Reply any time",
    "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}, {"id": "later", "title": "Later"}],
}
LIST = {
    "text": "Pick a delivery slot",
    "list": {
        "button": "See slots",
        "sections": [
            {"title": "Morning", "rows": [{"id": "9am", "title": "9:00", "description": "Between 9 and 10"}]},
            {"title": "Afternoon", "rows": [{"id": "2pm", "title": "14:00"}, {"id": "4pm", "title": "16:00"}]},
        ],
    },
}
REF = client_ref_for(origin="journey", origin_ref="journey:1:ask:1:0", recipient="+447700900001")


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


def _content(data: dict[str, Any]) -> InteractiveContent:
    content, problems = interactive_parse(data)
    assert problems == []
    assert content is not None
    return content


def _problems(data: dict[str, Any]) -> dict[str, str]:
    content, problems = interactive_parse(data)
    assert content is None
    return dict(problems)


@pytest.mark.parametrize("data", [BUTTONS, LIST], ids=["buttons", "list"])
@pytest.mark.parametrize("builder", [body_v01, body_v1], ids=["v0.1", "v1"])
def test_built_bodies_conform_to_the_envelope_and_to_whatsapps_interactive_object(
    builder: Any, data: dict[str, Any]
) -> None:
    body = builder(content=_content(data), from_number="+447700900000", to="+447700900001", client_ref=REF)
    if builder is body_v01:
        _validator("whatsapp-send-v0.1.schema.json").validate(body)
        assert body["message"]["content"]["type"] == "custom"
        custom = body["message"]["content"]["custom"]
    else:
        _validator("whatsapp-send-v1.schema.json").validate(body)
        assert body["message_type"] == "custom"
        custom = body["custom"]
    _validator("whatsapp-interactive.schema.json").validate(custom)
    assert custom["type"] == "interactive"


def test_reply_buttons_keep_their_ids_titles_header_and_footer_in_order() -> None:
    interactive = interactive_object(_content(BUTTONS))["interactive"]
    assert interactive["type"] == "button"
    assert interactive["header"] == {"type": "text", "text": "Booking"}
    assert interactive["footer"] == {"text": "Reply any time"}
    assert [b["reply"] for b in interactive["action"]["buttons"]] == [
        {"id": "yes", "title": "Yes"},
        {"id": "no", "title": "No"},
        {"id": "later", "title": "Later"},
    ]


def test_a_list_keeps_its_sections_rows_and_descriptions() -> None:
    interactive = interactive_object(_content(LIST))["interactive"]
    assert interactive["type"] == "list"
    assert "header" not in interactive and "footer" not in interactive
    assert interactive["action"]["button"] == "See slots"
    first, second = interactive["action"]["sections"]
    assert first == {"title": "Morning", "rows": [{"id": "9am", "title": "9:00", "description": "Between 9 and 10"}]}
    assert [row["id"] for row in second["rows"]] == ["2pm", "4pm"]
    assert _content(LIST).choices() == [("9am", "9:00"), ("2pm", "14:00"), ("4pm", "16:00")]


def test_the_message_log_shows_the_text_and_the_options() -> None:
    kind, summary = content_describe(_content(BUTTONS))
    assert kind == "interactive"
    assert summary == "Booking\nShall we keep your table for tonight?\nReply any time\n[Yes] [No] [Later]"
    assert interactive_summary(_content(LIST)).endswith("See slots: [9:00] [14:00] [16:00]")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"buttons": [{"id": f"b{n}", "title": f"B{n}"} for n in range(4)]}, "buttons", "at most 3"),
        ({"buttons": [{"id": "a", "title": "Yes"}, {"id": "a", "title": "No"}]}, "buttons[1].id", "each must be"),
        ({"buttons": [{"id": "a", "title": "Yes"}, {"id": "b", "title": "yes"}]}, "buttons[1].title", "each must"),
        ({"buttons": [{"id": "a", "title": " "}]}, "buttons[0].title", "Write it"),
        ({"buttons": [{"id": "a", "title": "x" * 21}]}, "buttons[0].title", "At most 20"),
        ({"buttons": [{"id": "i" * 257, "title": "Yes"}]}, "buttons[0].id", "At most 256"),
        ({"buttons": [], "list": None}, "buttons", "reply buttons (up to 3) or a list"),
        ({"text": ""}, "text", "Write it"),
        ({"text": "x" * 1025}, "text", "At most 1024"),
        ({"header": "h" * 61}, "header", "At most 60"),
        ({"footer": "f" * 61}, "footer", "At most 60"),
        ({"list": LIST["list"]}, "buttons", "not both"),
    ],
)
def test_buttons_breaking_whatsapps_limits_are_refused_with_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    problems = _problems({**BUTTONS, **change})
    assert field in problems, problems
    assert words in problems[field]


def _list_with(**changes: Any) -> dict[str, Any]:
    return {"text": "Pick one", "list": {"button": "Open", **changes}}


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            _list_with(sections=[{"rows": [{"id": f"r{n}", "title": f"R{n}"} for n in range(11)]}]),
            "list.sections",
            "10",
        ),
        (_list_with(sections=[]), "list.sections", "at least one section"),
        (_list_with(sections=[{"title": "A", "rows": []}]), "list.sections[0].rows", "at least one row"),
        (_list_with(sections=[{"rows": [{"id": "r", "title": "t" * 25}]}]), "list.sections[0].rows[0].title", "24"),
        (
            _list_with(sections=[{"rows": [{"id": "r", "title": "t", "description": "d" * 73}]}]),
            "list.sections[0].rows[0].description",
            "72",
        ),
        (
            _list_with(
                sections=[{"rows": [{"id": "r", "title": "a"}]}, {"title": "B", "rows": [{"id": "s", "title": "b"}]}]
            ),
            "list.sections[0].title",
            "Write it",
        ),
        ({"text": "Pick", "list": {"sections": [{"rows": [{"id": "r", "title": "a"}]}]}}, "list.button", "Write it"),
        ({"text": "Pick", "list": "rows"}, "list", "button label and sections"),
    ],
)
def test_lists_breaking_whatsapps_limits_are_refused_with_the_field(
    data: dict[str, Any], field: str, words: str
) -> None:
    problems = _problems(data)
    assert field in problems, problems
    assert words in problems[field]
