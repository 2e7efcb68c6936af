"""Rendering: every header and button combination into content objects with WhatsApp's component shapes, and the
sources a value can come from."""

from __future__ import annotations

from typing import Any

import pytest

from contacts.models import Contact
from providers.content import CustomTemplateContent, TemplateContent
from templates_app.models import Template
from templates_app.rendering import (
    TemplateRenderError,
    TemplateVariableMissing,
    template_preview_text,
    template_render,
    template_rendering,
    template_slots,
    template_variables_problems,
)
from templates_app.rules import template_problems

IMAGE = "https://cdn.example.com/spring.jpg"
HEADERS: dict[str, dict[str, Any]] = {
    "none": {"header_type": "none"},
    "text": {"header_type": "text", "header_text": "Spring sale"},
    "text_variable": {"header_type": "text", "header_text": "Hello {{1}}"},
    "image": {"header_type": "image", "header_media_url": IMAGE},
    "video": {"header_type": "video", "header_media_url": "https://cdn.example.com/clip.mp4"},
    "document": {"header_type": "document", "header_media_url": "https://cdn.example.com/docs/terms.pdf"},
    "location": {"header_type": "location", "header_location": {"latitude": 51.5, "longitude": -0.12, "name": "Shop"}},
}
BUTTONS: dict[str, list[dict[str, str]]] = {
    "none": [],
    "quick_replies": [{"type": "quick_reply", "text": "Yes"}, {"type": "quick_reply", "text": "No"}],
    "quick_replies_with_payloads": [
        {"type": "quick_reply", "text": "Yes", "payload": "YES"},
        {"type": "quick_reply", "text": "No", "payload": "NO"},
    ],
    "url": [{"type": "url", "text": "Shop", "url": "https://example.com/shop"}],
    "url_dynamic": [{"type": "url", "text": "Track", "url": "https://example.com/track/{{1}}"}],
    "phone": [{"type": "phone_number", "text": "Call us", "phone_number": "+447700900123"}],
    "url_dynamic_and_phone": [
        {"type": "phone_number", "text": "Call us", "phone_number": "+447700900123"},
        {"type": "url", "text": "Track", "url": "https://example.com/track/{{1}}"},
    ],
}
MEDIA_KEYS = {"image": "image", "video": "video", "document": "document", "location": "location"}


def make(**fields: Any) -> Template:
    data: dict[str, Any] = {"name": "spring_sale", "language": "en_GB", "body": "Hi {{1}}, code {{2}}"}
    data.update(fields)
    return Template(**data)


def assert_whatsapp_component(component: dict[str, Any]) -> None:
    """The shapes of WhatsApp's template `components` (Cloud API message object)."""
    kind = component["type"]
    assert kind in ("header", "body", "button")
    assert isinstance(component["parameters"], list) and component["parameters"]
    for parameter in component["parameters"]:
        ptype = parameter["type"]
        if ptype == "text":
            assert isinstance(parameter["text"], str) and parameter["text"]
        elif ptype == "payload":
            assert kind == "button" and isinstance(parameter["payload"], str)
        elif ptype in ("image", "video", "document"):
            assert kind == "header" and parameter[ptype]["link"].startswith("https://")
        elif ptype == "location":
            assert kind == "header"
            assert isinstance(parameter["location"]["latitude"], float)
            assert isinstance(parameter["location"]["longitude"], float)
        else:
            pytest.fail(f"unknown parameter type {ptype}")
    if kind == "button":
        assert component["sub_type"] in ("quick_reply", "url")
        assert isinstance(component["index"], str) and component["index"].isdigit()
        expected = "payload" if component["sub_type"] == "quick_reply" else "text"
        assert [p["type"] for p in component["parameters"]] == [expected]
    else:
        assert set(component) == {"type", "parameters"}


