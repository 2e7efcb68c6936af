"""Brute force: failed sign-ins lock a username and an address out for a while (django-axes), and
token-authenticated API clients get a request rate (DRF throttling, 429 with Retry-After)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

from accounts.models import ApiToken


def client_address(request: HttpRequest) -> str | None:
    """The peer address. Behind a proxy the server (uvicorn's FORWARDED_ALLOW_IPS) has already put the client's
    address here; reading X-Forwarded-For ourselves would let any client choose the address it is counted under."""
    return request.META.get("REMOTE_ADDR")


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """The answer to a sign-in while its username or address is locked out: 429, saying when to try again."""
    minutes = int(settings.LOGIN_LOCKOUT_MINUTES)
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


class TokenRateThrottle(UserRateThrottle):
    """Requests per user for clients signed in with an API token (`API_TOKEN_THROTTLE_RATE`); sessions are exempt."""

    scope = "api_token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return super().get_cache_key(request, view)
