"""Nexmo's callback URLs served straight from ASGI, in front of Django's own handler.

Nexmo sends a status callback for every state of every message: at campaign speed that is thousands a second. Each
is tiny work (verify, parse, one UPDATE), so what costs is around it: Django's middleware stack, one database commit
(an fsync) per request. Here the same steps as the Django views (`providers.callbacks`) run on the event loop, and
the writes go to a few database threads per process (CALLBACK_DB_THREADS), each applying every status callback
that arrived while the threads were busy in a single transaction. A callback is answered 200 only after its batch
committed, so an answer still means the write is stored; a batch the database refuses is retried item by item, and
an item that still fails is answered 503 (Nexmo retries it).

Everything else (and callbacks when this module is not in front) goes to Django unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from providers import callbacks, services
from providers.models import CallbackKind, ProviderConfig

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CALLBACK_PATH = re.compile(r"^/callbacks/nexmo/(?P<token>[^/]+)/(?P<kind>inbound|status)/$")
# Status callbacks written per transaction at most, and waiting at most before new ones are answered 503 at once
# (the database has stalled: Nexmo retries later rather than our memory growing without bound).
BATCH_MAX = 500
BACKLOG_MAX = 20_000


class _Writer:
    """The database threads of this process (CALLBACK_DB_THREADS, each with its own connection), and the batching of
    status callbacks in front of them: a callback waits for the next free thread, with every other that came in
    meanwhile."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="callback-db")
        self.waiting: list[tuple[callbacks.Received, asyncio.Future[int]]] = []
        self.flushing = 0
        self.transactions = 0  # batches written: how many commits the status callbacks took

    async def run[T](self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, _in_db_thread, fn, *args)

    async def status(self, item: callbacks.Received) -> int:
        if len(self.waiting) >= BACKLOG_MAX:
            return 503
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        if self.flushing < self.threads:
            self.flushing += 1
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
                items = [item for item, _ in batch]
                self.transactions += 1
                try:
                    answers = await self.run(_statuses_write, items)
                except Exception:  # the thread itself failed: nothing was written
                    logger.exception("Status callbacks could not be written")
                    answers = [503] * len(batch)
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self.flushing -= 1

    async def close(self) -> None:
        """Close each thread's connection (each thread closes its own), then stop the threads."""
        barrier = threading.Barrier(self.threads)
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self.executor, _connection_close, barrier) for _ in range(self.threads))
        )
        self.executor.shutdown(wait=True)


_local = threading.local()  # per database thread: when it last did Django's between-requests connection check


def _in_db_thread[T](fn: Callable[..., T], *args: Any) -> T:
    # What Django does around every request (drop a connection past CONN_MAX_AGE, or broken), once a second here:
    # with health checks on it costs a round trip, which a batch every millisecond should not pay each time.
    if time.monotonic() - getattr(_local, "checked", 0.0) > 1.0:
        close_old_connections()
        _local.checked = time.monotonic()
    return fn(*args)


def _connection_close(barrier: threading.Barrier) -> None:
    barrier.wait(timeout=30)  # every thread holds one of these calls: each closes its own connection
    connection.close()


def _statuses_write(items: list[callbacks.Received]) -> list[int]:
    try:
        callbacks.statuses_write(items)
    except Exception:
        logger.warning("A batch of %d status callbacks failed; writing them one by one", len(items), exc_info=True)
        close_old_connections()
        _local.checked = time.monotonic()
        return callbacks.statuses_write_each(items)
    return [200] * len(items)


def _provider(token: str) -> ProviderConfig | None:
    return services.provider_for_callback(token=token)


async def _body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            callbacks.size_check(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, detail: str | None = None) -> None:
    body = callbacks.answer_body(status, detail)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 405:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CallbackFastPath:
    """ASGI application: Nexmo callback URLs here, everything else to `fallback` (Django)."""

    def __init__(self, fallback: ASGIApp) -> None:
        self.fallback = fallback
        self._writer: _Writer | None = None

    @property
    def writer(self) -> _Writer:
        if self._writer is None:
            self._writer = _Writer(int(settings.CALLBACK_DB_THREADS))
        return self._writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match = CALLBACK_PATH.match(scope["path"])
            if match:
                await self.callback(match["kind"], match["token"], scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        await self.fallback(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def close(self) -> None:
        """Let the database thread finish, close its connection, and stop it."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await writer.close()

    async def callback(self, kind: str, token: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        provider: ProviderConfig | None = None
        raw = b""
        try:
            callbacks.method_check(scope["method"])
            provider = services.provider_cached(token=token)
            if provider is None:
                provider = await self.writer.run(_provider, token)
            provider = callbacks.provider_check(provider)
            try:
                callbacks.size_check(int(headers.get(b"content-length", b"0")))
            except ValueError:
                pass
            raw = await _body(receive, callbacks.body_limit())
            authorization = headers.get(b"authorization")
            item = callbacks.callback_read(
                kind=kind,
                provider=provider,
                raw=raw,
                authorization=authorization.decode("latin-1") if authorization is not None else None,
            )
        except callbacks.Refused as refused:
            if provider is not None and refused.logged:
                await self.writer.run(
                    partial(callbacks.refusal_record, provider=provider, kind=kind, refused=refused, raw=raw)
                )
            await _respond(send, refused.status, refused.note)
            return
        except ConnectionError:
            return
        if kind == CallbackKind.STATUS:
            status = await self.writer.status(item)
        else:
            status = await self.writer.run(_inbound_write, item)
        await _respond(send, status, None if status == 200 else "The callback could not be stored; retry later.")


def _inbound_write(item: callbacks.Received) -> int:
    try:
        callbacks.inbound_write(item)
    except Exception:
        logger.exception("Inbound callback %s could not be written", item.event.message_uuid)
        return 503
    return 200
