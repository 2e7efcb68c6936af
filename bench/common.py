"""Pieces every server benchmark needs: a throwaway PostgreSQL database, production-like settings, a free port."""

from __future__ import annotations

import bisect
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _server_url() -> str:
    """The server every benchmark database is made on: BENCH_DATABASE_URL's, else the one `make bench` started."""
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432"
    return urlunsplit(urlsplit(raw)._replace(path="", query="", fragment=""))


PG_URL = _server_url()


def psql(sql: str, database: str = "postgres") -> None:
    """One statement in autocommit (CREATE/DROP DATABASE, VACUUM, CHECKPOINT) on `database` of the bench server."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/{database}", autocommit=True) as conn:
        conn.execute(sql)


def production_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of a server under test: DEBUG off, a real key, its own database."""
    from cryptography.fernet import Fernet

    return os.environ | {
        "DATABASE_URL": f"{PG_URL}/{database}",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 60,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "FIELD_ENCRYPTION_KEYS": os.environ.get("BENCH_FERNET_KEY") or Fernet.generate_key().decode(),
        "LOG_LEVEL": "ERROR",
        # The benchmarks' Nexmo is the simulator on this machine.
        "NEXMO_ALLOWED_BASE_URLS": "http://127.0.0.1",
        "TESTING": "false",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def phase_run(script: str, env: dict[str, str], phase: str, *args: object, timeout: float = 900) -> dict[str, Any]:
    """Run `python script worker PHASE args…` in a fresh process and return the JSON its last line prints."""
    command = [sys.executable, script, "worker", phase, *map(str, args)]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"bench phase {phase} failed:\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def key_pair(folder: Path) -> tuple[Path, Path]:
    """A fresh RSA key pair for a bench application, as PEM files in `folder`: (private, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = folder / "private.pem"
    public = folder / "public.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def sim_call(base: str, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """One call to the simulator's control endpoints (GET, or POST with `data`)."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(data).encode() if data is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.loads(answer.read() or b"{}"))


def max_in_one_second(times: list[float]) -> int:
    """The most sends in any window [t, t + 1 s) starting at a send (the busiest one-second window)."""
    return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)), default=0)


def sends_recorded() -> list[float]:
    """From now on, note the wall-clock time at which each request to the send API leaves this process (after every
    pacing check, as the async client hands it to aiohttp). Beside the simulator's receive times it tells the
    sender's pacing from the jitter on the way, e.g. the simulator's own pauses when every core is busy."""
    from providers.nexmo.client import AsyncNexmoClient

    times: list[float] = []
    original = AsyncNexmoClient._session_send

    async def send(*args: Any, **kwargs: Any) -> Any:
        times.append(time.time())
        return await original(*args, **kwargs)

    AsyncNexmoClient._session_send = staticmethod(send)  # type: ignore[method-assign]
    return times


def phase_print(result: dict[str, Any], sent: list[float]) -> None:
    """A phase's last line: its result, plus the busiest second of what it sent itself (when it sent anything)."""
    if sent:
        result = result | {"sent_busiest": max_in_one_second(sorted(sent)), "sent": len(sent)}
    print(json.dumps(result))


def rate_over(times: list[float]) -> float:
    """Sends per second over the sending period, first to last receive at the simulator (start-up excluded)."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def simulator_start(
    env: dict[str, str], *, port: int, public_key: Path, application_id: str, latency_ms: int
) -> subprocess.Popen[bytes]:
    """`manage.py nexmo_simulator` in its own process (JWT and body checks on, callbacks off), once it listens."""
    simulator = subprocess.Popen(
        [sys.executable, "manage.py", "nexmo_simulator", "--no-db", "--port", str(port), "--latency-ms",
         str(latency_ms), "--public-key-file", str(public_key), "--application-id", application_id, "--no-callbacks",
         "--window-source", "off", "--seed", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return simulator


def phase_in_database(database: str, script: str, **env: str) -> dict[str, Any]:
    """Run `python script phase` against a fresh database of the bench server (created here, dropped after) in a
    child process, so that its peak memory is its own; returns the JSON of the `RESULT ` line it prints."""
    from cryptography.fernet import Fernet

    psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{database}"')
    try:
        child_env = {
            **os.environ,
            "DATABASE_URL": f"{PG_URL}/{database}",
            "DEBUG": "false",
            "SECRET_KEY": "b" * 60,
            "ALLOWED_HOSTS": "localhost",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            **env,
        }
        out = subprocess.run(
            [sys.executable, script, "phase"], env=child_env, capture_output=True, text=True, check=False
        )
        lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
        if out.returncode or not lines:
            raise RuntimeError(f"bench phase failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
        return dict(json.loads(lines[-1].removeprefix("RESULT ")))
    finally:
        psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def median_seconds(fn: Callable[[], object], repeat: int = 3) -> float:
    """The median wall time of `repeat` calls of `fn`."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
