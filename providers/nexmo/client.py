"""One locked-down HTTP client for Nexmo: sync for single sends, async (aiohttp transport) for bulk.

Every call: explicit connect/read timeouts from settings, no redirects, `Authorization: Bearer <RS256 JWT>`.
Tests (and browser tests against the live server, which runs in the same process) swap the network for an
`httpx.MockTransport` with `transport_override()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
import jwt
from django.conf import settings

from providers.nexmo.errors import NexmoAmbiguousError, NexmoError
from providers.nexmo.hosts import base_url_problem

# Nexmo's default JWT lifetime is 15 minutes; we ask for that and mint a new one a minute before it runs out.
JWT_LIFETIME_SECONDS = 15 * 60
JWT_RENEW_BEFORE_SECONDS = 60
USER_AGENT = "whatsapp-engage/0.1"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the gateway needs from a provider config: never logged, never stored outside the encrypted field."""

    application_id: str
    # Kept out of repr: a traceback, a debug page or a log line that shows these credentials shows no key.
    private_key: str = field(repr=False)
    base_url: str
    api_version: str

    @property
    def messages_url(self) -> str:
        version = "v1" if self.api_version == "v1" else "v0.1"
        return f"{self.base_url.rstrip('/')}/{version}/messages"


@dataclass(frozen=True, slots=True)
class NexmoResponse:
    """A 202 from Nexmo: the request was accepted and will be reported on by status callbacks."""

    status_code: int
    body: dict[str, Any]

    @property
    def message_uuid(self) -> str:
        return str(self.body.get("message_uuid", ""))


Outcome = NexmoResponse | NexmoError | NexmoAmbiguousError


# --- JWT -------------------------------------------------------------------------------------------------------

_jwt_cache: dict[tuple[str, str], tuple[str, float]] = {}
_jwt_lock = threading.Lock()


def jwt_for(credentials: Credentials, *, now: float | None = None) -> str:
    """A signed RS256 JWT for this application, reused until shortly before it expires."""
    key = (credentials.application_id, hashlib.sha256(credentials.private_key.encode()).hexdigest())
    moment = time.time() if now is None else now
    with _jwt_lock:
        cached = _jwt_cache.get(key)
        if cached is not None and cached[1] - JWT_RENEW_BEFORE_SECONDS > moment:
            return cached[0]
        issued = int(moment)
        expires = issued + JWT_LIFETIME_SECONDS
        claims = {"application_id": credentials.application_id, "iat": issued, "exp": expires, "jti": str(uuid.uuid4())}
        token = jwt.encode(claims, credentials.private_key, algorithm="RS256")
        _jwt_cache[key] = (token, float(expires))
        return token


def jwt_cache_clear() -> None:
    with _jwt_lock:
        _jwt_cache.clear()


# --- transports ------------------------------------------------------------------------------------------------

TransportFactory = Callable[[], httpx.BaseTransport | httpx.AsyncBaseTransport]
_transport_factory: TransportFactory | None = None


@contextmanager
def transport_override(transport: httpx.MockTransport | TransportFactory) -> Iterator[None]:
    """Route every Nexmo call (sync and async) through `transport` (an httpx.MockTransport or a factory of one)."""
    global _transport_factory
    previous = _transport_factory
    if isinstance(transport, httpx.MockTransport):
        mock = transport
        _transport_factory = lambda: mock  # noqa: E731
    else:
        _transport_factory = transport
    _sync_client_reset()
    try:
        yield
    finally:
        _transport_factory = previous
        _sync_client_reset()