@pytest.mark.parametrize("buttons_name", list(BUTTONS))
@pytest.mark.parametrize("header_name", list(HEADERS))
def test_every_header_and_button_combination_renders_whatsapp_components(header_name: str, buttons_name: str) -> None:
    template = make(**HEADERS[header_name], buttons=BUTTONS[buttons_name])
    assert template_problems(template) == []
    parameters = (
        {"1": "Ann", "2": "SPRING", "header": "Ann"} if header_name == "text_variable" else {"1": "Ann", "2": "SPRING"}
    )
    if "dynamic" in buttons_name:
        parameters[f"button.{len(BUTTONS[buttons_name]) - 1}"] = "ORD-42"

    content = template_render(template, parameters=parameters)

    needs_custom = header_name in MEDIA_KEYS or header_name == "text_variable"
    needs_custom = needs_custom or buttons_name in (
        "quick_replies_with_payloads",
        "url_dynamic",
        "url_dynamic_and_phone",
    )
    if not needs_custom:
        assert content == TemplateContent(name="spring_sale", language="en_GB", parameters=("Ann", "SPRING"))
        return
    assert isinstance(content, CustomTemplateContent)
    assert (content.name, content.language) == ("spring_sale", "en_GB")
    for component in content.components:
        assert_whatsapp_component(component)
    kinds = [c["type"] for c in content.components]
    assert kinds == sorted(kinds, key=["header", "body", "button"].index), "header, then body, then buttons"
    body = next(c for c in content.components if c["type"] == "body")
    assert body["parameters"] == [{"type": "text", "text": "Ann"}, {"type": "text", "text": "SPRING"}]
    headers = [c for c in content.components if c["type"] == "header"]
    if header_name == "none" or header_name == "text":
        assert headers == []
    elif header_name == "text_variable":
        assert headers == [{"type": "header", "parameters": [{"type": "text", "text": "Ann"}]}]
    else:
        assert headers[0]["parameters"][0]["type"] == MEDIA_KEYS[header_name]
    buttons = [c for c in content.components if c["type"] == "button"]
    if buttons_name == "quick_replies_with_payloads":
        assert buttons == [
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "0",
                "parameters": [{"type": "payload", "payload": "YES"}],
            },
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": "1",
                "parameters": [{"type": "payload", "payload": "NO"}],
            },
        ]
    elif "dynamic" in buttons_name:
        index = str(len(BUTTONS[buttons_name]) - 1)
        assert buttons == [
            {"type": "button", "sub_type": "url", "index": index, "parameters": [{"type": "text", "text": "ORD-42"}]}
        ]
    else:
        assert buttons == []


def test_media_headers_have_whatsapp_shapes() -> None:
    image = template_render(make(**HEADERS["image"]), parameters={"1": "A", "2": "B"})
    assert image.components[0] == {"type": "header", "parameters": [{"type": "image", "image": {"link": IMAGE}}]}  # type: ignore[union-attr]
    document = template_render(make(**HEADERS["document"]), parameters={"1": "A", "2": "B"})
    assert document.components[0]["parameters"][0] == {  # type: ignore[union-attr]
        "type": "document",
        "document": {"link": "https://cdn.example.com/docs/terms.pdf", "filename": "terms.pdf"},
    }
    location = template_render(make(**HEADERS["location"]), parameters={"1": "A", "2": "B"})
    assert location.components[0]["parameters"][0] == {  # type: ignore[union-attr]
        "type": "location",
        "location": {"latitude": 51.5, "longitude": -0.12, "name": "Shop"},
    }


def test_a_media_url_given_at_send_time_replaces_the_example() -> None:
    content = template_render(
        make(**HEADERS["image"]), parameters={"1": "A", "2": "B"}, header_media_url="https://x.io/b.png"
    )
    assert content.components[0]["parameters"][0]["image"]["link"] == "https://x.io/b.png"  # type: ignore[union-attr]


def test_a_media_header_without_any_url_is_a_missing_value() -> None:
    with pytest.raises(TemplateVariableMissing) as caught:
        template_render(make(header_type="image"), parameters={"1": "A", "2": "B"})
    assert caught.value.variable == "header"
    assert "header image URL" in str(caught.value)


def test_a_missing_body_value_names_the_variable() -> None:
    with pytest.raises(TemplateVariableMissing) as caught:
        template_render(make(), parameters={"1": "Ann"})
    assert caught.value.variable == "2"
    assert "{{2}}" in str(caught.value)


def test_an_empty_value_is_missing_never_sent_empty() -> None:
    with pytest.raises(TemplateVariableMissing):
        template_render(make(), parameters={"1": "Ann", "2": "   "})


def test_a_dynamic_url_suffix_is_required() -> None:
    with pytest.raises(TemplateVariableMissing) as caught:
        template_render(make(buttons=BUTTONS["url_dynamic"]), parameters={"1": "A", "2": "B"})
    assert caught.value.variable == "button.0"


