"""The simulator as the customer: inbound text, STOP and quick-reply taps, from the API, the page and the CLI."""

from __future__ import annotations

import hashlib
from io import StringIO
from typing import Any

import jwt
import pytest
from django.core.management import CommandError, call_command

from providers.simulator import CustomerError
from tests.simulator.conftest import BUSINESS, CUSTOMER, HTTP, SECRET, Keys, Receiver, send
from tests.vonage_fixtures import load


def custom_template() -> dict[str, Any]:
    """A raw WhatsApp template with two quick-reply buttons, as v0.1 `custom` content."""
    buttons = [
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": str(i),
            "parameters": [{"type": "payload", "payload": p}],
        }
        for i, p in enumerate(("YES", "NO"))
    ]
    return {
        "from": {"type": "whatsapp", "number": BUSINESS},
        "to": {"type": "whatsapp", "number": CUSTOMER},
        "message": {
            "content": {
                "type": "custom",
                "custom": {
                    "type": "template",
                    "template": {"name": "ns:confirm", "language": {"code": "en_GB"}, "components": buttons},
                },
            }
        },
    }


def inbound_posts(receiver: Receiver) -> list[Any]:
    return [p for p in receiver.posts if p.path == "/inbound"]


def test_customer_text_reaches_the_inbound_url_in_v01_shape(simulator: Any, receiver: Receiver) -> None:
    result = simulator.customer(from_number="+447700900001", to_number="+447700900000", text="Hello!")
    assert result["status"] == 200
    posted = inbound_posts(receiver)[0]
    assert set(posted.json) == set(load("v0.1-inbound-text.json"))
    assert posted.json["message"]["content"] == {"type": "text", "text": "Hello!"}
    assert posted.json["from"] == {"type": "whatsapp", "number": CUSTOMER}
    claims = jwt.decode(posted.headers["Authorization"][7:], SECRET, algorithms=["HS256"])
    assert claims["payload_hash"] == hashlib.sha256(posted.body).hexdigest()


def test_customer_stop_is_a_text_stop(simulator: Any, receiver: Receiver) -> None:
    simulator.customer(from_number=CUSTOMER, to_number=BUSINESS, stop=True)
    assert inbound_posts(receiver)[0].json["message"]["content"]["text"] == "STOP"


def test_customer_taps_a_quick_reply_of_a_delivered_template(simulator: Any, keys: Keys, receiver: Receiver) -> None:
    message_uuid = send(simulator, keys, custom_template()).json()["message_uuid"]
    simulator.customer(tap=message_uuid, index=1)
    content = inbound_posts(receiver)[0].json["message"]["content"]
    assert content == {"type": "button", "button": {"payload": "NO", "text": "NO"}}
    assert set(inbound_posts(receiver)[0].json) >= {"message_uuid", "to", "from", "timestamp", "message"}