def _timeout() -> httpx.Timeout:
    connect = float(settings.NEXMO_CONNECT_TIMEOUT)
    read = float(settings.NEXMO_READ_TIMEOUT)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def request_parts(credentials: Credentials) -> tuple[str, dict[str, str]]:
    """The URL and headers of a send: the one place that decides where a request (and its JWT) may go.

    Raises a permanent NexmoError, before anything is signed or sent, when the base URL is not one we may use (a row
    written before the rule or by hand is refused too) or when the key cannot sign a JWT.
    """
    problem = base_url_problem(credentials.base_url)
    if problem is not None:
        raise NexmoError(status=None, title="API base URL refused", detail=problem, permanent=True, code="base_url")
    try:
        token = jwt_for(credentials)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # The exception's class only: its text may quote part of the key.
        raise NexmoError(
            status=None,
            title="The private key cannot sign",
            detail=f"{type(exc).__name__}; replace the provider's private key.",
            permanent=True,
            code="private_key",
        ) from None
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    return credentials.messages_url, headers


def _unusable_url(exc: Exception) -> NexmoError:
    return NexmoError(
        status=None,
        title="API base URL refused",
        detail=f"The URL cannot be used ({type(exc).__name__}: {exc})"[:500],
        permanent=True,
        code="base_url",
    )


# --- answers and failures -------------------------------------------------------------------------------------


def _outcome(response: httpx.Response) -> NexmoResponse:
    return _answer(response.status_code, response.content, response.headers.get("retry-after"))


