"""Status callbacks: the lifecycle, the payload versions, the signature, 1300 and the 24-hour window (1340)."""

from __future__ import annotations

import hashlib
from typing import Any

import jwt

from tests.simulator.conftest import BUSINESS, CUSTOMER, SECRET, Keys, Receiver, send, text_v01
from tests.vonage_fixtures import load


def template_v01() -> dict[str, Any]:
    return {
        "from": {"type": "whatsapp", "number": BUSINESS},
        "to": {"type": "whatsapp", "number": CUSTOMER},
        "message": {
            "content": {"type": "template", "template": {"name": "ns:welcome", "parameters": ["Ann"]}},
            "whatsapp": {"policy": "deterministic", "locale": "en-GB"},
        },
        "client_ref": "camp-1",
    }


def test_statuses_go_submitted_delivered_read_with_the_client_ref(
    simulator: Any, keys: Keys, receiver: Receiver
) -> None:
    message_uuid = send(simulator, keys, text_v01(client_ref="ref-42")).json()["message_uuid"]
    posts = receiver.wait(3)
    assert receiver.statuses() == ["submitted", "delivered", "read"]
    assert {p.json["message_uuid"] for p in posts} == {message_uuid}
    assert {p.json["client_ref"] for p in posts} == {"ref-42"}
    # The simulator counts a callback once its post is answered, a moment after the receiver has it.
    counters = simulator.wait_for(lambda c: sum(c["callbacks"]["by_status"].values()) >= 3)
    assert counters["callbacks"]["by_status"] == {"submitted": 1, "delivered": 1, "read": 1}


def test_v01_status_has_the_shape_of_vonage_examples(simulator: Any, keys: Keys, receiver: Receiver) -> None:
    send(simulator, keys, text_v01())
    delivered = next(p.json for p in receiver.wait(3) if p.json["status"] == "delivered")
    example = load("v0.1-status-delivered.json")
    assert set(delivered) == set(example)
    assert delivered["to"] == {"type": "whatsapp", "number": CUSTOMER}
    assert delivered["from"] == {"type": "whatsapp", "number": BUSINESS}
    assert delivered["timestamp"].endswith("Z") and len(delivered["timestamp"]) == len(example["timestamp"])


def test_v1_provider_gets_v1_statuses(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(channel={"api_version": "v1"})
    send(handle, keys, text_v01())
    read = next(p.json for p in receiver.wait(3) if p.json["status"] == "read")
    assert read["to"] == CUSTOMER and read["from"] == BUSINESS
    assert read["channel"] == "whatsapp"
    assert set(read) <= set(load("v1-status-read.json"))


def test_callbacks_are_signed_with_an_hs256_jwt_over_the_body(simulator: Any, keys: Keys, receiver: Receiver) -> None:
    send(simulator, keys, text_v01())
    for post in receiver.wait(3):
        token = post.headers["Authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
        assert claims["payload_hash"] == hashlib.sha256(post.body).hexdigest()
        assert {"iat", "jti", "iss", "api_key"} <= set(claims)


def test_signature_does_not_verify_with_another_secret(simulator: Any, keys: Keys, receiver: Receiver) -> None:
    send(simulator, keys, text_v01())
    token = receiver.wait(1)[0].headers["Authorization"].removeprefix("Bearer ")
    try:
        jwt.decode(token, "another-secret-of-at-least-32-bytes!!", algorithms=["HS256"])
    except jwt.InvalidSignatureError:
        return
    raise AssertionError("a callback verified with the wrong secret")


def test_provider_without_secret_gets_unsigned_callbacks(
    simulator_factory: Any, keys: Keys, receiver: Receiver
) -> None:
    handle = simulator_factory(channel={"signature_secret": ""})
    send(handle, keys, text_v01())
    assert all("Authorization" not in p.headers for p in receiver.wait(3))


def test_number_not_on_whatsapp_is_undeliverable_1300(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(undeliverable_numbers={"+447700900666"})
    send(handle, keys, text_v01(to="447700900666"))
    posts = receiver.wait(2)
    assert receiver.statuses() == ["submitted", "undeliverable"]
    assert posts[1].json["error"] == {"code": 1300, "reason": "Not part of the provider network"}


def test_free_form_text_outside_the_window_is_rejected_1340(
    simulator_factory: Any, keys: Keys, receiver: Receiver
) -> None:
    handle = simulator_factory(enforce_window=True)
    assert send(handle, keys, text_v01()).status_code == 202  # Nexmo accepts, WhatsApp refuses later
    posts = receiver.wait(1)
    assert receiver.statuses() == ["rejected"]
    assert posts[0].json["error"]["code"] == 1340


def test_template_outside_the_window_is_delivered(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(enforce_window=True)
    send(handle, keys, template_v01())
    receiver.wait(3)
    assert receiver.statuses() == ["submitted", "delivered", "read"]


def test_free_form_text_after_the_customer_wrote_is_delivered(
    simulator_factory: Any, keys: Keys, receiver: Receiver
) -> None:
    handle = simulator_factory(enforce_window=True)
    handle.customer(from_number=CUSTOMER, to_number=BUSINESS, text="hello?")
    send(handle, keys, text_v01())
    receiver.wait(4)
    assert receiver.statuses() == ["submitted", "delivered", "read"]


def test_delivery_and_read_probabilities_apply(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    handle = simulator_factory(delivered_rate=0.0)
    send(handle, keys, text_v01())
    handle.wait_for(lambda c: c["callbacks"]["sent"] == 1)
    assert receiver.statuses() == ["submitted"]


def test_v1_webhook_url_of_the_request_wins(simulator: Any, keys: Keys, receiver: Receiver) -> None:
    body = {
        "channel": "whatsapp",
        "message_type": "text",
        "to": CUSTOMER,
        "from": BUSINESS,
        "text": "hi",
        "webhook_url": f"{receiver.url}/elsewhere",
        "webhook_version": "v1",
    }
    send(simulator, keys, body, api="v1")
    posts = receiver.wait(3)
    assert {p.path for p in posts} == {"/elsewhere"}
    assert all(isinstance(p.json["to"], str) for p in posts)


def test_failed_callback_is_retried_then_counted(simulator_factory: Any, keys: Keys, receiver: Receiver) -> None:
    receiver.answer = 500
    handle = simulator_factory(callback_retries=1, delivered_rate=0.0)
    send(handle, keys, text_v01())
    counters = handle.wait_for(lambda c: c["callbacks"]["failed"] == 1)
    assert counters["callbacks"]["retried"] == 1
    assert len(receiver.posts) == 2


def test_an_interactive_message_outside_the_window_is_rejected_1340(
    simulator_factory: Any, keys: Keys, receiver: Receiver
) -> None:
    from tests.simulator.test_customer import interactive_list

    handle = simulator_factory(enforce_window=True)
    assert send(handle, keys, interactive_list()).status_code == 202  # free-form, unlike a custom template
    posts = receiver.wait(1)
    assert receiver.statuses() == ["rejected"]
    assert posts[0].json["error"]["code"] == 1340
