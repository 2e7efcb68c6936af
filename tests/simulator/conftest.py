"""A signing key, a simulator bound to port 0, and a local aiohttp receiver that captures the callbacks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers.simulator import Channel, SimulatorConfig, SimulatorHandle, run_in_thread

APPLICATION_ID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
BUSINESS = "447700900000"
CUSTOMER = "447700900001"
SECRET = "test-signature-secret-of-32-bytes-or-more"
# One client for every test: building an httpx client (its TLS context) costs tens of milliseconds.
HTTP = httpx.Client(timeout=5.0)


@dataclass
class Keys:
    private_pem: str
    public_pem: str
    private_key: rsa.RSAPrivateKey  # loaded once: parsing a PEM key costs about 100 ms

    def bearer(self, application_id: str = APPLICATION_ID, **claims: Any) -> str:
        body = {"application_id": application_id, "iat": int(time.time()), "jti": str(uuid.uuid4()), **claims}
        return "Bearer " + jwt.encode(body, self.private_key, algorithm="RS256")


def keys_new() -> Keys:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return Keys(private, public, key)


@pytest.fixture(scope="session")
def keys() -> Keys:
    return keys_new()


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Our side of the webhooks, reduced to a recorder: every POST is kept; the answer status is settable."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.answer = 200
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    async def _record(self, request: web.Request) -> web.Response:
        self.posts.append(Post(request.path, dict(request.headers), await request.read()))
        return web.Response(status=self.answer, text="ok")

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._record)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    def wait(self, count: int, timeout: float = 5.0) -> list[Post]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.posts)} callback(s) received, expected {count}")
            time.sleep(0.01)
        return list(self.posts)

    def statuses(self) -> list[str]:
        return [p.json["status"] for p in self.posts if p.path.endswith("/status")]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder = Receiver()
    yield recorder
    recorder.stop()


def channel_for(keys: Keys, receiver: Receiver, **changes: Any) -> Channel:
    values: dict[str, Any] = {
        "application_id": APPLICATION_ID,
        "public_key_pem": keys.public_pem,
        "number": BUSINESS,
        "status_url": f"{receiver.url}/status",
        "inbound_url": f"{receiver.url}/inbound",
        "signature_secret": SECRET,
        **changes,
    }
    return Channel(**values)


@pytest.fixture
def simulator_factory(keys: Keys, receiver: Receiver) -> Iterator[Any]:
    """Start simulators wired to the receiver; settings as keyword arguments of SimulatorConfig."""
    started: list[SimulatorHandle] = []

    def start(channel: dict[str, Any] | None = None, **settings: Any) -> SimulatorHandle:
        defaults: dict[str, Any] = {"seed": 7, "callback_retries": 0, "enforce_window": False}
        config = SimulatorConfig(channels=(channel_for(keys, receiver, **(channel or {})),))
        handle = run_in_thread(config, **{**defaults, **settings})
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


@pytest.fixture
def simulator(simulator_factory: Any) -> SimulatorHandle:
    handle: SimulatorHandle = simulator_factory()
    return handle


def text_v01(text: str = "Hello", *, to: str = CUSTOMER, client_ref: str = "ref-1") -> dict[str, Any]:
    return {
        "from": {"type": "whatsapp", "number": BUSINESS},
        "to": {"type": "whatsapp", "number": to},
        "message": {"content": {"type": "text", "text": text}},
        "client_ref": client_ref,
    }


def send(handle: SimulatorHandle, keys: Keys, body: Any, *, api: str = "v0.1", timeout: float = 5.0) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTP.post(
        f"{handle.base_url}/{api}/messages",
        content=content,
        headers={"Authorization": keys.bearer(), "Content-Type": "application/json"},
        timeout=timeout,
    )
