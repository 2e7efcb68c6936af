"""Journeys at scale on PostgreSQL: 100,000 enrollments whose wait ends at the same moment, advanced by the scheduler
tick (wait → update_property → exit), against a naive loop that runs one enrollment at a time.

Runs in its own database (`bench_journeys`, created and dropped here, on BENCH_DATABASE_URL's server or the one `make
bench` started), in a child process with DATABASE_URL pointing there. A "step" is one node executed (update_property,
exit) and logged; the wait that ends is not counted. The naive baseline runs the same runtime one enrollment at a time
(claim, walk, write back per enrollment) on a sample, in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from common import PG_URL

ROOT = Path(__file__).resolve().parent.parent
DSN = f"{PG_URL}/bench_journeys"
ENROLLMENTS = int(os.environ.get("BENCH_JOURNEYS_ENROLLMENTS", "100000"))
NAIVE = 2000
NODES = [
    {"id": "pause", "type": "wait", "seconds": 3600, "next": "mark"},
    {"id": "mark", "type": "update_property", "property": "welcomed", "value": True, "next": "end"},
    {"id": "end", "type": "exit"},
]


def _admin_dsn() -> tuple[str, str]:
    parts = urlsplit(DSN)
    name = parts.path.lstrip("/") or "bench_journeys"
    return urlunsplit(parts._replace(path="/postgres")), name


def _populate(count: int, offset: int, name: str, due: Any) -> Any:
    """A live journey and `count` contacts waiting in it, all due at `due`."""
    from contacts.models import Contact
    from journeys import services
    from journeys.models import Enrollment, EnrollmentState, WaitKind

    journey = services.journey_create(
        data={"name": name, "trigger": {"type": "event", "event": "signup"}, "entry_node": "pause", "nodes": NODES}
    )
    journey = services.journey_publish(journey=journey)
    contacts = Contact.objects.bulk_create(
        [
            Contact(phone=f"+4477{n:08d}", name=f"C{n}", properties={"plan": "gold"})
            for n in range(offset, offset + count)
        ],
        batch_size=5000,
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(
                journey=journey,
                version=journey.current_version,
                contact=c,
                state=EnrollmentState.WAITING,
                node="pause",
                wait_kind=WaitKind.TIMER,
                steps=1,
                next_run_at=due,
            )
            for c in contacts
        ],
        batch_size=5000,
    )
    return journey


def _phase() -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from contacts.models import Contact
    from journeys import services
    from journeys.models import Enrollment, EnrollmentState, JourneyStatus

    call_command("migrate", verbosity=0)
    due = timezone.now() + timedelta(hours=1)
    naive_journey = _populate(NAIVE, 10_000_000, "naive", due)
    bulk_journey = _populate(ENROLLMENTS, 0, "bulk", due)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # Baseline first, with the bulk journey paused so the naive loop only sees its own rows.
    services.journey_pause(journey=bulk_journey)
    ids = list(Enrollment.objects.filter(journey=naive_journey).values_list("pk", flat=True))
    moment = due + timedelta(seconds=1)
    started = time.perf_counter()
    naive_steps = sum(services.enrollments_run(enrollment_ids=[pk], now=moment) for pk in ids)
    naive_seconds = time.perf_counter() - started
    bulk_journey.refresh_from_db()
    type(bulk_journey).objects.filter(pk=bulk_journey.pk).update(status=JourneyStatus.LIVE)
    started = time.perf_counter()
    if os.environ.get("BENCH_JOURNEYS_PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        steps = profiler.runcall(services.journeys_tick, now=moment, budget_seconds=3600)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    else:
        steps = services.journeys_tick(now=moment, budget_seconds=3600)
    seconds = time.perf_counter() - started
    completed = Enrollment.objects.filter(journey=bulk_journey, state=EnrollmentState.COMPLETED).count()
    marked = Contact.objects.filter(properties__welcomed=True).count()
    return {
        "steps": steps,
        "seconds": seconds,
        "completed": completed,
        "marked": marked,
        "naive_steps": naive_steps,
        "naive_seconds": naive_seconds,
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
    try:
        out = subprocess.run([sys.executable, __file__, "phase"], env=env, capture_output=True, text=True, check=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if os.environ.get("BENCH_JOURNEYS_PROFILE"):
        print(out.stderr[-12000:])
    if out.returncode or not lines:
        raise RuntimeError(f"bench failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    r = json.loads(lines[-1].removeprefix("RESULT "))
    rate = r["steps"] / r["seconds"]
    naive_rate = r["naive_steps"] / r["naive_seconds"]
    return [
        {
            "name": f"journey steps, {ENROLLMENTS:,} enrollments due at once (wait → update_property → exit)",
            "value": round(rate),
            "unit": "steps/s",
            "baseline": round(naive_rate),
            "goal": ">= 5000",
            "note": f"{r['steps']:,} steps in {r['seconds']:.1f} s by the scheduler tick in batches of 5,000 "
            f"({r['completed']:,} completed, {r['marked']:,} contacts updated; {rate / 2:,.0f} enrollments/s); "
            f"baseline: the same runtime one enrollment at a time on {NAIVE:,} enrollments",
        }
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "phase":
        _child()
    else:
        for row in run():
            print(row)
