"""Template sync at scale: 5,000 templates of one WhatsApp Business Account pulled from the simulated Template
Management API into PostgreSQL (half of them new, half known with a changed status), under Vonage's 40 requests/s.

Runs in its own database (`bench_template_sync`, created and dropped here, on BENCH_DATABASE_URL's server or the one
`make bench` started), in a child process. The simulator answers 429 above 40 requests/s per account and counts the
busiest second it saw; a second sync with Vonage's default page size (25, so 200 requests) shows the pacing holding
when the requests, not the database, set the pace. Size: BENCH_TEMPLATES (default 5,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from common import PG_URL

ROOT = Path(__file__).resolve().parent.parent
DSN = f"{PG_URL}/bench_template_sync"
TEMPLATES = int(os.environ.get("BENCH_TEMPLATES", "5000"))
WABA = "100000000000001"
SMALL_PAGES = 25  # Vonage's default `limit`


def _admin_dsn() -> tuple[str, str]:
    parts = urlsplit(DSN)
    name = parts.path.lstrip("/") or "bench_template_sync"
    return urlunsplit(parts._replace(path="/postgres")), name


def _phase() -> dict[str, Any]:
    import httpx
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.core.management import call_command

    from providers.models import ProviderConfig
    from providers.nexmo import templates as vonage
    from providers.simulator import Channel, SimulatorConfig, run_in_thread
    from templates_app.models import Template
    from templates_app.sync import templates_sync

    call_command("migrate", verbosity=0)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    channel = Channel(application_id="bench-app", public_key_pem=public, number="447700900000")
    with run_in_thread(SimulatorConfig(channels=(channel,), callbacks=False)) as simulator:
        seeded = httpx.post(
            f"{simulator.base_url}/_sim/templates/seed",
            json={"waba_id": WABA, "count": TEMPLATES, "prefix": "bench", "status": "APPROVED"},
            timeout=120,
        )
        seeded.raise_for_status()
        provider = ProviderConfig.objects.create(
            nickname="Bench",
            phone_number="+447700900000",
            application_id="bench-app",
            private_key=private,
            api_base_url=simulator.base_url,
            waba_id=WABA,
            max_messages_per_second=1000,
        )
        # Half known already (registered by hand, still pending here): the sync updates those, creates the rest.
        Template.objects.bulk_create(
            [
                Template(provider=provider, name=f"bench_{n:06d}", language="en_US", status="pending", body="Hi {{1}}")
                for n in range(0, TEMPLATES, 2)
            ],
            batch_size=2000,
        )
        started = time.perf_counter()
        report = templates_sync(provider=provider)
        seconds = time.perf_counter() - started
        first = httpx.get(f"{simulator.base_url}/_sim/templates", timeout=10).json()["counters"]

        vonage.PAGE_SIZE = SMALL_PAGES
        started = time.perf_counter()
        again = templates_sync(provider=provider)
        small_seconds = time.perf_counter() - started
        both = httpx.get(f"{simulator.base_url}/_sim/templates", timeout=10).json()["counters"]
    return {
        "report": report.as_dict(),
        "requests": report.requests,
        "seconds": seconds,
        "busiest_second": first["busiest_second"],
        "throttled": both["throttled"],
        "small_requests": again.requests,
        "small_seconds": small_seconds,
        "small_report": again.as_dict(),
        "busiest_second_overall": both["busiest_second"],
        "stored": Template.objects.filter(provider=provider, status="approved").count(),
    }


def _child() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django

    django.setup()
    print("RESULT " + json.dumps(_phase()), flush=True)


def run() -> list[dict[str, Any]]:
    import psycopg
    from cryptography.fernet import Fernet

    admin, name = _admin_dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": DSN, "DEBUG": "false", "SECRET_KEY": "b" * 60, "ALLOWED_HOSTS": "localhost"}
    env["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    env["NEXMO_ALLOWED_BASE_URLS"] = "http://127.0.0.1"
    env["LOG_LEVEL"] = "ERROR"
    try:
        out = subprocess.run([sys.executable, __file__, "phase"], env=env, capture_output=True, text=True, check=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"bench failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    r = json.loads(lines[-1].removeprefix("RESULT "))
    counts = r["report"]
    return [
        {
            "name": f"sync of {TEMPLATES:,} templates from the simulated Template Management API",
            "value": round(r["seconds"], 2),
            "unit": "s",
            "goal": "< 30",
            "note": f"{counts['created']:,} created, {counts['updated']:,} updated in {r['requests']} requests "
            f"(pages of {r['requests'] and -(-TEMPLATES // r['requests'])}); busiest second {r['busiest_second']} "
            f"requests; {r['stored']:,} approved stored",
        },
        {
            "name": f"busiest second at the API, syncing again in pages of {SMALL_PAGES} (Vonage's default)",
            "value": r["busiest_second_overall"],
            "unit": "requests/s",
            "goal": "<= 40",
            "note": f"{r['small_requests']} requests in {r['small_seconds']:.1f} s, {r['throttled']} answered 429; "
            f"{r['small_report']['unchanged']:,} unchanged",
        },
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "phase":
        _child()
    else:
        for row in run():
            print(row)
