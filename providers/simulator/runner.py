"""Starting the simulator: in the foreground (the management command) or in a thread (tests and benchmarks)."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from providers.simulator.config import SimulatorConfig
from providers.simulator.core import Simulator, config_public
from providers.simulator.http import HttpProtocol

T = TypeVar("T")


async def start(simulator: Simulator) -> asyncio.Server:
    cfg = simulator.config
    context = None
    if cfg.tls_cert_file:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file)
    await simulator.refresh_channels()
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: HttpProtocol(simulator.handle), cfg.host, cfg.port, backlog=4096, ssl=context
    )


def bound_port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def serve_forever(config: SimulatorConfig, *, ready: Callable[[Simulator, int], None] | None = None) -> None:
    """Run until cancelled (Ctrl-C in the management command)."""
    simulator = Simulator(config)
    server = await start(simulator)
    if ready is not None:
        ready(simulator, bound_port(server))
    try:
        async with server:
            await server.serve_forever()
    finally:
        await simulator.close()


class SimulatorHandle:
    """A simulator running on its own event loop in a daemon thread; every method is safe to call from other threads."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._server: asyncio.Server | None = None
        self.simulator = Simulator(config)
        self._thread = threading.Thread(target=self._run, name="nexmo-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise self._error
        if self._server is None:
            raise RuntimeError("The Nexmo simulator did not start within 30 seconds.")
        self.port: int = bound_port(self._server)
        scheme = "https" if config.tls_cert_file else "http"
        host = "127.0.0.1" if config.host in ("", "0.0.0.0") else config.host  # noqa: S104 - only compared
        self.base_url: str = f"{scheme}://{host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(start(self.simulator))
        except (OSError, ValueError) as error:  # handed to the starting thread, which raises it
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.simulator.close())
        self._loop.close()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _sync(self, function: Callable[[], T]) -> T:
        async def run() -> T:
            return function()

        return self.call(run())

    def counters(self) -> dict[str, Any]:
        """A deep copy of the counters (the same JSON as GET /_sim/counters)."""
        return self._sync(lambda: json.loads(json.dumps(self.simulator.counters)))

    def messages(self, *, limit: int = 100, to: str = "", client_ref: str = "") -> list[dict[str, Any]]:
        """Recent accepted sends, newest first (the `results` of GET /_sim/messages)."""
        query = {"limit": [str(limit)], "to": [to], "client_ref": [client_ref]}
        return self._sync(lambda: self.simulator.messages_list(query)["results"])

    def inbound(self) -> list[dict[str, Any]]:
        """Inbound messages the simulator posted as the customer, newest first."""
        return self._sync(lambda: list(self.simulator.inbound))

    def reset(self) -> None:
        self._sync(self.simulator.reset)

    def configure(self, **changes: Any) -> None:
        """Change settings while running, e.g. configure(rate_429=0.5, latency_ms=100)."""
        self._sync(lambda: self.simulator.configure(**changes))

    def config(self) -> dict[str, Any]:
        return self._sync(lambda: config_public(self.simulator.config))

    def open_window(self, *, business: str, customer: str) -> None:
        """Mark the customer as having written now (the 24 h window is open), without posting an inbound."""
        from providers.simulator.config import digits

        def mark() -> None:
            self.simulator.windows[(digits(business), digits(customer))] = time.time()

        self._sync(mark)

    def customer(self, **kwargs: Any) -> dict[str, Any]:
        """Play the customer; same arguments as Simulator.customer (from_number, to_number, text, stop, button,
        tap, index). Raises CustomerError when the action cannot be played."""
        return self.call(self.simulator.customer(**kwargs))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """Poll the counters until predicate(counters) holds; returns them, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            counters = self.counters()
            if predicate(counters):
                return counters
            if time.monotonic() > deadline:
                raise TimeoutError(f"Simulator counters never matched: {counters}")
            time.sleep(0.01)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until no callback is scheduled or on its way (True), or `timeout` passes (False): stopping cancels
        what is left, and a callback cancelled mid-request may still be handled by its receiver afterwards."""
        deadline = time.monotonic() + timeout
        while self._loop.is_running() and self._sync(lambda: len(self.simulator.tasks)):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        if not self._loop.is_running():
            return

        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            await self.simulator.close()

        self.call(shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_in_thread(config: SimulatorConfig | None = None, **changes: Any) -> SimulatorHandle:
    """Start a simulator on a free loopback port (port 0 unless given) and return its handle once it listens."""
    return SimulatorHandle((config or SimulatorConfig()).with_changes(**changes))


def customer_request(simulator_url: str, data: dict[str, Any], *, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """POST /_sim/customer to a running simulator (the CLI's `customer` action): (HTTP status, JSON answer)."""
    if not simulator_url.startswith(("http://", "https://")):
        raise ValueError(f"The simulator URL must start with http:// or https://: {simulator_url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        simulator_url.rstrip("/") + "/_sim/customer",
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - scheme checked above
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
