"""The Nexmo simulator alone: sends per second and latency with 100 ms of added latency, from a load generator in
another process on loopback; compared in the same run with a bare aiohttp.web handler doing only the 100 ms sleep.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio (no parsing beyond Content-Length), so that it,
not the server, has the spare capacity. It signs one RS256 JWT and reuses it, as a gateway does for the token's life.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import threading
import time
import timeit
import uuid
from pathlib import Path
from typing import Any

LATENCY_MS = 100.0
CONNECTIONS = 900  # at 100 ms each, up to 9,000 requests/s can be in flight
WARMUP_S = 1.5
MEASURE_S = 5.0
APPLICATION_ID = "bench-app"
BUSINESS, CUSTOMER = "447700900000", "447700900001"
BODY = {
    "from": {"type": "whatsapp", "number": BUSINESS},
    "to": {"type": "whatsapp", "number": CUSTOMER},
    "message": {
        "content": {"type": "template", "template": {"name": "ns:order_update", "parameters": ["Ann", "A-17"]}},
        "whatsapp": {"policy": "deterministic", "locale": "en-GB"},
    },
    "client_ref": "bench-0001",
}


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or soft < hard < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))


# ---- the load generator (runs in a child process: `python bench_simulator.py load PORT PATH TOKEN`)


async def _load(port: int, path: str, token: str) -> dict[str, Any]:
    body = json.dumps(BODY).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    state = {"measuring": False, "stop": False}

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not state["stop"]:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            at = head.lower().find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
            await reader.readexactly(length)
            if state["measuring"]:
                latencies.append(time.perf_counter() - started)
                code = head[9:12].decode()
                statuses[code] = statuses.get(code, 0) + 1
        writer.close()

    tasks = [asyncio.ensure_future(connection()) for _ in range(CONNECTIONS)]
    await asyncio.sleep(WARMUP_S)
    state["measuring"] = True
    started = time.perf_counter()
    await asyncio.sleep(MEASURE_S)
    state["measuring"] = False
    elapsed = time.perf_counter() - started
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "statuses": statuses,
    }


def _load_in_child(port: int, path: str, token: str) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "load", str(port), path, token],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(answer.stdout)


# ---- the servers under test (in this process, each on its own thread and event loop)


def _keys() -> tuple[Any, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, public.decode()


def _token(key: Any) -> str:
    import jwt

    claims = {"application_id": APPLICATION_ID, "iat": int(time.time()), "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="RS256")


def _measure_simulator(public_pem: str, token: str, *, checks: bool) -> dict[str, Any]:
    from providers.simulator import Channel, SimulatorConfig, run_in_thread

    config = SimulatorConfig(
        channels=(Channel(APPLICATION_ID, public_pem, BUSINESS),),
        latency_ms=LATENCY_MS,
        callbacks=False,  # the send path alone; callbacks are the receiver's benchmark
        verify_jwt=checks,
        validate=checks,
        seed=1,
    )
    with run_in_thread(config) as handle:
        cpu = time.process_time()
        result = _load_in_child(handle.port, "/v0.1/messages", token)
        result["cpu_us"] = (time.process_time() - cpu) / max(1, handle.counters()["received"]) * 1e6
    return result


def _measure_bare_aiohttp(token: str) -> dict[str, Any]:
    from aiohttp import web

    async def messages(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(LATENCY_MS / 1000)
        return web.json_response({"message_uuid": str(uuid.uuid4())}, status=202)

    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_post("/v0.1/messages", messages)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        loop.run_until_complete(site.start())
        holder["runner"], holder["port"] = runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)
    try:
        cpu = time.process_time()
        result = _load_in_child(holder["port"], "/v0.1/messages", token)
        # Warm-up requests are not counted by the load generator: estimate them at the measured rate.
        total = result["rps"] * (MEASURE_S + WARMUP_S)
        result["cpu_us"] = (time.process_time() - cpu) / max(1.0, total) * 1e6
        return result
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _per_request_costs(key: Any, public_pem: str) -> dict[str, float]:
    """Microseconds of CPU per request for the checks, measured in-process."""
    from providers.simulator import Channel, Simulator, SimulatorConfig
    from providers.simulator.validation import validate_v01

    simulator = Simulator(SimulatorConfig(channels=(Channel(APPLICATION_ID, public_pem, BUSINESS),)))
    tokens = [f"Bearer {_token(key)}" for _ in range(200)]
    started = time.perf_counter()
    for header in tokens:
        simulator.authorize(header)
    first_verify = (time.perf_counter() - started) / len(tokens) * 1e6
    cached = timeit.timeit(lambda: simulator.authorize(tokens[0]), number=20_000) / 20_000 * 1e6
    validate = timeit.timeit(lambda: validate_v01(BODY), number=20_000) / 20_000 * 1e6
    return {"verify_new_us": first_verify, "verify_cached_us": cached, "validate_us": validate}


def run() -> list[dict[str, Any]]:
    _raise_fd_limit()
    key, public_pem = _keys()
    token = _token(key)
    full = _measure_simulator(public_pem, token, checks=True)
    bare_checks_off = _measure_simulator(public_pem, token, checks=False)
    bare_aiohttp = _measure_bare_aiohttp(token)
    costs = _per_request_costs(key, public_pem)
    note = f"{CONNECTIONS} keep-alive connections, {LATENCY_MS:.0f} ms added latency, {MEASURE_S:.0f} s"
    return [
        {
            "name": "sends/s, JWT + spec checks, 100 ms latency",
            "value": round(full["rps"]),
            "unit": "req/s",
            "baseline": round(bare_aiohttp["rps"]),
            "goal": ">= 5000",
            "note": f"baseline: bare aiohttp.web handler (sleep only); {note}; answers {full['statuses']}",
        },
        {
            "name": "sends/s, checks off",
            "value": round(bare_checks_off["rps"]),
            "unit": "req/s",
            "baseline": round(bare_aiohttp["rps"]),
            "note": f"same server without JWT and body checks; answers {bare_checks_off['statuses']}",
        },
        {
            "name": "latency p50, JWT + spec checks",
            "value": round(full["p50_ms"], 1),
            "unit": "ms",
            "baseline": round(bare_aiohttp["p50_ms"], 1),
            "goal": "~100",
            "note": "added latency is 100 ms; the rest is queueing",
        },
        {
            "name": "latency p99, JWT + spec checks",
            "value": round(full["p99_ms"], 1),
            "unit": "ms",
            "baseline": round(bare_aiohttp["p99_ms"], 1),
        },
        {
            "name": "server CPU per send, JWT + spec checks",
            "value": round(full["cpu_us"], 1),
            "unit": "us",
            "baseline": round(bare_aiohttp["cpu_us"], 1),
            "note": f"= {1e6 / full['cpu_us']:,.0f} sends/s per free core; "
            f"checks off: {bare_checks_off['cpu_us']:.1f} us",
        },
        {
            "name": "RS256 check of a new token",
            "value": round(costs["verify_new_us"], 1),
            "unit": "us/request",
            "note": f"a token seen before: {costs['verify_cached_us']:.2f} us (remembered until it expires)",
        },
        {"name": "v0.1 body check", "value": round(costs["validate_us"], 2), "unit": "us/request"},
    ]


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "load":
    _raise_fd_limit()
    print(json.dumps(asyncio.run(_load(int(sys.argv[2]), sys.argv[3], sys.argv[4]))))
