"""Every body the builders produce is one the Messages API accepts: checked against our JSON Schemas of the v0.1 and
v1 WhatsApp send requests (tests/fixtures/schemas), written from https://developer.vonage.com/en/api/messages-olympus
and https://developer.vonage.com/en/api/messages. Each schema also has to refuse what the API refuses."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from providers.content import Content, CustomTemplateContent, MediaContent, TemplateContent, TextContent
from providers.nexmo.payloads import CLIENT_REF_MAX, body_v01, body_v1, client_ref_for, template_name
from tests.vonage_fixtures import FIXTURES_DIR, SCHEMAS_DIR, load, schema

CONTENTS: dict[str, Content] = {
    "text": TextContent(text="Hello Ann"),
    "image": MediaContent(kind="image", url="https://example.com/cat.jpg", caption="Our cat"),
    "video": MediaContent(kind="video", url="https://example.com/clip.mp4"),
    "file": MediaContent(kind="file", url="https://example.com/report.pdf", caption="Your report"),
    "audio": MediaContent(kind="audio", url="https://example.com/hello.mp3"),
    "template": TemplateContent(name="order_shipped", language="en_GB", parameters=("Ann", "A-123")),
    "template-no-params": TemplateContent(name="welcome", language="en_GB"),
}
CUSTOM = CustomTemplateContent(
    name="spring_sale",
    language="en_GB",
    components=(
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/sale.jpg"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ann"}]},
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": "Y"}],
        },
    ),
)
REF = client_ref_for(origin="campaign", origin_ref="campaign:7", recipient="+447700900001")


V01 = "whatsapp-send-v0.1.schema.json"
V1 = "whatsapp-send-v1.schema.json"
PROBLEM = "problem.schema.json"


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


def _validate(name: str, body: Any) -> None:
    _validator(name).validate(body)


def _refused(name: str, body: Any) -> list[str]:
    """Why the schema refuses `body`: the failing keywords, [] when it accepts it."""
    return [error.message for error in _validator(name).iter_errors(body)]


@pytest.mark.parametrize("kind", sorted(CONTENTS))
def test_v01_bodies_match_the_v01_schema(kind: str) -> None:
    body = body_v01(
        content=CONTENTS[kind], from_number="+447700900000", to="+447700900001", client_ref=REF, namespace="acme_ns"
    )
    _validate(V01, body)
    assert body["client_ref"] == REF
    assert body["to"] == {"type": "whatsapp", "number": "447700900001"}


@pytest.mark.parametrize("kind", sorted(CONTENTS))
def test_v1_bodies_match_the_v1_schema(kind: str) -> None:
    body = body_v1(
        content=CONTENTS[kind], from_number="+447700900000", to="+447700900001", client_ref=REF, namespace="acme_ns"
    )
    _validate(V1, body)
    assert body["client_ref"] == REF
    assert body["channel"] == "whatsapp"


def test_template_name_carries_the_namespace() -> None:
    body = body_v01(
        content=CONTENTS["template"],
        from_number="+447700900000",
        to="+447700900001",
        client_ref=REF,
        namespace="acme_ns",
    )
    assert body["message"]["content"]["template"] == {"name": "acme_ns:order_shipped", "parameters": ["Ann", "A-123"]}
    assert body["message"]["whatsapp"] == {"policy": "deterministic", "locale": "en_GB"}
    assert template_name(namespace="acme_ns", name="other:welcome") == "other:welcome"


@pytest.mark.parametrize("builder", [body_v01, body_v1])
def test_custom_template_matches_the_schema_and_carries_whatsapp_components(builder: Any) -> None:
    # `custom` passes WhatsApp's own template object through: the schemas check the envelope and that it is an
    # object with a type; its inside is checked here against WhatsApp's template shape.
    body = builder(content=CUSTOM, from_number="+447700900000", to="+447700900001", client_ref=REF, namespace="acme_ns")
    if builder is body_v01:
        _validate(V01, body)
        custom = body["message"]["content"]["custom"]
        assert body["message"]["content"]["type"] == "custom"
    else:
        _validate(V1, body)
        custom = body["custom"]
        assert body["message_type"] == "custom"
    assert custom["type"] == "template"
    assert custom["template"]["namespace"] == "acme_ns"
    assert custom["template"]["language"] == {"policy": "deterministic", "code": "en_GB"}
    assert [c["type"] for c in custom["template"]["components"]] == ["header", "body", "button"]


def _build(builder: Any, kind: str) -> dict[str, Any]:
    content = CUSTOM if kind == "custom" else CONTENTS[kind]
    body: dict[str, Any] = builder(
        content=content, from_number="+447700900000", to="+447700900001", client_ref=REF, namespace="acme_ns"
    )
    return body


Mutation = Callable[[dict[str, Any]], object]
# (what the API refuses, the content to start from, how to break the body): one case per rule of the schema.
V01_REFUSED: list[tuple[str, str, Mutation]] = [
    ("no to", "text", lambda b: b.pop("to")),
    ("no from", "text", lambda b: b.pop("from")),
    ("no message content", "text", lambda b: b["message"].pop("content")),
    ("a number with +", "text", lambda b: b["to"].update(number="+447700900001")),
    ("a channel other than whatsapp", "text", lambda b: b["from"].update(type="sms")),
    ("an empty text", "text", lambda b: b["message"]["content"].update(text="")),
    ("a text over 4096 characters", "text", lambda b: b["message"]["content"].update(text="x" * 4097)),
    ("a client_ref over 40 characters", "text", lambda b: b.update(client_ref="r" * 41)),
    ("a type v0.1 does not send", "text", lambda b: b["message"]["content"].update(type="sticker")),
    ("an image without url", "image", lambda b: b["message"]["content"]["image"].pop("url")),
    ("a url that is not http(s)", "file", lambda b: b["message"]["content"]["file"].update(url="report.pdf")),
    ("a caption on audio", "audio", lambda b: b["message"]["content"]["audio"].update(caption="hi")),
    ("a template without whatsapp settings", "template", lambda b: b["message"].pop("whatsapp")),
    ("the fallback policy", "template", lambda b: b["message"]["whatsapp"].update(policy="fallback")),
    ("a template without locale", "template", lambda b: b["message"]["whatsapp"].pop("locale")),
    ("a template without name", "template", lambda b: b["message"]["content"]["template"].pop("name")),
    (
        "a parameter that is not a string",
        "template",
        lambda b: b["message"]["content"]["template"]["parameters"].append(7),
    ),
    ("an empty custom object", "custom", lambda b: b["message"]["content"].update(custom={})),
    ("an unknown field", "text", lambda b: b.update(channel="whatsapp")),
]
V1_REFUSED: list[tuple[str, str, Mutation]] = [
    ("no to", "text", lambda b: b.pop("to")),
    ("no from", "text", lambda b: b.pop("from")),
    ("no message_type", "text", lambda b: b.pop("message_type")),
    ("a number with +", "text", lambda b: b.update(to="+447700900001")),
    ("a number too short", "text", lambda b: b.update(to="447700")),
    ("a channel other than whatsapp", "text", lambda b: b.update(channel="sms")),
    ("a text over 4096 characters", "text", lambda b: b.update(text="x" * 4097)),
    ("a client_ref over 100 characters", "text", lambda b: b.update(client_ref="r" * 101)),
    ("a type WhatsApp does not have", "text", lambda b: b.update(message_type="vcard")),
    ("an image without url", "image", lambda b: b["image"].pop("url")),
    ("an image caption over 3000 characters", "image", lambda b: b["image"].update(caption="c" * 3001)),
    ("a caption on audio", "audio", lambda b: b["audio"].update(caption="hi")),
    ("a template without whatsapp settings", "template", lambda b: b.pop("whatsapp")),
    ("the fallback policy", "template", lambda b: b["whatsapp"].update(policy="fallback")),
    ("a template without policy", "template", lambda b: b["whatsapp"].pop("policy")),
    ("a template without locale", "template", lambda b: b["whatsapp"].pop("locale")),
    ("whatsapp settings on a text", "text", lambda b: b.update(whatsapp={"policy": "deterministic", "locale": "en"})),
    ("the field of another type", "image", lambda b: b.update(text="also a text")),
    ("an empty custom object", "custom", lambda b: b.update(custom={})),
    ("a webhook version that does not exist", "text", lambda b: b.update(webhook_version="v2")),
]


@pytest.mark.parametrize(("why", "kind", "mutate"), V01_REFUSED, ids=[case[0] for case in V01_REFUSED])
def test_the_v01_schema_refuses_what_the_api_refuses(why: str, kind: str, mutate: Mutation) -> None:
    body = _build(body_v01, kind)
    assert _refused(V01, body) == []
    broken = copy.deepcopy(body)
    mutate(broken)
    assert _refused(V01, broken), f"{why} was accepted"


@pytest.mark.parametrize(("why", "kind", "mutate"), V1_REFUSED, ids=[case[0] for case in V1_REFUSED])
def test_the_v1_schema_refuses_what_the_api_refuses(why: str, kind: str, mutate: Mutation) -> None:
    body = _build(body_v1, kind)
    assert _refused(V1, body) == []
    broken = copy.deepcopy(body)
    mutate(broken)
    assert _refused(V1, broken), f"{why} was accepted"


def test_the_v1_schema_takes_the_documented_extras() -> None:
    body = _build(body_v1, "text") | {
        "client_ref": "r" * 100,
        "webhook_url": "https://hooks.example.com/status",
        "webhook_version": "v1",
        "context": {"message_uuid": "77381832-259b-4dce-bf4a-d41ea8d73052"},
    }
    assert _refused(V1, body) == []
    sticker = {"channel": "whatsapp", "message_type": "sticker", "to": "447700900001", "from": "447700900000"}
    assert _refused(V1, sticker | {"sticker": {"id": "sticker-17"}}) == []
    assert _refused(V1, sticker | {"sticker": {"url": "https://example.com/s.webp", "id": "sticker-17"}})


ERROR_FIXTURES = sorted(path.name for path in FIXTURES_DIR.glob("*error-*.json"))


@pytest.mark.parametrize("name", ERROR_FIXTURES)
def test_every_error_fixture_matches_the_problem_schema(name: str) -> None:
    _validate(PROBLEM, load(name))


@pytest.mark.parametrize(
    ("why", "mutate"),
    [
        ("no instance", lambda e: e.pop("instance")),
        ("no detail", lambda e: e.pop("detail")),
        ("a title that is not a string", lambda e: e.update(title=1150)),
        ("a type without a code", lambda e: e.update(type="https://developer.vonage.com/api-errors/messages")),
        ("an invalid parameter without reason", lambda e: e["invalid_parameters"].append({"name": "to"})),
        ("an empty invalid_parameters", lambda e: e.update(invalid_parameters=[])),
        ("an unknown member", lambda e: e.update(code=1150)),
    ],
)
def test_the_problem_schema_refuses_a_malformed_error(why: str, mutate: Mutation) -> None:
    error = load("error-422.json")
    assert _refused(PROBLEM, error) == []
    mutate(error)
    assert _refused(PROBLEM, error), f"{why} was accepted"


def test_client_ref_is_deterministic_short_and_distinct() -> None:
    again = client_ref_for(origin="campaign", origin_ref="campaign:7", recipient="+447700900001")
    other_recipient = client_ref_for(origin="campaign", origin_ref="campaign:7", recipient="+447700900002")
    other_origin = client_ref_for(origin="journey", origin_ref="campaign:7", recipient="+447700900001")
    assert again == REF
    assert len({REF, other_recipient, other_origin}) == 3
    assert len(REF) <= CLIENT_REF_MAX
    assert REF.startswith("cmp-")


@pytest.mark.parametrize("path", sorted(SCHEMAS_DIR.glob("*.schema.json")), ids=lambda path: path.name)
def test_our_schema_files_are_valid_json_schemas(path: Any) -> None:
    Draft202012Validator.check_schema(schema(path.name))
    assert {V01, V1, PROBLEM} <= {p.name for p in SCHEMAS_DIR.glob("*.schema.json")}
