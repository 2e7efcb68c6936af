"""WhatsApp's template rules, one by one; each error must land on the field that is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from templates_app.models import Template
from templates_app.rules import problems_by_field, template_problems


def errors_for(**fields: Any) -> dict[str, list[str]]:
    base: dict[str, Any] = {
        "name": "spring_sale",
        "language": "en_US",
        "category": "marketing",
        "status": "approved",
        "header_type": "none",
        "body": "Hi {{1}}",
    }
    base.update(fields)
    return problems_by_field(template_problems(Template(**base)))


def button_errors(buttons: list[dict[str, Any]]) -> list[tuple[int | None, str | None, str]]:
    template = Template(name="t", language="en_US", body="Hi", buttons=buttons)
    return [(p.button, p.button_key, p.message) for p in template_problems(template) if p.field == "buttons"]


def test_a_valid_template_has_no_problems() -> None:
    assert errors_for() == {}


def test_name_must_be_whatsapp_style() -> None:
    assert "name" in errors_for(name="Spring Sale")
    assert "name" in errors_for(name="")
    assert errors_for(name="spring_sale_2") == {}


def test_language_must_be_a_whatsapp_locale() -> None:
    assert "not a WhatsApp language code" in errors_for(language="english")["language"][0]
    assert errors_for(language="pt_BR") == {}


def test_category_and_status_must_be_known() -> None:
    errors = errors_for(category="promo", status="live")
    assert set(errors) == {"category", "status"}


def test_header_text_at_most_60_characters() -> None:
    assert errors_for(header_type="text", header_text="x" * 60) == {}
    assert "at most 60 characters (it has 61)" in errors_for(header_type="text", header_text="x" * 61)["header_text"][0]


def test_header_text_at_most_one_variable_and_it_is_1() -> None:
    assert "at most one variable" in errors_for(header_type="text", header_text="{{1}} and {{2}}")["header_text"][0]
    assert "must be {{1}}" in errors_for(header_type="text", header_text="Order {{2}}")["header_text"][0]
    assert errors_for(header_type="text", header_text="Order {{1}}") == {}


def test_text_header_needs_text_and_other_headers_refuse_it() -> None:
    assert "header_text" in errors_for(header_type="text", header_text="")
    assert "only used with a text header" in errors_for(header_type="image", header_text="Hi")["header_text"][0]


def test_media_url_must_be_http_and_only_for_media_headers() -> None:
    assert "header_media_url" in errors_for(header_type="image", header_media_url="ftp://example.com/a.jpg")
    assert "header_media_url" in errors_for(header_type="none", header_media_url="https://example.com/a.jpg")
    assert errors_for(header_type="video", header_media_url="https://example.com/a.mp4") == {}


def test_location_header_needs_coordinates_in_range() -> None:
    assert "header_location" in errors_for(header_type="location", header_location={"latitude": 95, "longitude": 0})
    assert "header_location" in errors_for(header_type="location", header_location={"latitude": "north"})
    assert errors_for(header_type="location", header_location={"latitude": 51.5, "longitude": -0.1}) == {}


def test_body_is_required_and_at_most_1024_characters() -> None:
    assert "body" in errors_for(body="  ")
    assert errors_for(body="x" * 1024) == {}
    assert "at most 1024 characters" in errors_for(body="x" * 1025)["body"][0]


def test_body_variables_are_numbered_without_gaps() -> None:
    message = errors_for(body="Hi {{1}}, code {{3}}")["body"][0]
    assert "without gaps" in message and "{{1}}, {{2}}" in message
    assert "body" in errors_for(body="Hi {{2}}")
    assert errors_for(body="{{2}} then {{1}} and {{1}} again") == {}


def test_malformed_placeholders_are_reported() -> None:
    assert "{{name}}" in errors_for(body="Hi {{name}}")["body"][0]
    assert "body" in errors_for(body="Hi {{ 1 }}")


def test_footer_at_most_60_characters_and_no_variables() -> None:
    assert "footer" in errors_for(footer="x" * 61)
    assert "cannot contain variables" in errors_for(footer="Hi {{1}}")["footer"][0]
    assert errors_for(footer="x" * 60) == {}


def test_up_to_ten_buttons_in_all() -> None:
    ten = [{"type": "quick_reply", "text": f"Answer {n}"} for n in range(10)]
    assert button_errors(ten) == []
    problems = errors_for(buttons=[*ten, {"type": "quick_reply", "text": "Eleven"}])["buttons"]
    assert problems == ["A template has at most 10 buttons (this one has 11)."]


def test_at_most_two_url_buttons_and_one_phone_button() -> None:
    url = {"type": "url", "text": "Shop", "url": "https://example.com"}
    phone = {"type": "phone_number", "text": "Call", "phone_number": "+447700900123"}
    assert button_errors([url, url, phone]) == []
    assert button_errors([url, url, url]) == [(2, "type", "At most 2 URL buttons.")]
    assert button_errors([phone, phone]) == [(1, "type", "At most 1 phone number button.")]


def test_quick_replies_and_call_to_action_combine_when_grouped() -> None:
    yes, no = {"type": "quick_reply", "text": "Yes"}, {"type": "quick_reply", "text": "No"}
    url = {"type": "url", "text": "Go", "url": "https://a.io"}
    phone = {"type": "phone_number", "text": "Call", "phone_number": "+447700900123"}
    assert button_errors([yes, no, url, phone]) == []
    assert button_errors([url, phone, yes, no]) == []
    problems = button_errors([yes, url, no])
    assert [(index, key) for index, key, _ in problems] == [(2, "type")]
    assert "Keep the quick replies together" in problems[0][2]


def test_button_text_is_required_and_at_most_25_characters() -> None:
    assert button_errors([{"type": "quick_reply", "text": "x" * 25}]) == []
    assert button_errors([{"type": "quick_reply", "text": "x" * 26}])[0][:2] == (0, "text")
    assert button_errors([{"type": "quick_reply", "text": ""}])[0][:2] == (0, "text")


def test_button_type_must_be_known() -> None:
    assert button_errors([{"type": "flow", "text": "Go"}])[0][:2] == (0, "type")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/offers", True),
        ("https://example.com/track/{{1}}", True),
        ("http://example.com", True),
        ("ftp://example.com", False),
        ("example.com", False),
        ("https://example.com/{{1}}/more", False),
        ("https://{{1}}", False),
        ("", False),
    ],
)
def test_url_buttons_need_http_urls_with_an_optional_final_variable(url: str, ok: bool) -> None:
    problems = button_errors([{"type": "url", "text": "Go", "url": url}])
    assert (problems == []) is ok
    if not ok:
        assert problems[0][:2] == (0, "url")


@pytest.mark.parametrize(
    ("number", "ok"), [("+447700900123", True), ("447700900123", False), ("+44 7700 900123", False), ("123", False)]
)
def test_phone_buttons_need_e164_numbers(number: str, ok: bool) -> None:
    problems = button_errors([{"type": "phone_number", "text": "Call", "phone_number": number}])
    assert (problems == []) is ok
    if not ok:
        assert problems[0][:2] == (0, "phone_number")


def test_buttons_must_be_a_list_of_objects() -> None:
    assert "list of objects" in errors_for(buttons={"type": "url"})["buttons"][0]
    assert "list of objects" in errors_for(buttons=["Yes"])["buttons"][0]


def test_button_messages_name_their_button() -> None:
    errors = errors_for(buttons=[{"type": "quick_reply", "text": "Yes"}, {"type": "quick_reply", "text": ""}])
    assert errors["buttons"] == ["Button 2: Enter the button's text."]