def test_values_come_from_contact_fields_properties_events_and_constants() -> None:
    contact = Contact(phone="+447700900001", name="Ann", properties={"tier": "gold", "address": {"city": "Leeds"}})
    template = make(body="{{1}} {{2}} {{3}} {{4}} {{5}} {{6}}")
    variables = {
        "1": {"property": "name"},
        "2": {"property": "tier"},
        "3": {"property": "address.city"},
        "4": {"field": "phone"},
        "5": {"event": "order.id"},
        "6": {"value": "SPRING"},
    }
    content = template_render(template, contact=contact, variables=variables, event_properties={"order": {"id": 42}})
    assert content.parameters == ("Ann", "gold", "Leeds", "+447700900001", "42", "SPRING")  # type: ignore[union-attr]


def test_fallbacks_fill_empty_values() -> None:
    contact = Contact(phone="+447700900001", name="", properties={})
    variables = {"1": {"property": "name", "fallback": "there"}, "2": {"property": "code", "fallback": "WELCOME"}}
    content = template_render(make(), contact=contact, variables=variables)
    assert content.parameters == ("there", "WELCOME")  # type: ignore[union-attr]


def test_a_property_without_value_or_fallback_is_missing() -> None:
    contact = Contact(phone="+447700900001", name="Ann", properties={})
    with pytest.raises(TemplateVariableMissing) as caught:
        template_render(make(), contact=contact, variables={"1": {"property": "name"}, "2": {"property": "code"}})
    assert caught.value.variable == "2"


def test_explicit_parameters_win_over_the_mapping() -> None:
    contact = Contact(phone="+447700900001", name="Ann")
    content = template_render(
        make(), contact=contact, variables={"1": {"property": "name"}, "2": "SPRING"}, parameters={"1": "Bob"}
    )
    assert content.parameters == ("Bob", "SPRING")  # type: ignore[union-attr]


def test_bad_mappings_are_render_errors() -> None:
    with pytest.raises(TemplateRenderError, match="exactly one of"):
        template_render(make(), variables={"1": {"property": "a", "value": "b"}, "2": "x"})
    with pytest.raises(TemplateRenderError, match="not one of"):
        template_render(make(), variables={"1": {"field": "password"}, "2": "x"})
    with pytest.raises(TemplateRenderError, match="must be text"):
        template_render(make(), parameters={"1": ["a"], "2": "x"})


def test_whitespace_whatsapp_refuses_is_collapsed() -> None:
    content = template_render(make(), parameters={"1": "Ann\nSmith", "2": "A\t     B"})
    assert content.parameters == ("Ann Smith", "A B")  # type: ignore[union-attr]


def test_a_header_value_may_not_push_the_header_past_60_characters() -> None:
    with pytest.raises(TemplateRenderError, match="longer than 60"):
        template_render(make(**HEADERS["text_variable"]), parameters={"1": "a", "2": "b", "header": "x" * 60})


def test_quick_reply_payload_can_be_given_at_send_time() -> None:
    content = template_render(
        make(buttons=BUTTONS["quick_replies"]), parameters={"1": "a", "2": "b", "button.1": "NOPE"}
    )
    assert content.components[-1] == {  # type: ignore[union-attr]
        "type": "button",
        "sub_type": "quick_reply",
        "index": "1",
        "parameters": [{"type": "payload", "payload": "NOPE"}],
    }


def test_preview_text_fills_values_and_lists_buttons() -> None:
    template = make(**HEADERS["image"], footer="Reply STOP to opt out", buttons=BUTTONS["quick_replies_with_payloads"])
    rendered = template_rendering(template, parameters={"1": "Ann", "2": "SPRING"})
    assert rendered.preview == f"[Image: {IMAGE}]\nHi Ann, code SPRING\nReply STOP to opt out\n[Yes] [No]"
    assert template_preview_text(template).startswith("[Image")
    assert "Hi {{1}}, code {{2}}" in template_preview_text(template)


def test_preview_text_shows_the_url_with_its_suffix() -> None:
    rendered = template_rendering(make(body="Hi", buttons=BUTTONS["url_dynamic"]), parameters={"button.0": "ORD-42"})
    assert rendered.preview == "Hi\n[Track → https://example.com/track/ORD-42]"


def test_slots_list_what_a_send_must_fill() -> None:
    template = make(**HEADERS["text_variable"], buttons=BUTTONS["url_dynamic_and_phone"])
    assert [(s.key, s.required) for s in template_slots(template)] == [
        ("header", True),
        ("1", True),
        ("2", True),
        ("button.1", True),
    ]


def test_mapping_problems_for_campaign_forms() -> None:
    problems = template_variables_problems(make(), {"1": {"property": "name"}, "3": "x", "2": {"nope": 1}})
    assert set(problems) == {"3", "2"}
