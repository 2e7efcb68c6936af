"""Status-callback ingestion with PostgreSQL, load from another process (wrk) over loopback.

Four servers are measured in the same run, each under the same load (keep-alive, fixed concurrency):
- the real endpoint `/callbacks/nexmo/<token>/status/` as production serves it: `whatsapp_project.asgi` in uvicorn
  workers under gunicorn, where concurrent status callbacks share one transaction (verify, parse, conditional
  UPDATE each);
- the same URL through the Django view under gunicorn sync workers (what `make run` serves, one commit each);
- `naive`: the same work done the obvious way (get the row, check order in Python, save() the whole row, log every
  callback in a table) under gunicorn — the baseline;
- `bare`: a Django view answering `{"ok": true}` with no database at all under gunicorn.

The database `bench_callbacks` is created, migrated, filled with messages and dropped by the run. This module is
also the gunicorn entry point (`bench_callbacks:application`), serving the real URLs plus `/naive/` and `/bare/`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import free_port, production_env, psql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
DB_NAME = "bench_callbacks"
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "240000"))
DURATION = float(os.environ.get("BENCH_SECONDS", "8"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
TOKEN = "bench-callback-token"


# --- server side (imported by gunicorn workers) ----------------------------------------------------------------


def _server_application() -> Any:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.ROOT_URLCONF = __name__
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _urlpatterns() -> list[Any]:
    from django.contrib.auth.decorators import login_not_required
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import include, path
    from django.utils import timezone
    from django.views.decorators.csrf import csrf_exempt

    from providers.models import CallbackLog, Message, ProviderConfig

    order = ["queued", "sending", "unknown", "submitted", "delivered", "read"]

    @csrf_exempt
    @login_not_required
    def naive(request: HttpRequest, callback_token: str) -> HttpResponse:
        provider = ProviderConfig.objects.get(callback_token=callback_token)
        payload = json.loads(request.body)
        CallbackLog.objects.create(
            provider=provider, kind="status", response_status=200, note="naive", body=request.body.decode()
        )
        message = Message.objects.filter(provider=provider, message_uuid=payload["message_uuid"]).first()
        if message is not None and order.index(payload["status"]) > order.index(message.status):
            message.status = payload["status"]
            setattr(message, f"{payload['status']}_at", timezone.now())
            message.save()
        return JsonResponse({"status": "ok"})

    @csrf_exempt
    @login_not_required
    def bare(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"status": "ok"})

    return [
        path("naive/<str:callback_token>/status/", naive),
        path("bare/", bare),
        path("", include("providers.urls")),
    ]


if os.environ.get("BENCH_CALLBACKS_SERVER") == "1":
    application = _server_application()
    urlpatterns = _urlpatterns()


# --- load generator (run as `python bench_callbacks.py load URL COUNT`) ----------------------------------------


def _load(url: str, start: int, count: int, status: str) -> None:
    import asyncio

    import aiohttp

    latencies: list[float] = []
    codes: dict[int, int] = {}

    async def main() -> float:
        deadline = time.perf_counter() + DURATION
        counter = iter(range(start, start + count))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

            async def worker() -> None:
                for i in counter:
                    if time.perf_counter() > deadline:
                        return
                    body = json.dumps(
                        {
                            "message_uuid": f"bench-{i % MESSAGES:08d}",
                            "to": {"type": "whatsapp", "number": "447700900001"},
                            "from": {"type": "whatsapp", "number": "447700900000"},
                            "timestamp": "2026-01-01T12:00:00.000Z",
                            "status": status,
                            "client_ref": f"bench-ref-{i % MESSAGES:08d}",
                        }
                    )
                    sent = time.perf_counter()
                    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
                        await r.read()
                        codes[r.status] = codes.get(r.status, 0) + 1
                    latencies.append(time.perf_counter() - sent)

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return time.perf_counter() - began

    elapsed = asyncio.run(main())
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "rate": len(latencies) / elapsed,
                "p50": p(0.5),
                "p99": p(0.99),
                "codes": codes,
            }
        )
    )


WRK_SCRIPT = """
local counter = 0
local first, count, status = %d, %d, "%s"
request = function()
  local i = first + counter %% count
  counter = counter + 1
  local body = string.format('{"message_uuid":"bench-%%08d","to":{"type":"whatsapp","number":"447700900001"},'
    .. '"from":{"type":"whatsapp","number":"447700900000"},"timestamp":"2026-01-01T12:00:00.000Z",'
    .. '"status":"%%s","client_ref":"bench-ref-%%08d"}', i, status, i)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def _load_wrk(url: str, start: int, count: int, status: str, seconds: float) -> dict[str, Any]:
    """The same load from wrk (C, one thread): on 2 cores a Python client would take the CPU the server needs."""
    import re
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (start, count, status))
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{CONCURRENCY}", f"-d{max(1, round(seconds))}s", "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def millis(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    return {
        "requests": total,
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": millis("50"),
        "p99": millis("99"),
        "codes": {"2xx": total - failed, "other": failed},
    }


# --- orchestration ---------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return production_env(DB_NAME, CONN_MAX_AGE="600")


SEED = """
from providers.models import Message, ProviderConfig
p = ProviderConfig.objects.create(nickname="bench", phone_number="+447700900000", application_id="app",
                                  callback_token="%s")
Message.objects.bulk_create([Message(provider=p, to="+447700900001", status="submitted", origin="campaign",
    origin_ref="bench", content_type="text", message_uuid=f"bench-{i:08d}", client_ref=f"bench-ref-{i:08d}")
    for i in range(%d)], batch_size=5000)
"""


def _wait_ready(url: str, *, workers: int) -> None:
    """Until every worker has loaded Django: the port is open (the master listens) long before they can answer."""
    import urllib.request

    answered = 0
    deadline = time.monotonic() + 120
    while answered < workers * 4 and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                answered += response.status == 200
        except OSError:
            time.sleep(0.2)


def _gunicorn(port: int, app: str = "bench_callbacks:application", *extra: str) -> list[str]:
    """The Django views under gunicorn sync workers (this module's URLs: the real ones plus /naive/ and /bare/)."""
    return [
        str(Path(PY).with_name("gunicorn")),
        app,
        *extra,
        "--chdir",
        str(HERE if app.startswith("bench_callbacks") else ROOT),
        "-w",
        str(WORKERS),
        "-b",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        "--graceful-timeout",
        "3",
    ]


def _asgi(port: int) -> list[str]:
    """The production entry point as the README runs it: the ASGI app with the callback fast path, in uvicorn
    workers under gunicorn."""
    return _gunicorn(port, "whatsapp_project.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker")


def _cpu_seconds(root: int) -> dict[str, float]:
    """CPU time (user + system) used so far by the process tree under `root` (the server), by every PostgreSQL
    process, and by this process's finished children (the load generator), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                raw = stat.read()
        except OSError:
            continue
        name, rest = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
        pid = int(entry)
        parents[pid], names[pid], used[pid] = int(rest[1]), name, (int(rest[11]) + int(rest[12])) / ticks
    tree = {root}
    for _ in range(3):  # gunicorn master → workers (→ their helpers)
        tree |= {pid for pid, parent in parents.items() if parent in tree}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "server": sum(used[pid] for pid in tree if pid in used),
        "db": sum(seconds for pid, seconds in used.items() if names[pid] == "postgres"),
        "load": children.ru_utime + children.ru_stime,
    }


def _measure(
    env: dict[str, str],
    path: str,
    messages: range,
    status: str,
    *,
    server: Any = _gunicorn,
    ready: str = "/bare/",
) -> dict[str, Any]:
    """Serve, warm up for a second, then load for BENCH_SECONDS over these messages (wrapping if it runs out)."""
    start, count = messages.start, len(messages)
    # Every phase starts from the same kind of table: the previous phase's dead row versions vacuumed (as autovacuum
    # would between bursts) and its dirty pages flushed, so no checkpoint or vacuum lands inside a measurement.
    for statement in ("VACUUM ANALYZE providers_message", "CHECKPOINT"):
        psql(statement, DB_NAME)
    port = free_port()
    server = subprocess.Popen(
        server(port), env=env | {"BENCH_CALLBACKS_SERVER": "1", "PYTHONPATH": str(ROOT)}, cwd=ROOT
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}{ready}", workers=WORKERS)
        url = f"http://127.0.0.1:{port}{path}"
        if shutil.which("wrk"):
            _load_wrk(url, start, 300, status, 1)  # warm-up
            before = _cpu_seconds(server.pid)
            result = _load_wrk(url, start + 300, count - 300, status, DURATION)
            after = _cpu_seconds(server.pid)
            # Where the time goes: CPU per request of the server, of PostgreSQL and of the load generator.
            result["cpu_us"] = {
                part: round((after[part] - before[part]) / max(result["requests"], 1) * 1e6) for part in after
            }
            return result
        subprocess.run(
            [PY, __file__, "load", url, str(start), "300", status],
            env=env | {"BENCH_SECONDS": "1"},
            capture_output=True,
            text=True,
            check=True,
        )
        out = subprocess.run(
            [PY, __file__, "load", url, str(start + 300), str(count - 300), status],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _parse_cost() -> float:
    """Microseconds to verify-free parse one status callback in-process (json + status_parse)."""
    from providers.nexmo.webhooks import json_load, status_parse

    raw = json.dumps(
        {
            "message_uuid": "bench-00000001",
            "to": {"type": "whatsapp", "number": "447700900001"},
            "timestamp": "2026-01-01T12:00:00.000Z",
            "status": "delivered",
            "client_ref": "r",
        }
    ).encode()
    n = 20000
    began = time.perf_counter()
    for _ in range(n):
        status_parse(json_load(raw))
    return (time.perf_counter() - began) / n * 1e6


def run() -> list[dict[str, Any]]:
    env = _env()
    load_before = os.getloadavg()[0]
    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    try:
        subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run([PY, "manage.py", "shell", "-c", SEED % (TOKEN, MESSAGES)], cwd=ROOT, env=env, check=True)
        # Each run moves its own fresh messages forward (the production path: submitted → delivered, then
        # delivered → read), so every request does a real update.
        naive_range, view_range = range(0, MESSAGES // 6), range(MESSAGES // 6, MESSAGES // 3)
        real_range = range(MESSAGES // 3, MESSAGES)
        real = f"/callbacks/nexmo/{TOKEN}/status/"
        naive = _measure(env, f"/naive/{TOKEN}/status/", naive_range, "delivered")
        view = _measure(env, real, view_range, "delivered")
        real_delivered = _measure(env, real, real_range, "delivered", server=_asgi, ready="/healthz")
        real_read = _measure(env, real, real_range, "read", server=_asgi, ready="/healthz")
        bare = _measure(env, "/bare/", naive_range, "delivered")
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    parse_us = _parse_cost()
    load_after = os.getloadavg()[0]
    note = (
        f"gunicorn, {WORKERS} uvicorn workers (baseline: gunicorn, {WORKERS} sync workers), {CONCURRENCY} connections, "
        f"{'wrk' if shutil.which('wrk') else 'aiohttp'} load in its own process; "
        f"machine load average {load_before:.1f} before / {load_after:.1f} after (other work shares the 2 cores)"
    )
    return [
        {
            "name": "status callbacks/s (delivered, each a real UPDATE)",
            "value": round(real_delivered["rate"]),
            "unit": "req/s",
            "baseline": round(naive["rate"]),
            "goal": ">= 3000",
            "note": note,
        },
        {
            "name": "p99 latency (delivered)",
            "value": round(real_delivered["p99"], 1),
            "unit": "ms",
            "baseline": round(naive["p99"], 1),
            "goal": "< 100",
            "note": f"p50 {real_delivered['p50']:.1f} ms",
        },
        {
            "name": "status callbacks/s (read)",
            "value": round(real_read["rate"]),
            "unit": "req/s",
            "baseline": round(naive["rate"]),
            "goal": ">= 3000",
            "note": f"p99 {real_read['p99']:.1f} ms",
        },
        {
            "name": "CPU per status callback (delivered / read): server, PostgreSQL, load generator",
            "value": " / ".join(
                f"{r['cpu_us']['server']}, {r['cpu_us']['db']}, {r['cpu_us']['load']}"
                for r in (real_delivered, real_read)
                if "cpu_us" in r
            ),
            "unit": "us",
            "note": "from /proc over the measured seconds: the server's process tree, every PostgreSQL process on this "
            "machine (background writers included; 0 if PostgreSQL runs elsewhere) and wrk; on 2 cores the three "
            "together bound the rate at 2,000,000 / their sum per second",
        },
        {
            "name": "the same callbacks through the Django view (gunicorn sync, as under `make run`)",
            "value": round(view["rate"]),
            "unit": "req/s",
            "note": f"p99 {view['p99']:.1f} ms",
        },
        {
            "name": "bare Django JSON view under gunicorn (no DB)",
            "value": round(bare["rate"]),
            "unit": "req/s",
            "note": f"p99 {bare['p99']:.1f} ms",
        },
        {"name": "parse cost per callback (json + status_parse)", "value": round(parse_us, 1), "unit": "us"},
        {
            "name": "answers",
            "value": json.dumps(real_delivered["codes"]),
            "unit": "codes",
            "baseline": json.dumps(naive["codes"]),
        },
    ]


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "load":
    _load(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
