"""Contacts at scale on PostgreSQL: a 1M-row CSV import and a segment count over 1M contacts and 5M events.

Runs in its own database (`bench_contacts`, created and dropped here, on BENCH_DATABASE_URL's server or the one `make
bench` started). Each phase runs in a child process so that its peak memory (RSS) is its own. Baselines, measured in the
same run: a naive per-row get/save import loop on a smaller sample, and the same segment filtered in Python.
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from common import PG_URL

ROOT = Path(__file__).resolve().parent.parent
DSN = f"{PG_URL}/bench_contacts"
ROWS = int(os.environ.get("BENCH_CONTACTS_ROWS", "1000000"))
EVENTS = int(os.environ.get("BENCH_CONTACTS_EVENTS", "5000000"))
NAIVE_ROWS = 2000
SEGMENT = {
    "match": "all",
    "groups": [
        {
            "match": "all",
            "conditions": [
                {"type": "consent", "op": "eq", "value": "subscribed"},
                {"type": "property", "key": "plan", "op": "eq", "value": "gold"},
                {"type": "property", "key": "lifetime_value", "op": "gt", "value": 100},
                {"type": "event", "op": "did", "name": "purchase", "min_count": 2, "days": 30},
            ],
        }
    ],
}


def _admin_dsn() -> tuple[str, str]:
    parts = urlsplit(DSN)
    name = parts.path.lstrip("/") or "bench_contacts"
    return urlunsplit(parts._replace(path="/postgres")), name


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _write_csv(path: Path, rows: int, start: int) -> None:
    rng = random.Random(start)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "phone", "name", "email", "plan", "city", "lifetime_value", "consent"])
        for n in range(start, start + rows):
            writer.writerow(
                [
                    f"c{n}",
                    f"+4477{n:08d}",
                    f"Customer {n}",
                    f"c{n}@example.com",
                    rng.choice(("free", "silver", "gold")),
                    rng.choice(("London", "Leeds", "Paris")),
                    rng.randint(0, 1000),
                    rng.choice(("yes", "no", "")),
                ]
            )


# --- phases, each run in a child process with DATABASE_URL pointing at the bench database --------------------------


def _phase_import(path: str) -> dict[str, Any]:
    from django.core.files import File
    from django.core.management import call_command

    from contacts.services import contact_import_create, contact_import_run, contact_import_start

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with open(path, "rb") as handle:
        job = contact_import_create(upload=File(handle, name="bench.csv"), user=None)
    job = contact_import_start(contact_import=job, enqueue=False)
    job = contact_import_run(contact_import=job)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "load": os.getloadavg()[0],
        "rows": job.rows_processed,
        "created": job.created_count,
        "invalid": job.invalid_count,
        "rss_mb": _peak_rss_mb(),
    }


def _phase_naive(path: str) -> dict[str, Any]:
    """The obvious loop: read a row, look the contact up, save it; one round trip (or two) per row."""
    from contacts.models import Contact
    from contacts.phones import phone_normalize

    started = time.perf_counter()
    count = 0
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            phone = phone_normalize(row["phone"])
            contact = Contact.objects.filter(external_id=row["customer_id"]).first() or Contact(phone=phone)
            contact.external_id, contact.name, contact.email = row["customer_id"], row["name"], row["email"]
            contact.properties = {**contact.properties, "plan": row["plan"], "city": row["city"]}
            contact.save()
            count += 1
    return {"seconds": time.perf_counter() - started, "rows": count}


def _phase_events(count: int) -> dict[str, Any]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM contacts_contact")
        low, high = cursor.fetchone()
        # Generated in the server: the point is the segment query, not how fast Python can make fake rows.
        cursor.execute(
            "INSERT INTO contacts_event (contact_id, name, properties, occurred_at, created_at)"
            " SELECT %s + floor(random() * (%s - %s + 1))::bigint,"
            " (ARRAY['purchase', 'app_open', 'app_open', 'cart_abandoned', 'page_view'])[1 + floor(random() * 5)::int],"
            " jsonb_build_object('total', floor(random() * 200)::int),"
            " now() - random() * interval '90 days', now() FROM generate_series(1, %s)",
            [low, high, low, count],
        )
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute("ANALYZE contacts_event")
    return {"seconds": time.perf_counter() - started}


def _phase_segment() -> dict[str, Any]:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from contacts.models import Consent, Contact, Event
    from contacts.selectors import segment_definition_contacts

    timings = []
    count = 0
    for _ in range(3):
        started = time.perf_counter()
        count = segment_definition_contacts(definition=SEGMENT).count()
        timings.append(time.perf_counter() - started)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_contact")
        contacts = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM contacts_event")
        events = cursor.fetchone()[0]
    # Baseline: the same audience worked out in Python from the rows.
    started = time.perf_counter()
    since = timezone.now() - timedelta(days=30)
    buyers: dict[int, int] = {}
    for contact_id in (
        Event.objects.filter(name="purchase", occurred_at__gte=since)
        .values_list("contact_id", flat=True)
        .iterator(20000)
    ):
        buyers[contact_id] = buyers.get(contact_id, 0) + 1
    naive = 0
    for pk, consent, props in Contact.objects.values_list("id", "whatsapp_consent", "properties").iterator(20000):
        try:
            value = float(props.get("lifetime_value", ""))
        except ValueError:
            continue
        if consent == Consent.SUBSCRIBED and props.get("plan") == "gold" and value > 100 and buyers.get(pk, 0) >= 2:
            naive += 1
    naive_seconds = time.perf_counter() - started
    return {
        "load": os.getloadavg()[0],
        "cold": timings[0],
        "warm": min(timings[1:]),
        "count": count,
        "naive_count": naive,
        "naive_seconds": naive_seconds,
        "contacts": contacts,
        "events": events,
        "rss_mb": _peak_rss_mb(),
    }


PHASES: dict[str, Callable[..., dict[str, Any]]] = {
    "import": _phase_import,
    "naive": _phase_naive,
    "events": _phase_events,
    "segment": _phase_segment,
}


def _child(phase: str, arg: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django

    django.setup()
    func = PHASES[phase]
    result = func(int(arg)) if phase == "events" else (func(arg) if arg else func())
    print("RESULT " + json.dumps(result), flush=True)


def _run_phase(phase: str, arg: object = "") -> dict[str, Any]:
    from cryptography.fernet import Fernet

    env = {**os.environ, "DATABASE_URL": DSN, "DEBUG": "false", "SECRET_KEY": "b" * 60, "ALLOWED_HOSTS": "localhost"}
    env["FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    out = subprocess.run(
        [sys.executable, __file__, phase, str(arg)], env=env, capture_output=True, text=True, check=False
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"bench phase {phase} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def run() -> list[dict[str, Any]]:
    import psycopg

    admin, name = _admin_dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            big, small = Path(tmp) / "contacts.csv", Path(tmp) / "naive.csv"
            _write_csv(big, ROWS, 0)
            _write_csv(small, NAIVE_ROWS, ROWS + 10)
            size_mb = big.stat().st_size / 1e6
            imported = _run_phase("import", big)
            naive = _run_phase("naive", small)
            big.unlink()
            _run_phase("events", EVENTS)
            segment = _run_phase("segment")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    import_rate = imported["rows"] / imported["seconds"]
    naive_rate = naive["rows"] / naive["seconds"]
    return [
        {
            "name": f"CSV import, {imported['rows']:,} rows ({size_mb:.0f} MB)",
            "value": round(import_rate),
            "unit": "rows/s",
            "baseline": round(naive_rate),
            "goal": ">= 20000",
            "note": f"{imported['seconds']:.1f} s, {imported['created']:,} created, load average "
            f"{imported['load']:.1f} at the end (2 cores); baseline: per-row get/save loop on {naive['rows']:,} rows",
        },
        {
            "name": "CSV import peak memory (RSS)",
            "value": round(imported["rss_mb"]),
            "unit": "MB",
            "note": "the whole import process; the file is streamed, never held",
        },
        {
            "name": f"segment count, {segment['contacts']:,} contacts / {segment['events']:,} events",
            "value": round(segment["warm"], 3),
            "unit": "s",
            "baseline": round(segment["naive_seconds"], 2),
            "goal": "< 2",
            "note": f"first run {segment['cold']:.2f} s, load average {segment['load']:.1f}; "
            f"{segment['count']:,} contacts match "
            f"(Python filtering found {segment['naive_count']:,}); baseline: same audience filtered in Python",
        },
        {
            "name": "segment count peak memory (RSS)",
            "value": round(segment["rss_mb"]),
            "unit": "MB",
            "note": "includes the Python-filtering baseline, which loads every contact",
        },
    ]


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] in PHASES:
        _child(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")
    else:
        for row in run():
            print(row)