def test_v1_provider_gets_v1_inbound_with_context(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(channel={"api_version": "v1"})
    message_uuid = send(handle, keys, custom_template()).json()["message_uuid"]
    handle.customer(tap=message_uuid, index=0)
    handle.customer(from_number=CUSTOMER, to_number=BUSINESS, text="hi")
    tap, text = (p.json for p in inbound_posts(receiver))
    assert tap["message_type"] == "button" and tap["button"]["payload"] == "YES"
    assert tap["context"]["message_uuid"] == message_uuid
    assert text["message_type"] == "text" and text["text"] == "hi" and text["from"] == CUSTOMER
    assert set(text) <= set(load("v1-inbound-text.json"))


def test_tap_on_a_message_without_buttons_is_refused(simulator: Any, keys: Keys) -> None:
    body = {
        "from": {"type": "whatsapp", "number": BUSINESS},
        "to": {"type": "whatsapp", "number": CUSTOMER},
        "message": {"content": {"type": "text", "text": "no buttons"}},
    }
    message_uuid = send(simulator, keys, body).json()["message_uuid"]
    with pytest.raises(CustomerError, match="no quick-reply buttons"):
        simulator.customer(tap=message_uuid)


def test_customer_to_an_unknown_number_is_refused_over_http(simulator: Any) -> None:
    answer = HTTP.post(
        f"{simulator.base_url}/_sim/customer", json={"from": CUSTOMER, "to": "447000000000", "text": "x"}
    )
    assert answer.status_code == 400
    assert "No provider number" in answer.json()["detail"]


def test_page_lists_recent_messages_with_customer_actions(simulator: Any, keys: Keys) -> None:
    send(simulator, keys, custom_template())
    page = HTTP.get(f"{simulator.base_url}/")
    assert page.status_code == 200
    assert "ns:confirm" in page.text
    assert ">reply</button>" in page.text and ">STOP</button>" in page.text and ">tap YES</button>" in page.text


def test_page_form_posts_the_reply_and_redirects(simulator: Any, receiver: Receiver) -> None:
    answer = HTTP.post(
        f"{simulator.base_url}/_sim/customer",
        data={"from": "+447700900001", "to": "+447700900000", "text": "from the page"},
        # What a browser sends with the page's own form.
        headers={"Origin": simulator.base_url, "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/?notice=Sent")
    assert inbound_posts(receiver)[0].json["message"]["content"]["text"] == "from the page"


def test_cli_customer_posts_through_the_running_simulator(simulator: Any, receiver: Receiver) -> None:
    out = StringIO()
    call_command(
        "nexmo_simulator",
        "customer",
        "--simulator-url",
        simulator.base_url,
        "--from",
        "+447700900001",
        "--to",
        "+447700900000",
        "--text",
        "from the CLI",
        stdout=out,
    )
    assert '"status": 200' in out.getvalue()
    assert inbound_posts(receiver)[0].json["message"]["content"]["text"] == "from the CLI"


def test_cli_customer_reports_a_refusal_clearly(simulator: Any) -> None:
    with pytest.raises(CommandError, match=r"No recent message"):
        call_command("nexmo_simulator", "customer", "--simulator-url", simulator.base_url, "--tap", "nope")


CROSS_ORIGIN = [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "same-site"},
    {},  # a form post with no Origin at all (an old browser)
]


@pytest.mark.parametrize("headers", CROSS_ORIGIN)
@pytest.mark.parametrize("path", ["/_sim/customer", "/_sim/config", "/_sim/reset"])
def test_control_endpoints_refuse_cross_origin_form_posts(
    simulator: Any, receiver: Receiver, headers: dict[str, str], path: str
) -> None:
    before = simulator.counters()
    answer = HTTP.post(
        f"{simulator.base_url}{path}",
        data={"from": "+447700900001", "to": "+447700900000", "stop": "true", "callback_base": "http://evil"},
        headers=headers,
    )
    assert answer.status_code == 403 and "refused" in answer.json()["detail"]
    assert not inbound_posts(receiver)
    assert simulator.counters()["inbound"] == before["inbound"]


def test_control_endpoints_refuse_a_cross_origin_text_plain_json_body(simulator: Any, receiver: Receiver) -> None:
    answer = HTTP.post(
        f"{simulator.base_url}/_sim/customer",
        content=b'{"from": "+447700900001", "to": "+447700900000", "stop": true}',
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 403 and not inbound_posts(receiver)


def test_json_clients_without_origin_are_still_served(simulator: Any, receiver: Receiver) -> None:
    answer = HTTP.post(
        f"{simulator.base_url}/_sim/customer",
        json={"from": "+447700900001", "to": "+447700900000", "text": "from a script"},
    )
    assert answer.status_code == 200


def interactive_list(api: str = "v0.1") -> dict[str, Any]:
    """An interactive list of three rows in two sections, as our gateway builds it."""
    from providers.interactive import interactive_parse
    from providers.nexmo.payloads import body_build

    content, _ = interactive_parse(
        {
            "text": "Pick a slot",
            "list": {
                "button": "Slots",
                "sections": [
                    {"title": "Morning", "rows": [{"id": "9am", "title": "9:00"}]},
                    {"title": "Afternoon", "rows": [{"id": "2pm", "title": "14:00"}, {"id": "4pm", "title": "16:00"}]},
                ],
            },
        }
    )
    assert content is not None
    return body_build(api_version=api, content=content, from_number=BUSINESS, to=CUSTOMER, client_ref="ref-list")


@pytest.mark.parametrize("api", ["v0.1", "v1"])
def test_customer_taps_a_list_row_and_the_reply_carries_its_id_title_and_context(
    simulator_factory: Any, keys: Keys, receiver: Receiver, api: str
) -> None:
    handle = simulator_factory(channel={"api_version": api})
    message_uuid = send(handle, keys, interactive_list(api), api=api).json()["message_uuid"]
    listed = handle.messages()[0]
    assert listed["message_type"] == "interactive"
    assert [b["text"] for b in listed["buttons"]] == ["9:00", "14:00", "16:00"]
    handle.customer(tap=message_uuid, index=2)  # rows count across sections
    posted = inbound_posts(receiver)[0].json
    assert posted["context"]["message_uuid"] == message_uuid
    reply = posted["message"]["content"] if api == "v0.1" else posted
    assert reply["type" if api == "v0.1" else "message_type"] == "reply"
    assert reply["reply"] == {"id": "4pm", "title": "16:00"}
    if api == "v1":
        assert set(posted) <= set(load("v1-inbound-reply.json"))


def test_the_page_offers_a_tap_on_each_interactive_option(simulator: Any, keys: Keys) -> None:
    send(simulator, keys, interactive_list())
    page = HTTP.get(f"{simulator.base_url}/")
    assert ">tap 9:00</button>" in page.text and ">tap 16:00</button>" in page.text


def test_an_interactive_message_without_options_is_refused_by_the_simulator(simulator: Any, keys: Keys) -> None:
    body = interactive_list()
    body["message"]["content"]["custom"]["interactive"]["action"] = {"button": "Slots", "sections": []}
    answer = send(simulator, keys, body)
    assert answer.status_code == 400  # v0.1 answers invalid parameters with 400, as Nexmo does
    assert "custom.interactive.action" in answer.text
