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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import key_pair, phase_run, production_env, psql, sim_call

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "bench_template_sync"
TEMPLATES = int(os.environ.get("BENCH_TEMPLATES", "5000"))
WABA = "100000000000001"
SMALL_PAGES = 25  # Vonage's default `limit`


def _number(nickname: str, phone: str, private: str, base_url: str) -> Any:
    """A number on the simulated account, half of whose templates are known already (registered by hand, still
    pending here): a sync updates those and creates the rest."""
    from providers.models import ProviderConfig
    from templates_app.models import Template

    provider = ProviderConfig.objects.create(
        nickname=nickname,
        phone_number=phone,
        application_id="bench-app",
        private_key=private,
        api_base_url=base_url,
        waba_id=WABA,
        max_messages_per_second=1000,
    )
    Template.objects.bulk_create(
        [
            Template(provider=provider, name=f"bench_{n:06d}", language="en_US", status="pending", body="Hi {{1}}")
            for n in range(0, TEMPLATES, 2)
        ],
        batch_size=2000,
    )
    return provider


def _phase(private_key: Path) -> dict[str, Any]:
    from providers.nexmo import templates as vonage
    from providers.simulator import Channel, SimulatorConfig, run_in_thread
    from providers.simulator.directory import public_key_pem
    from templates_app.models import Template
    from templates_app.sync import SyncReport, _pages, template_fields, templates_sync

    private = private_key.read_text()
    channel = Channel(application_id="bench-app", public_key_pem=public_key_pem(private), number="447700900000")
    with run_in_thread(SimulatorConfig(channels=(channel,), callbacks=False)) as simulator:
        seed = {"waba_id": WABA, "count": TEMPLATES, "prefix": "bench", "status": "APPROVED"}
        sim_call(simulator.base_url, "/_sim/templates/seed", seed)
        provider = _number("Bench", "+447700900000", private, simulator.base_url)
        started = time.perf_counter()
        report = templates_sync(provider=provider)
        seconds = time.perf_counter() - started
        first = sim_call(simulator.base_url, "/_sim/templates")["counters"]

        # Baseline: the same pages fetched the same way, then written one template at a time (update_or_create),
        # for a second number in the same state (half known, pending).
        naive = _number("Naive", "+447700900001", private, simulator.base_url)
        started = time.perf_counter()
        for row in _pages(naive, SyncReport()):
            Template.objects.update_or_create(
                provider=naive, name=row["name"], language=row["language"], defaults=template_fields(row)
            )
        naive_seconds = time.perf_counter() - started

        vonage.PAGE_SIZE = SMALL_PAGES
        started = time.perf_counter()
        again = templates_sync(provider=provider)
        small_seconds = time.perf_counter() - started
        both = sim_call(simulator.base_url, "/_sim/templates")["counters"]
    return {
        "report": report.as_dict(),
        "requests": report.requests,
        "seconds": seconds,
        "naive_seconds": naive_seconds,
        "busiest_second": first["busiest_second"],
        "throttled": both["throttled"],
        "small_requests": again.requests,
        "small_seconds": small_seconds,
        "small_report": again.as_dict(),
        "busiest_second_overall": both["busiest_second"],
        "stored": Template.objects.filter(provider=provider, status="approved").count(),
    }


def run() -> list[dict[str, Any]]:
    env = production_env(DB_NAME, PYTHONPATH=str(ROOT))
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")
    try:
        with tempfile.TemporaryDirectory() as folder:
            private, _ = key_pair(Path(folder))
            r = phase_run(__file__, env, "sync", private)
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    counts = r["report"]
    return [
        {
            "name": f"sync of {TEMPLATES:,} templates from the simulated Template Management API",
            "value": round(r["seconds"], 2),
            "unit": "s",
            "baseline": round(r["naive_seconds"], 2),
            "goal": "< 30",
            "note": f"{counts['created']:,} created, {counts['updated']:,} updated in {r['requests']} requests "
            f"(pages of {r['requests'] and -(-TEMPLATES // r['requests'])}); busiest second {r['busiest_second']} "
            f"requests; {r['stored']:,} approved stored; baseline: the same pages written one update_or_create a "
            "template",
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


def _worker(phase: str, args: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    if phase == "sync":
        print(json.dumps(_phase(Path(args[0]))))


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "worker":
    _worker(sys.argv[2], sys.argv[3:])
