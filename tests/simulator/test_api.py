"""The send API: authentication, body checks, answers and the bookkeeping endpoints."""

from __future__ import annotations

import json
from typing import Any

from tests.simulator.conftest import APPLICATION_ID, BUSINESS, CUSTOMER, HTTP, Keys, keys_new, send, text_v01
from tests.vonage_fixtures import load


def v1_text(**changes: Any) -> dict[str, Any]:
    return {"channel": "whatsapp", "message_type": "text", "to": CUSTOMER, "from": BUSINESS, "text": "hi", **changes}


def test_accepted_send_answers_202_with_a_new_message_uuid(simulator: Any, keys: Keys) -> None:
    first, second = send(simulator, keys, text_v01()), send(simulator, keys, text_v01())
    assert first.status_code == second.status_code == 202
    assert set(first.json()) == set(load("send-response-202.json"))
    assert first.json()["message_uuid"] != second.json()["message_uuid"]


def test_v1_send_is_accepted(simulator: Any, keys: Keys) -> None:
    assert send(simulator, keys, v1_text(client_ref="x" * 100), api="v1").status_code == 202


def test_missing_token_gets_401_problem_json(simulator: Any) -> None:
    answer = HTTP.post(f"{simulator.base_url}/v0.1/messages", json=text_v01())
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert set(answer.json()) == set(load("error-401.json"))


def test_token_signed_with_another_key_gets_401(simulator: Any) -> None:
    stranger = keys_new()
    answer = HTTP.post(
        f"{simulator.base_url}/v0.1/messages", json=text_v01(), headers={"Authorization": stranger.bearer()}
    )
    assert answer.status_code == 401
    assert simulator.counters()["refused"]["unauthorized"] == 1


def test_token_of_an_unknown_application_gets_401(simulator: Any, keys: Keys) -> None:
    answer = HTTP.post(
        f"{simulator.base_url}/v0.1/messages", json=text_v01(), headers={"Authorization": keys.bearer("other-app")}
    )
    assert answer.status_code == 401


def test_expired_token_gets_401(simulator: Any, keys: Keys) -> None:
    answer = HTTP.post(
        f"{simulator.base_url}/v0.1/messages",
        json=text_v01(),
        headers={"Authorization": keys.bearer(exp=1_000_000_000)},
    )
    assert answer.status_code == 401


def test_sender_number_of_another_application_gets_422(simulator: Any, keys: Keys) -> None:
    body = text_v01()
    body["from"]["number"] = "447700900999"
    answer = send(simulator, keys, body)
    assert answer.status_code == 422
    assert answer.json()["title"] == "Invalid sender"


def test_v01_missing_fields_are_listed_as_invalid_parameters(simulator: Any, keys: Keys) -> None:
    answer = send(simulator, keys, {"from": {"type": "whatsapp", "number": "+447700900000"}, "message": {}})
    assert answer.status_code == 400
    names = [p["name"] for p in answer.json()["invalid_parameters"]]
    assert names == ["to", "from.number", "message.content"]


def test_v01_client_ref_over_40_characters_is_refused(simulator: Any, keys: Keys) -> None:
    answer = send(simulator, keys, text_v01(client_ref="r" * 41))
    assert answer.status_code == 400
    assert answer.json()["invalid_parameters"] == [{"name": "client_ref", "reason": "must be at most 40 characters"}]


def test_v1_invalid_body_gets_422_like_vonage(simulator: Any, keys: Keys) -> None:
    answer = send(simulator, keys, v1_text(message_type="image", image={"caption": "no url"}), api="v1")
    assert answer.status_code == 422
    assert set(answer.json()) == set(load("error-422.json"))
    assert answer.json()["invalid_parameters"] == [
        {"name": "image.url", "reason": "is required and must be a non-empty string"}
    ]


def test_invalid_json_gets_400(simulator: Any, keys: Keys) -> None:
    answer = send(simulator, keys, b"{not json", api="v1")
    assert answer.status_code == 400
    assert answer.json()["title"] == "The request body did not contain valid JSON"


def test_wrong_method_and_unknown_path_are_problems(simulator: Any) -> None:
    assert HTTP.get(f"{simulator.base_url}/v1/messages").status_code == 405
    assert HTTP.get(f"{simulator.base_url}/v2/nothing").status_code == 404


def test_patch_marks_an_inbound_message_read_and_refuses_unknown_ones(simulator: Any, keys: Keys) -> None:
    inbound = simulator.customer(from_number=CUSTOMER, to_number=BUSINESS, text="hi")
    headers = {"Authorization": keys.bearer()}
    ok = HTTP.patch(
        f"{simulator.base_url}/v1/messages/{inbound['message_uuid']}", json={"status": "read"}, headers=headers
    )
    unknown = HTTP.patch(f"{simulator.base_url}/v1/messages/nope", json={"status": "read"}, headers=headers)
    bad = HTTP.patch(f"{simulator.base_url}/v1/messages/nope", json={"status": "gone"}, headers=headers)
    assert (ok.status_code, unknown.status_code, bad.status_code) == (200, 404, 422)


def test_counters_messages_and_reset_endpoints(simulator: Any, keys: Keys) -> None:
    send(simulator, keys, text_v01(client_ref="find-me"))
    send(simulator, keys, {"bad": True})
    counters = HTTP.get(f"{simulator.base_url}/_sim/counters").json()
    assert (counters["received"], counters["accepted"], counters["refused"]["invalid"]) == (2, 1, 1)
    listed = HTTP.get(f"{simulator.base_url}/_sim/messages", params={"client_ref": "find-me"}).json()
    assert listed["count"] == 1
    assert listed["results"][0]["to"] == CUSTOMER
    HTTP.post(f"{simulator.base_url}/_sim/reset")
    assert simulator.counters()["received"] == 0
    assert simulator.messages() == []


def test_config_endpoint_changes_settings_and_refuses_unknown_ones(simulator: Any) -> None:
    changed = HTTP.post(f"{simulator.base_url}/_sim/config", json={"latency_ms": 5})
    refused = HTTP.post(f"{simulator.base_url}/_sim/config", json={"latency": 5})
    assert changed.json()["latency_ms"] == 5
    assert refused.status_code == 400
    assert "latency" in refused.json()["detail"]


def test_keep_alive_connection_answers_pipelined_requests_in_order(simulator: Any, keys: Keys) -> None:
    import socket

    body = json.dumps(text_v01()).encode()
    request = (
        f"POST /v0.1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: {keys.bearer()}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", simulator.port), timeout=5) as sock:
        sock.sendall(request + b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 202")
    assert data.index(b"HTTP/1.1 202") < data.index(b"HTTP/1.1 404")
    assert APPLICATION_ID  # the token above names it


def test_many_kept_messages_are_set_aside_from_the_cyclic_collector_until_reset(
    simulator: Any, keys: Keys, monkeypatch: Any
) -> None:
    import gc

    from providers.simulator import core

    monkeypatch.setattr(core, "FREEZE_EVERY", 3)
    simulator.configure(recent_limit=50)
    simulator.reset()
    try:
        start = gc.get_freeze_count()
        for n in range(2):
            assert send(simulator, keys, text_v01(client_ref=f"r{n}")).status_code == 202
        assert gc.get_freeze_count() == start  # fewer kept than FREEZE_EVERY
        assert send(simulator, keys, text_v01(client_ref="r2")).status_code == 202
        frozen = gc.get_freeze_count()
        assert frozen > start
        simulator.reset()
        assert gc.get_freeze_count() < frozen
    finally:
        gc.unfreeze()
