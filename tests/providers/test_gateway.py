"""The Nexmo client: RS256 JWT, timeouts and no redirects, error mapping, ambiguous timeouts, bulk async sends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import jwt
import pytest

from providers.nexmo import client
from providers.nexmo.errors import NexmoAmbiguousError, NexmoError
from tests.providers.factories import FakeNexmo, public_pem, rsa_pem
from tests.vonage_fixtures import load

CREDS = client.Credentials(
    application_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    private_key=rsa_pem(),
    base_url="https://api.nexmo.test/",
    api_version="v0.1",
)
BODY = {"to": {"type": "whatsapp", "number": "447700900001"}}


@pytest.fixture(autouse=True)
def _fresh_jwt() -> None:
    client.jwt_cache_clear()


def _send_with(handler: object) -> client.NexmoResponse:
    with client.transport_override(httpx.MockTransport(handler)):  # type: ignore[arg-type]
        return client.send(credentials=CREDS, body=BODY)


def test_send_posts_json_with_an_rs256_jwt_nexmo_can_verify() -> None:
    fake = FakeNexmo()
    response = _send_with(fake)
    request = fake.requests[0]
    assert response.status_code == 202 and response.message_uuid
    assert str(request.url) == "https://api.nexmo.test/v0.1/messages"
    assert json.loads(request.content) == BODY
    token = request.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, public_pem(rsa_pem()), algorithms=["RS256"])
    assert claims["application_id"] == CREDS.application_id
    assert {"iat", "jti", "exp"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == client.JWT_LIFETIME_SECONDS


def test_v1_provider_posts_to_the_v1_path() -> None:
    v1 = client.Credentials(
        application_id="app", private_key=rsa_pem(), base_url="https://api-eu.test", api_version="v1"
    )
    assert v1.messages_url == "https://api-eu.test/v1/messages"


def test_jwt_is_reused_until_shortly_before_expiry() -> None:
    first = client.jwt_for(CREDS, now=1_000_000)
    assert client.jwt_for(CREDS, now=1_000_000 + 600) == first
    renewed = client.jwt_for(CREDS, now=1_000_000 + client.JWT_LIFETIME_SECONDS - 30)
    assert renewed != first


def test_timeouts_come_from_settings_and_redirects_are_not_followed(settings: object) -> None:
    settings.NEXMO_CONNECT_TIMEOUT = 1.5  # type: ignore[attr-defined]
    settings.NEXMO_READ_TIMEOUT = 4.0  # type: ignore[attr-defined]
    seen: list[httpx.Request] = []

    def redirect(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.test/"})

    with pytest.raises(NexmoError) as raised:
        _send_with(redirect)
    assert len(seen) == 1
    assert raised.value.status == 302
    assert seen[0].extensions["timeout"] == {"connect": 1.5, "read": 4.0, "write": 4.0, "pool": 1.5}


@pytest.mark.parametrize(
    ("status", "fixture", "retryable", "code"),
    [
        (401, "error-401.json", False, "unathorized"),
        (402, "error-402.json", False, "low-balance"),
        (422, "error-422.json", False, "1150"),
        (429, "error-429.json", True, "1010"),
        (400, "v0.1-error-400.json", False, "InvalidParams"),
    ],
)
def test_problem_json_becomes_one_error_type(status: int, fixture: str, retryable: bool, code: str) -> None:
    with pytest.raises(NexmoError) as raised:
        _send_with(lambda request: httpx.Response(status, json=load(fixture)))
    error = raised.value
    assert (error.status, error.retryable, error.code) == (status, retryable, code)
    assert error.title == load(fixture)["title"]
    assert error.body == load(fixture)


def test_invalid_parameters_are_kept() -> None:
    with pytest.raises(NexmoError) as raised:
        _send_with(lambda request: httpx.Response(422, json=load("error-422.json")))
    assert raised.value.invalid_parameters == [{"name": "image.url", "reason": "is not a valid URL"}]


def test_server_errors_and_connection_failures_are_retryable() -> None:
    with pytest.raises(NexmoError) as server:
        _send_with(lambda request: httpx.Response(503, text="<html>down</html>"))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(NexmoError) as connect:
        _send_with(refuse)
    assert server.value.retryable and server.value.status == 503
    assert connect.value.retryable and connect.value.status is None


def test_read_timeout_after_sending_is_ambiguous_not_an_error() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(NexmoAmbiguousError):
        _send_with(slow)


def test_async_client_sends_many_concurrently_within_the_bound() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        number = json.loads(request.content)["to"]["number"]
        if number.endswith("3"):
            return httpx.Response(429, json=load("error-429.json"))
        return httpx.Response(202, json={"message_uuid": f"uuid-{number}"})

    requests = [(CREDS, {"to": {"type": "whatsapp", "number": f"44770090000{i}"}}) for i in range(10)]

    async def run() -> list[client.Outcome]:
        async with client.AsyncNexmoClient(max_concurrency=4) as bulk:

            async def one(credentials: Any, body: dict[str, Any]) -> client.Outcome:
                try:
                    return await bulk.send(credentials=credentials, body=body)
                except (NexmoError, NexmoAmbiguousError) as exc:
                    return exc

            return list(await asyncio.gather(*(one(c, b) for c, b in requests)))

    with client.transport_override(httpx.MockTransport(handler)):
        outcomes = asyncio.run(run())
    assert peak <= 4
    assert [type(o).__name__ for o in outcomes].count("NexmoError") == 1
    assert isinstance(outcomes[0], client.NexmoResponse) and outcomes[0].message_uuid == "uuid-447700900000"
    assert isinstance(outcomes[3], NexmoError) and outcomes[3].retryable


def test_async_client_uses_the_aiohttp_transport_by_default() -> None:
    transport = client._async_transport(httpx.Limits(max_connections=10))
    assert type(transport).__name__ == "AiohttpTransport"
