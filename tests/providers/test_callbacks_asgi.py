"""The production front door for callbacks (`whatsapp_project.asgi`): same answers as the Django views, status
callbacks that arrive together written in one transaction, and a failed batch never costing the good callbacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from django.core.asgi import get_asgi_application

from providers import asgi
from providers.asgi import CallbackFastPath
from providers.messaging import statuses
from providers.models import CallbackLog, InboundMessage, Message, PendingStatus, ProviderConfig
from tests.providers.factories import provider_make, sign
from tests.vonage_fixtures import load

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "signature-secret-0123456789-abcdefghij"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def app() -> Iterator[CallbackFastPath]:
    application = CallbackFastPath(get_asgi_application())
    yield application
    asyncio.run(application.close())


async def _client(app: CallbackFastPath) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cast(Any, app)), base_url="http://testserver"
    ) as client:
        yield client


def run(app: CallbackFastPath, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    """Send these requests concurrently, as Nexmo does, and return the answers in order."""

    async def main() -> list[httpx.Response]:
        async for client in _client(app):
            return list(await asyncio.gather(*(client.request(**r) for r in requests)))
        raise AssertionError("unreachable")

    return asyncio.run(main())


def status(provider: ProviderConfig, uuid: str, state: str, at: datetime, **extra: Any) -> dict[str, Any]:
    body = json.dumps(
        {
            "message_uuid": uuid,
            "to": {"type": "whatsapp", "number": "447700900000"},
            "from": {"type": "whatsapp", "number": "447700900001"},
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "status": state,
            **extra,
        }
    ).encode()
    return {
        "method": "POST",
        "url": f"/callbacks/nexmo/{provider.callback_token}/status/",
        "content": body,
        "headers": {"content-type": "application/json"},
    }


def messages(provider: ProviderConfig, count: int) -> list[Message]:
    return Message.objects.bulk_create(
        Message(
            provider=provider,
            to="+447700900000",
            status="submitted",
            message_uuid=f"m-{i}",
            client_ref=f"r-{i}",
            origin="campaign",
            content_type="text",
        )
        for i in range(count)
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_concurrent_status_callbacks_share_transactions_and_all_apply(
    app: CallbackFastPath, settings: Any, threads: int
) -> None:
    settings.CALLBACK_DB_THREADS = threads
    provider = provider_make()
    messages(provider, 40)
    requests = [status(provider, f"m-{i}", "delivered", T0 + timedelta(seconds=1)) for i in range(40)]
    requests += [status(provider, f"m-{i}", "read", T0 + timedelta(seconds=2)) for i in range(0, 40, 2)]
    requests += [status(provider, "m-1", "delivered", T0 + timedelta(seconds=1))]  # a duplicate
    requests += [status(provider, "m-39", "rejected", T0, error={"code": "1340", "reason": "Outside the window"})]

    answers = run(app, requests)

    assert [a.status_code for a in answers] == [200] * len(requests)
    assert all(a.json() == {"status": "ok"} for a in answers)
    rows = {m.message_uuid: m for m in Message.objects.all()}
    for i in range(39):  # m-39 raced a delivery with a rejection: checked below
        expected = "read" if i % 2 == 0 else "delivered"
        assert rows[f"m-{i}"].status == expected, i
    # A failure never overrides a delivery it raced with, and vice versa: whichever came first wins.
    assert rows["m-39"].status in ("delivered", "rejected")
    assert (rows["m-39"].error_code == "1340") == (rows["m-39"].status == "rejected")
    assert rows["m-0"].read_at == T0 + timedelta(seconds=2)
    assert rows["m-0"].delivered_at == T0 + timedelta(seconds=1)
    assert app.writer.transactions < len(requests) // 4


def test_answers_match_the_django_views(app: CallbackFastPath) -> None:
    provider = provider_make()
    url = f"/callbacks/nexmo/{provider.callback_token}/status/"
    big = json.dumps({"pad": "x" * (256 * 1024)}).encode()
    answers = run(
        app,
        [
            {"method": "GET", "url": url},
            {"method": "POST", "url": "/callbacks/nexmo/nope/status/", "content": b"{}"},
            {"method": "POST", "url": url, "content": b"not json"},
            {"method": "POST", "url": url, "content": b'{"hello": 1}'},
            {"method": "POST", "url": url, "content": b'{"status": NaN}'},
            {"method": "POST", "url": url, "content": big},
            {"method": "GET", "url": "/accounts/login/"},
        ],
    )
    assert [a.status_code for a in answers] == [405, 404, 400, 400, 400, 413, 200]
    assert answers[0].headers["allow"] == "POST"
    assert "copy it again" in answers[1].json()["detail"]
    assert answers[2].json()["detail"].startswith("Not a Nexmo status callback")
    assert b"<form" in answers[6].content  # everything else is Django's
    assert CallbackLog.objects.filter(response_status=400).count() == 3


def test_signed_callbacks_are_checked(app: CallbackFastPath) -> None:
    provider = provider_make(signature_secret=SECRET)
    messages(provider, 1)
    unsigned = status(provider, "m-0", "delivered", T0)
    signed = status(provider, "m-0", "delivered", T0)
    signed["headers"]["authorization"] = sign(signed["content"], SECRET)
    wrong = status(provider, "m-0", "read", T0)
    wrong["headers"]["authorization"] = sign(b"another body", SECRET)

    answers = run(app, [unsigned, signed, wrong])

    assert [a.status_code for a in answers] == [401, 200, 401]
    assert Message.objects.get().status == "delivered"
    assert CallbackLog.objects.filter(response_status=401).count() == 2


def test_unknown_messages_are_kept_and_inbound_is_recorded(app: CallbackFastPath) -> None:
    provider = provider_make()
    inbound = load("v0.1-inbound-text.json")
    answers = run(
        app,
        [
            status(provider, "not-yet", "delivered", T0, client_ref="ref-later"),
            {
                "method": "POST",
                "url": f"/callbacks/nexmo/{provider.callback_token}/inbound/",
                "content": json.dumps(inbound).encode(),
            },
        ],
    )
    assert [a.status_code for a in answers] == [200, 200]
    assert PendingStatus.objects.get().message_uuid == "not-yet"
    assert InboundMessage.objects.get().message_uuid == inbound["message_uuid"]


def test_a_failing_batch_is_retried_one_by_one(app: CallbackFastPath, monkeypatch: pytest.MonkeyPatch) -> None:
    """One callback the database refuses costs only itself (503, Nexmo retries), never the rest of its batch."""
    provider = provider_make()
    messages(provider, 10)
    real = statuses.message_statuses_apply

    def refuse_poison(*, events: Any, announcements: Any) -> list[str]:
        if any(event.message_uuid == "m-7" for _, event in events):
            raise RuntimeError("the database refused the write")
        return real(events=events, announcements=announcements)

    monkeypatch.setattr(statuses, "message_statuses_apply", refuse_poison)
    answers = run(app, [status(provider, f"m-{i}", "delivered", T0) for i in range(10)])

    codes = [a.status_code for a in answers]
    assert codes[7] == 503 and codes[:7] + codes[8:] == [200] * 9
    states = dict(Message.objects.values_list("message_uuid", "status"))
    assert states.pop("m-7") == "submitted"
    assert set(states.values()) == {"delivered"}


def test_a_stalled_database_is_answered_503_not_queued_forever(
    app: CallbackFastPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = provider_make()
    messages(provider, 1)
    monkeypatch.setattr(asgi, "BACKLOG_MAX", 0)
    [answer] = run(app, [status(provider, "m-0", "delivered", T0)])
    assert answer.status_code == 503
    assert Message.objects.get().status == "submitted"


def test_the_production_entry_point_under_uvicorn() -> None:
    """`whatsapp_project.asgi:application` served by a real uvicorn: callbacks over HTTP, lifespan shutdown clean."""
    import socket
    import threading
    import time

    import uvicorn

    from whatsapp_project.asgi import application

    provider = provider_make()
    messages(provider, 3)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            answers = [client.request(**status(provider, f"m-{i}", "read", T0)) for i in range(3)]
            login = client.get("/accounts/login/")
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert login.status_code == 200
    assert set(Message.objects.values_list("status", flat=True)) == {"read"}
    assert not thread.is_alive()


def test_the_production_recipe_under_gunicorn_with_uvicorn_workers() -> None:
    """The README's command (`gunicorn whatsapp_project.asgi:application -k uvicorn_worker.UvicornWorker`) in its own
    processes, on this test database: callbacks are applied, other URLs reach Django, and it stops cleanly."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path
    from urllib.parse import quote

    from django.conf import settings
    from django.db import connection

    provider = provider_make()
    messages(provider, 3)
    database = connection.settings_dict
    user, password = quote(database["USER"] or "", safe=""), quote(database["PASSWORD"] or "", safe="")
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    url = f"postgres://{user}:{password}@{host}:{port}/{database['NAME']}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {
        "DATABASE_URL": url,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "DEBUG": "true",
        "REDIS_URL": "",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "whatsapp_project.asgi:application", "-k", "uvicorn_worker.UvicornWorker"]
    server = subprocess.Popen(
        [*command, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=settings.BASE_DIR,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.1)
            answers = [client.request(**status(provider, f"m-{i}", "read", T0)) for i in range(3)]
            login = client.get("/accounts/login/")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, errors = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()  # its workers hold connections to the test database
            _, errors = server.communicate()
            raise
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert login.status_code == 200
    assert set(Message.objects.values_list("status", flat=True)) == {"read"}
    assert server.returncode == 0, errors
    assert "Traceback" not in errors, errors


def test_odd_prices_in_a_batch_are_dropped_and_every_status_stored(app: CallbackFastPath) -> None:
    provider = provider_make()
    messages(provider, 3)
    prices = ["1e-999999", "0.0147", "NaN"]
    requests = [
        status(provider, f"m-{i}", "delivered", T0, usage={"currency": "EUR", "price": price})
        for i, price in enumerate(prices)
    ]
    answers = run(app, requests)
    assert [a.status_code for a in answers] == [200, 200, 200]
    rows = {m.message_uuid: m for m in Message.objects.all()}
    assert [rows[f"m-{i}"].status for i in range(3)] == ["delivered"] * 3
    assert [rows[f"m-{i}"].price for i in range(3)] == [None, Decimal("0.01470"), None]
