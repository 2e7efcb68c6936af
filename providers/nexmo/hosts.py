"""Where the gateway may send a number's requests (and so its live JWT): Vonage's API hosts and configured origins.

A provider's `api_base_url` is typed by staff, and every send hands the host a signed RS256 JWT that Nexmo accepts
for 15 minutes, then shows the host's answer to the user. So a base URL is only usable when it is https on one of
Vonage's Messages API hosts (the global one and the regional ones Vonage publishes),
or its origin is listed in the setting NEXMO_ALLOWED_BASE_URLS (the simulator, a test double), or it is the origin of
NEXMO_API_BASE_URL, which the operator set. The forms, the API and the gateway at send time all ask this module.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from django.conf import settings

VONAGE_API_HOSTS = frozenset({"api.nexmo.com", "api-eu.vonage.com", "api-us.vonage.com", "api-ap.vonage.com"})


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, explicit port) of an origin or URL, None when it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def _allowed_origins() -> list[tuple[str, str, int | None]]:
    configured = [*settings.NEXMO_ALLOWED_BASE_URLS, settings.NEXMO_API_BASE_URL]
    return [origin for origin in map(_origin, configured) if origin is not None]


def base_url_problem(url: str) -> str | None:
    """Why this base URL may not be used for sending (a sentence for the user), or None when it may."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError, TypeError):
        return f"{url!r} is not a usable URL (its host name cannot be encoded)."
    origin = _origin(url)
    if origin is None or parsed.scheme not in ("http", "https"):
        return f"{url!r} is not an http(s) URL with a host name."
    if parsed.userinfo or parsed.query or parsed.fragment:
        return "The API base URL is a scheme and a host (and a path at most): no user, query or fragment."
    scheme, host, port = origin
    if scheme == "https" and host in VONAGE_API_HOSTS and port in (None, 443):
        return None
    for allowed_scheme, allowed_host, allowed_port in _allowed_origins():
        if scheme == allowed_scheme and host == allowed_host and (allowed_port is None or allowed_port == port):
            return None
    hosts = ", ".join(f"https://{name}" for name in sorted(VONAGE_API_HOSTS))
    return (
        f"Nexmo requests may only go to Vonage's API hosts ({hosts}) or to an origin listed in the setting "
        f"NEXMO_ALLOWED_BASE_URLS; {scheme}://{host}{f':{port}' if port else ''} is neither."
    )