def body_decode(raw: bytes) -> Any:
    """An answer's body: its JSON, or its text when it is not JSON (a proxy's HTML error page)."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


def answer_checked(response: httpx.Response) -> Any:
    """The decoded body of a 2xx answer (None when empty); NexmoError with the problem for any other status."""
    body = body_decode(response.content) if response.content else None
    if not 200 <= response.status_code < 300:
        raise NexmoError.from_response(response.status_code, body, retry_after=response.headers.get("retry-after"))
    return body


def _answer(status_code: int, raw: bytes, retry_after: str | None = None) -> NexmoResponse:
    body = body_decode(raw)
    if status_code == 202 and isinstance(body, dict):
        return NexmoResponse(status_code=202, body=body)
    raise NexmoError.from_response(status_code, body, retry_after=retry_after)


# Failures before the request could have reached Nexmo: safe to retry.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _failure(exc: httpx.HTTPError) -> NexmoError | NexmoAmbiguousError:
    if isinstance(exc, _NEVER_SENT):
        return NexmoError(status=None, title="Could not reach Nexmo", detail=f"{type(exc).__name__}: {exc}")
    # Read/write timeouts, dropped connections mid-answer: Nexmo may have accepted the message.
    return NexmoAmbiguousError(f"No answer from Nexmo after sending ({type(exc).__name__}: {exc})")


# --- sync ------------------------------------------------------------------------------------------------------

_sync_client: httpx.Client | None = None
_sync_lock = threading.Lock()


def _sync_client_reset() -> None:
    global _sync_client
    with _sync_lock:
        if _sync_client is not None:
            _sync_client.close()
        _sync_client = None


def _client() -> httpx.Client:
    global _sync_client
    with _sync_lock:
        if _sync_client is None:
            transport = _transport_factory() if _transport_factory is not None else None
            _sync_client = httpx.Client(
                timeout=_timeout(),
                follow_redirects=False,
                transport=transport if isinstance(transport, httpx.BaseTransport) else None,
            )
        return _sync_client


def send(*, credentials: Credentials, body: dict[str, Any]) -> NexmoResponse:
    """POST one message; raises NexmoError (with `retryable`) or NexmoAmbiguousError (outcome unknown)."""
    url, headers = request_parts(credentials)
    try:
        response = _client().post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise _failure(exc) from exc
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise _unusable_url(exc) from exc
    return _outcome(response)


def mark_read(*, credentials: Credentials, message_uuid: str) -> None:
    """Tell WhatsApp the customer's message was read (blue ticks on their phone): `PATCH {base}/v1/messages/{uuid}`
    `{"status": "read"}`, a Messages API v1 call (https://developer.vonage.com/en/api/messages#UpdateMessage).
    Raises NexmoError on any answer but 2xx; repeating it is harmless, so an unanswered call is simply an error."""
    _, headers = request_parts(credentials)
    url = f"{credentials.base_url.rstrip('/')}/v1/messages/{quote(message_uuid, safe='')}"
    try:
        response = _client().patch(url, json={"status": "read"}, headers=headers)
    except httpx.HTTPError as exc:
        raise NexmoError(status=None, title="Could not reach Nexmo", detail=f"{type(exc).__name__}: {exc}") from exc
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise _unusable_url(exc) from exc
    answer_checked(response)


# --- async (bulk) -----------------------------------------------------------------------------------------------


def _async_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    if _transport_factory is not None:
        transport = _transport_factory()
        if isinstance(transport, httpx.AsyncBaseTransport):
            return transport
    # Stock httpx's async pool slows down as concurrency grows; aiohttp's keeps up (see DESIGN's measurements).
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(limits=limits)


class AsyncNexmoClient:
    """Bulk sends over one pooled connection set, at most `max_concurrency` requests in flight.

    async with AsyncNexmoClient() as client:
        answer = await client.send(credentials=credentials, body=body)
    """

    def __init__(self, *, max_concurrency: int | None = None) -> None:
        self.max_concurrency = max_concurrency or int(settings.NEXMO_MAX_CONCURRENCY)
        self._semaphore = asyncio.Semaphore(self.max_concurrency)
        self._client: httpx.AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncNexmoClient:
        if _transport_factory is None:
            # On the network, aiohttp directly: httpx's request/response layer on top of it doubled the CPU per
            # send, and at 1,000 sends/s a worker's core is the limit (bench/bench_campaigns.py).
            connect, read = float(settings.NEXMO_CONNECT_TIMEOUT), float(settings.NEXMO_READ_TIMEOUT)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_concurrency),
                timeout=aiohttp.ClientTimeout(sock_connect=connect, sock_read=read),
            )
            return self
        limits = httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency)
        self._client = httpx.AsyncClient(
            transport=_async_transport(limits), timeout=_timeout(), follow_redirects=False, limits=limits
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        *,
        credentials: Credentials,
        body: dict[str, Any],
        started: Callable[[], None] | None = None,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> NexmoResponse:
        """Same contract as the sync `send`. `ready()` is awaited once the request has its turn (within the
        concurrency bound), the last wait before it goes (the pacer's one-second window, checked as late as
        possible); `started()` is then called as it goes out: before that, cancelling the call sends nothing."""
        url, headers = request_parts(credentials)
        if self._session is not None:
            async with self._semaphore:
                if ready is not None:
                    await ready()
                if started is not None:
                    started()
                return await self._session_send(self._session, url, headers, body)
        if self._client is None:
            raise RuntimeError("Use AsyncNexmoClient as `async with AsyncNexmoClient() as client:`")
        async with self._semaphore:
            if ready is not None:
                await ready()
            if started is not None:
                started()
            try:
                response = await self._client.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise _failure(exc) from exc
            except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
                raise _unusable_url(exc) from exc
        return _outcome(response)

    @staticmethod
    async def _session_send(
        session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: dict[str, Any]
    ) -> NexmoResponse:
        try:
            async with session.post(
                url, data=json.dumps(body).encode(), headers=headers, allow_redirects=False
            ) as response:
                status, raw = response.status, await response.read()
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.InvalidURL, UnicodeError, ValueError) as exc:
            raise _unusable_url(exc) from exc
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Nothing reached Nexmo: safe to retry.
            raise NexmoError(status=None, title="Could not reach Nexmo", detail=f"{type(exc).__name__}: {exc}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Read timeouts, connections dropped mid-answer: Nexmo may have accepted the message.
            raise NexmoAmbiguousError(f"No answer from Nexmo after sending ({type(exc).__name__}: {exc})") from exc
        return _answer(status, raw, retry_after)
