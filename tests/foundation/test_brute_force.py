"""Failed sign-ins are limited per username and per address; token clients are throttled (issue 15, point 13)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.services import api_token_create

pytestmark = pytest.mark.django_db
LIMIT = 3


@pytest.fixture(autouse=True)
def _low_limit() -> Iterator[None]:
    with override_settings(AXES_FAILURE_LIMIT=LIMIT):
        yield


def _sign_in(username: str, password: str, address: str) -> Any:
    return Client(REMOTE_ADDR=address).post("/accounts/login/", {"username": username, "password": password})


def test_wrong_passwords_lock_the_username_out_from_any_address(marketer_user: Any) -> None:
    answers = [_sign_in("teammate", "wrong", f"10.0.0.{n + 1}").status_code for n in range(LIMIT)]
    assert answers == [200] * (LIMIT - 1) + [429]  # the form with its error, then the lockout
    refused = _sign_in("teammate", "pw-teammate-123", "10.0.9.9")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.content.decode()


def test_wrong_passwords_from_one_address_lock_that_address_out_for_every_username(
    marketer_user: Any, staff_user: Any
) -> None:
    for n in range(LIMIT):
        _sign_in(f"nobody-{n}", "wrong", "10.0.0.7")
    assert _sign_in("owner", "pw-owner-123", "10.0.0.7").status_code == 429
    # Another address is not affected.
    signed_in = _sign_in("owner", "pw-owner-123", "10.0.0.8")
    assert signed_in.status_code == 302


def test_a_successful_sign_in_clears_the_count(marketer_user: Any) -> None:
    for _ in range(LIMIT - 1):
        _sign_in("teammate", "wrong", "10.0.0.1")
    assert _sign_in("teammate", "pw-teammate-123", "10.0.0.1").status_code == 302
    for _ in range(LIMIT - 1):
        _sign_in("teammate", "wrong", "10.0.0.1")
    assert _sign_in("teammate", "pw-teammate-123", "10.0.0.1").status_code == 302


def test_token_clients_are_throttled_with_retry_after(marketer_user: Any) -> None:
    from accounts.throttling import TokenRateThrottle

    TokenRateThrottle.THROTTLE_RATES = {"api_token": "3/minute"}
    try:
        _, key = api_token_create(user=marketer_user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        answers = [api.get("/api/v1/") for _ in range(4)]
    finally:
        del TokenRateThrottle.THROTTLE_RATES
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert "throttled" in answers[-1].json()["detail"].lower()


def test_session_users_are_not_token_throttled(client: Client, marketer_user: Any) -> None:
    from accounts.throttling import TokenRateThrottle

    TokenRateThrottle.THROTTLE_RATES = {"api_token": "1/minute"}
    try:
        client.force_login(marketer_user)
        assert [client.get("/api/v1/").status_code for _ in range(3)] == [200, 200, 200]
    finally:
        del TokenRateThrottle.THROTTLE_RATES
