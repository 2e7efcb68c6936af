"""The outbox against the Nexmo simulator (its own process, 100 ms latency): journeys and campaigns on shared numbers.

Measured in one run, each phase in a fresh worker process (`python bench_outbox.py worker PHASE …`), on a throwaway
database `bench_outbox`:
- `burst`: BENCH_OUTBOX_BURST (100,000) enrollments due at once at a `send_template` node, number cap 1,000/s: the
  clock walks them, the walk queues every batch's messages at once, the number's outbox sender sends them; rate
  from the simulator's receive times. Baseline: the path journeys had before the outbox (the walk calling
  `message_send`, one request at a time) on a sample, in the same run.
- `mixed`: a campaign at the number's full cap while journey steps fall due steadily beside it: the busiest second
  on the number, and how long a step waits from its due time to its message reaching Nexmo (p95).
- `throttled`: the simulator answers 5 % of requests 429 at random: the rate a campaign still achieves.
- `pause`: a campaign at 1,000/s and one at 1/s paused from another thread: how long after the pause's answer the
  last request reaches Nexmo.
- `workers` (needs Redis): three `qcluster` processes on a Redis broker send three campaigns on three numbers at
  1,000/s each: aggregate rate, busiest second per number, duplicates; then `entries`: 3,000 signups posted in three
  batches, entered into their journey by those workers.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    free_port,
    key_pair,
    max_in_one_second,
    phase_print,
    phase_run,
    production_env,
    psql,
    rate_over,
    sends_recorded,
    sim_call,
    simulator_start,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
DB_NAME = "bench_outbox"
BURST = int(os.environ.get("BENCH_OUTBOX_BURST", "100000"))
NAIVE = int(os.environ.get("BENCH_OUTBOX_NAIVE", "100"))
MIXED_CAMPAIGN = int(os.environ.get("BENCH_OUTBOX_MIXED", "20000"))
MIXED_STEPS_PER_SECOND = 50
MIXED_SECONDS = 15
THROTTLED = int(os.environ.get("BENCH_OUTBOX_THROTTLED", "15000"))
WORKERS_EACH = int(os.environ.get("BENCH_OUTBOX_WORKERS_EACH", "15000"))
ENTRIES = int(os.environ.get("BENCH_OUTBOX_ENTRIES", "3000"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
LATENCY_MS = 100
CAP = 1000
APPLICATION_ID = "bench-outbox-app"
NUMBERS = ("+447700900010", "+447700900011", "+447700900012")
VARIABLES = {"1": {"property": "name", "fallback": "there"}, "2": {"value": "SPRING"}}


# --- worker side (a fresh process per phase, on the bench database) -------------------------------------------


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django

    django.setup()


def _senders_in_threads() -> list[threading.Thread]:
    """What a qcluster worker does on a kick: run the number's outbox sender (here, a thread of this process)."""
    from django.db import connection

    from providers.messaging import outbox

    threads: list[threading.Thread] = []

    def kick(provider_ids: Any) -> None:
        for provider_id in sorted(set(provider_ids)):

            def send(pk: int = provider_id) -> None:
                try:
                    outbox.outbox_send(provider_id=pk)
                finally:
                    connection.close()

            thread = threading.Thread(target=send)
            thread.start()
            threads.append(thread)

    outbox.outbox_kick = kick
    from journeys import runtime

    runtime.outbox_kick = kick
    return threads


def _journey(number: str, name: str) -> Any:
    from journeys import services
    from providers.models import ProviderConfig
    from templates_app.models import Template

    provider = ProviderConfig.objects.get(phone_number=number)
    template = Template.objects.get(provider=provider)
    journey = services.journey_create(
        data={
            "name": name,
            "trigger": {"type": "event", "event": "signup"},
            "entry_node": "hello",
            "nodes": [
                {
                    "id": "hello",
                    "type": "send_template",
                    "template": template.pk,
                    "variables": VARIABLES,
                    "next": "end",
                },
                {"id": "end", "type": "exit"},
            ],
        }
    )
    return services.journey_publish(journey=journey)


def _enrollments(journey: Any, count: int, first: int, due: Any, spread_seconds: float = 0.0) -> dict[str, float]:
    """`count` new subscribed contacts waiting at the journey's send node, due at `due` (or spread evenly after it);
    the due time of each, by the origin_ref its message will carry."""
    from contacts.models import Consent, Contact
    from journeys.models import Enrollment, EnrollmentState

    contacts = Contact.objects.bulk_create(
        [
            Contact(phone=f"+4478{n:08d}", name=f"C{n}", whatsapp_consent=Consent.SUBSCRIBED)
            for n in range(first, first + count)
        ],
        batch_size=5000,
    )
    rows = Enrollment.objects.bulk_create(
        [
            Enrollment(
                journey=journey,
                version=journey.current_version,
                contact=contact,
                state=EnrollmentState.WAITING,
                node="hello",
                next_run_at=due + timedelta(seconds=spread_seconds * i / max(count, 1)),
                entered_at=due,
            )
            for i, contact in enumerate(contacts)
        ],
        batch_size=5000,
    )
    version = journey.current_version_id
    return {f"journey:{version}:hello:{row.pk}:0": row.next_run_at.timestamp() for row in rows if row.next_run_at}


def _campaign(number: str, count: int, first: int, throttle: int = CAP) -> Any:
    from django.db import connection

    from campaigns.models import Campaign, CampaignStatus
    from campaigns.services import campaign_create, campaign_plan
    from contacts.models import Consent, Contact
    from providers.models import ProviderConfig
    from templates_app.models import Template

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contact SET whatsapp_consent = 'untracked' WHERE whatsapp_consent = 'subscribed'"
        )
    Contact.objects.bulk_create(
        [
            Contact(phone=f"+4479{n:08d}", name=f"K{n}", whatsapp_consent=Consent.SUBSCRIBED)
            for n in range(first, first + count)
        ],
        batch_size=5000,
    )
    provider = ProviderConfig.objects.get(phone_number=number)
    campaign = campaign_create(
        data={
            "name": f"Bench {number} {first}",
            "provider": provider,
            "template": Template.objects.get(provider=provider),
            "audience": "all_subscribed",
            "variables": VARIABLES,
            "throttle_per_second": throttle,
        }
    )
    campaign_plan(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    campaign.refresh_from_db()
    return campaign


def _phase_setup(private_key_file: str, base_url: str) -> dict[str, Any]:
    from providers.keys import private_key_fingerprint
    from providers.models import ProviderConfig
    from templates_app.models import Template

    pem = Path(private_key_file).read_text()
    for n, number in enumerate(NUMBERS):
        provider = ProviderConfig.objects.create(
            nickname=f"Bench {n}",
            phone_number=number,
            application_id=APPLICATION_ID,
            private_key=pem,
            private_key_fingerprint=private_key_fingerprint(pem),
            api_base_url=base_url,
            whatsapp_namespace="bench_ns",
            max_messages_per_second=CAP,
        )
        Template.objects.create(
            provider=provider,
            name="spring_sale",
            language="en_US",
            category="marketing",
            status="approved",
            body="Hi {{1}}, use code {{2}}.",
        )
    return {"providers": len(NUMBERS)}


def _phase_burst(count: int, first: int) -> dict[str, Any]:
    """The clock's walk in this process; the number's outbox sender in another (a qcluster worker's place)."""
    from django.utils import timezone

    from journeys import runtime, services
    from providers.models import ProviderConfig

    runtime.outbox_kick = lambda provider_ids: None  # the sender process below polls instead of being kicked
    journey = _journey(NUMBERS[0], "Burst")
    provider = ProviderConfig.objects.get(phone_number=NUMBERS[0])
    due = timezone.now()
    _enrollments(journey, count, first, due)
    sender = subprocess.Popen(
        [PY, __file__, "worker", "sender", str(provider.pk), str(count)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    started = time.time()
    steps = services.journeys_tick(budget_seconds=600)
    walked = time.time() - started
    out, _ = sender.communicate(timeout=900)
    sent = json.loads(out.strip().splitlines()[-1])
    return {"due": due.timestamp(), "steps": steps, "walk_s": walked, "done_s": time.time() - started,
            "walk_started": started, "seed_s": started - due.timestamp(),
            "sent_busiest": sent.get("sent_busiest")}  # fmt: skip


def _phase_sender(provider_id: int, expected: int) -> dict[str, Any]:
    """A worker running the number's outbox sender until `expected` journey messages have gone."""
    from providers.messaging import outbox
    from providers.models import Message, MessageStatus

    deadline = time.time() + 900
    sent = 0
    while time.time() < deadline:
        outbox.outbox_send(provider_id=provider_id)
        journey_messages = Message.objects.filter(provider_id=provider_id, origin="journey")
        sent = journey_messages.exclude(status=MessageStatus.QUEUED).count()
        if sent >= expected:
            break
        time.sleep(0.05)
    return {"sent": sent}


def _phase_naive(count: int, first: int) -> dict[str, Any]:
    """Before the outbox: the walk called message_send for each step, one request at a time."""
    from django.utils import timezone

    from journeys.models import Enrollment
    from providers.messaging.sending import message_send
    from providers.models import Origin
    from templates_app.rendering import template_render

    journey = _journey(NUMBERS[0], "Naive")
    _enrollments(journey, count, first, timezone.now())
    template = journey.current_version.nodes[0]["template"]
    from templates_app.models import Template

    template_row = Template.objects.select_related("provider").get(pk=template)
    started = time.perf_counter()
    sent = 0
    for enrollment in Enrollment.objects.filter(journey=journey).select_related("contact"):
        content = template_render(template_row, contact=enrollment.contact, variables=VARIABLES)
        message_send(
            provider=template_row.provider,
            to=enrollment.contact.phone,
            content=content,
            origin=Origin.JOURNEY,
            origin_ref=f"naive:{enrollment.pk}",
            contact=enrollment.contact,
        )
        sent += 1
    elapsed = time.perf_counter() - started
    return {"sent": sent, "rate": sent / elapsed}


def _phase_mixed(campaign_size: int, first: int) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from campaigns.services import campaign_run
    from journeys import services

    _senders_in_threads()
    campaign = _campaign(NUMBERS[1], campaign_size, first)
    journey = _journey(NUMBERS[1], "Mixed")

    def run_campaign() -> None:
        try:
            campaign_run(campaign=campaign)
        finally:
            connection.close()

    thread = threading.Thread(target=run_campaign)
    thread.start()
    time.sleep(2)  # the campaign is at its cap before the steps start falling due
    count = MIXED_STEPS_PER_SECOND * MIXED_SECONDS
    dues = _enrollments(journey, count, first + campaign_size, timezone.now() + timedelta(seconds=1), MIXED_SECONDS)
    services.journeys_clock(budget_seconds=MIXED_SECONDS + 5)
    thread.join()
    from providers.models import Message

    refs = Message.objects.filter(origin="journey", origin_ref__in=list(dues)).values_list("client_ref", "origin_ref")
    return {"steps": count, "due_of": {ref: dues[origin_ref] for ref, origin_ref in refs}}


def _phase_campaign(number: str, size: int, first: int, throttle: int) -> dict[str, Any]:
    from campaigns.services import campaign_run

    campaign = _campaign(number, size, first, throttle)
    started = time.time()
    report = campaign_run(campaign=campaign)
    assert report is not None
    return {"submitted": report.submitted, "throttled": report.throttled, "retried": report.retried,
            "send_s": time.time() - started}  # fmt: skip


def _phase_pause(number: str, size: int, first: int, throttle: int, after: float) -> dict[str, Any]:
    from django.db import connection

    from campaigns.models import Campaign
    from campaigns.services import campaign_pause, campaign_run

    campaign = _campaign(number, size, first, throttle)
    answered: list[float] = []

    def pause_later() -> None:
        time.sleep(after)
        campaign_pause(campaign=Campaign.objects.get(pk=campaign.pk), reason="Bench pause.")
        answered.append(time.time())
        connection.close()

    threading.Thread(target=pause_later).start()
    report = campaign_run(campaign=campaign)
    assert report is not None and answered
    return {"paused_at": answered[0], "submitted": report.submitted}


def _phase_workers(size: int, first: int) -> dict[str, Any]:
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.services import campaign_schedule

    campaigns = []
    for n, number in enumerate(NUMBERS):
        campaign = _campaign(number, size, first + n * size)
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DRAFT)
        campaign.refresh_from_db()
        campaigns.append(campaign)
    from campaigns.models import CampaignRecipient

    started = time.time()
    for campaign in campaigns:
        campaign_schedule(campaign=campaign)
    deadline = time.time() + 600
    while time.time() < deadline:
        if Campaign.objects.filter(pk__in=[c.pk for c in campaigns], status=CampaignStatus.COMPLETED).count() == 3:
            break
        time.sleep(0.5)
    return {
        "send_s": time.time() - started,
        "completed": Campaign.objects.filter(pk__in=[c.pk for c in campaigns], status=CampaignStatus.COMPLETED).count(),
        "recipients": CampaignRecipient.objects.filter(campaign__in=campaigns).count(),
    }


def _phase_entries(count: int, first: int) -> dict[str, Any]:
    """Signups posted as the events API takes them (three batches of a third each), entered by the qcluster workers
    running beside this process: how long until every contact is inside the journey."""
    from django.utils import timezone

    from contacts.models import Consent, Contact
    from contacts.services import EventInput, event_record_batch
    from journeys import services
    from journeys.models import Enrollment

    journey = services.journey_publish(
        journey=services.journey_create(
            data={
                "name": "Signups",
                "trigger": {"type": "event", "event": "signup"},
                "entry_node": "mark",
                "nodes": [
                    {"id": "mark", "type": "update_property", "property": "welcomed", "value": True, "next": "end"},
                    {"id": "end", "type": "exit"},
                ],
            }
        )
    )
    phones = [f"+4477{n:08d}" for n in range(first, first + count)]
    Contact.objects.bulk_create(
        [Contact(phone=phone, whatsapp_consent=Consent.SUBSCRIBED) for phone in phones], batch_size=5000
    )
    now = timezone.now()
    started = time.time()
    third = max(1, count // 3)
    for start in range(0, count, third):
        event_record_batch(
            events=[
                EventInput(
                    index=i,
                    name="signup",
                    properties={},
                    occurred_at=now,
                    event_id=f"signup-{phone}",
                    external_id=None,
                    phone=phone,
                )
                for i, phone in enumerate(phones[start : start + third])
            ]
        )
    posted = time.time() - started
    inside = 0
    while time.time() - started < 120:
        inside = Enrollment.objects.filter(journey=journey).count()
        if inside >= count:
            break
        time.sleep(0.1)
    return {"posted_s": posted, "inside_s": time.time() - started, "inside": inside}


def _worker(phase: str, args: list[str]) -> None:
    _django()
    phases: dict[str, Any] = {
        "setup": lambda: _phase_setup(args[0], args[1]),
        "burst": lambda: _phase_burst(int(args[0]), int(args[1])),
        "sender": lambda: _phase_sender(int(args[0]), int(args[1])),
        "naive": lambda: _phase_naive(int(args[0]), int(args[1])),
        "mixed": lambda: _phase_mixed(int(args[0]), int(args[1])),
        "campaign": lambda: _phase_campaign(args[0], int(args[1]), int(args[2]), int(args[3])),
        "pause": lambda: _phase_pause(args[0], int(args[1]), int(args[2]), int(args[3]), float(args[4])),
        "workers": lambda: _phase_workers(int(args[0]), int(args[1])),
        "entries": lambda: _phase_entries(int(args[0]), int(args[1])),
    }
    sent = sends_recorded()
    phase_print(phases[phase](), sent)


# --- orchestration ---------------------------------------------------------------------------------------------


def _accepted(base: str, limit: int) -> list[tuple[float, str, str]]:
    """(accepted at, sender number, client_ref) of the latest sends the simulator accepted, oldest first."""
    messages = sim_call(base, f"/_sim/messages?limit={limit}")["results"]
    return sorted(
        (datetime.fromisoformat(m["accepted_at"].replace("Z", "+00:00")).timestamp(), m["from"], m["client_ref"])
        for m in messages
    )


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def run() -> list[dict[str, Any]]:
    load_before = os.getloadavg()
    env = production_env(DB_NAME, REDIS_URL="", PYTHONPATH=str(ROOT), JOURNEYS_CLOCK_SECONDS="0")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")
    simulator: subprocess.Popen[bytes] | None = None
    clusters: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {}
    try:
        subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        with tempfile.TemporaryDirectory() as folder:
            private, public = key_pair(Path(folder))
            simulator = simulator_start(
                env, port=port, public_key=public, application_id=APPLICATION_ID, latency_ms=LATENCY_MS
            )
            sim_call(base, "/_sim/config", {"recent_limit": max(BURST, 3 * WORKERS_EACH, MIXED_CAMPAIGN * 2) + 1000})
            phase_run(__file__, env, "setup", private, base)
        first = 1
        results["naive"] = phase_run(__file__, env, "naive", NAIVE, first)
        first += NAIVE
        sim_call(base, "/_sim/reset", {})
        results["burst"] = phase_run(__file__, env, "burst", BURST, first)
        first += BURST
        burst_due = results["burst"]["due"]  # the sample of the baseline went out before
        results["burst_times"] = [t for t, _, _ in _accepted(base, BURST + NAIVE + 100) if t >= burst_due]
        sim_call(base, "/_sim/reset", {})
        results["mixed"] = phase_run(__file__, env, "mixed", MIXED_CAMPAIGN, first)
        first += MIXED_CAMPAIGN + MIXED_STEPS_PER_SECOND * MIXED_SECONDS
        results["mixed_sends"] = _accepted(base, MIXED_CAMPAIGN + MIXED_STEPS_PER_SECOND * MIXED_SECONDS + 100)
        sim_call(base, "/_sim/reset", {})
        sim_call(base, "/_sim/config", {"rate_429": 0.05})
        results["throttled"] = phase_run(__file__, env, "campaign", NUMBERS[2], THROTTLED, first, CAP)
        first += THROTTLED
        results["throttled_times"] = [t for t, _, _ in _accepted(base, THROTTLED + 100)]
        sim_call(base, "/_sim/config", {"rate_429": 0.0})
        for label, throttle, size, after in (("pause_fast", CAP, 20000, 3.0), ("pause_slow", 1, 60, 3.5)):
            sim_call(base, "/_sim/reset", {})
            results[label] = phase_run(__file__, env, "pause", NUMBERS[0], size, first, throttle, after)
            first += size
            results[label + "_times"] = [t for t, _, _ in _accepted(base, size + 100)]
        if _redis_up():
            sim_call(base, "/_sim/reset", {})
            cluster_env = env | {"REDIS_URL": REDIS_URL, "Q_WORKERS": "1"}
            subprocess.run(["redis-cli", "-u", REDIS_URL, "FLUSHDB"], capture_output=True, check=False)
            clusters = [
                subprocess.Popen(
                    [PY, "manage.py", "qcluster"],
                    cwd=ROOT,
                    env=cluster_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(3)
            ]
            results["workers"] = phase_run(__file__, cluster_env, "workers", WORKERS_EACH, first)
            results["workers_sends"] = _accepted(base, 3 * WORKERS_EACH + 100)
            first += 3 * WORKERS_EACH
            results["entries"] = phase_run(__file__, cluster_env, "entries", ENTRIES, first)
    finally:
        for cluster in clusters:
            cluster.terminate()
        for cluster in clusters:
            try:
                cluster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cluster.kill()
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=10)
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    return _rows(results, load_before)


def _rows(results: dict[str, Any], load_before: tuple[float, float, float]) -> list[dict[str, Any]]:
    burst, naive = results["burst"], results["naive"]
    burst_times = results["burst_times"]
    burst_rate = rate_over(burst_times)
    mixed_sends = results["mixed_sends"]
    due_of = results["mixed"]["due_of"]
    delays = sorted(t - due_of[ref] for t, _, ref in mixed_sends if ref in due_of)
    p95 = delays[int(len(delays) * 0.95) - 1] if delays else float("nan")
    throttled_rate = rate_over(results["throttled_times"])
    rows: list[dict[str, Any]] = [
        {
            "name": f"journey burst: {len(burst_times):,} enrollments due at once at a send node, cap {CAP}/s",
            "value": round(burst_rate),
            "unit": "msg/s",
            "baseline": round(naive["rate"], 1),
            "goal": f">= {CAP * 0.95:g} (95 % of the cap)",
            "note": "simulator receive times over the sending period; first send "
            f"{burst_times[0] - burst['walk_started']:.2f} s after the walk began, last "
            f"{burst_times[-1] - burst['walk_started']:.1f} s (the rows were due from the start of seeding them, "
            f"{burst['seed_s']:.0f} s before); "
            f"walk {burst['walk_s']:.1f} s; busiest second {max_in_one_second(burst_times)} at the simulator, "
            f"{burst['sent_busiest']} as sent; baseline: the walk "
            f"sending one message at a time (message_send), {naive['sent']} steps; simulator {LATENCY_MS} ms latency",
        },
        {
            "name": "mixed load: busiest second on one number (campaign at the cap + journey steps falling due)",
            "value": max_in_one_second([t for t, _, _ in mixed_sends]),
            "unit": "msg",
            "goal": f"<= {CAP}",
            "note": f"{len(mixed_sends):,} sends ({results['mixed'].get('sent_busiest')} in the busiest second as "
            f"sent, the value being as received); {results['mixed']['steps']} journey steps due over "
            f"{MIXED_SECONDS} s ({MIXED_STEPS_PER_SECOND}/s)",
        },
        {
            "name": "mixed load: p95 delay from a journey step falling due to its message reaching Nexmo",
            "value": round(p95, 2),
            "unit": "s",
            "goal": "< 2",
            "note": f"median {statistics.median(delays):.2f} s, max {delays[-1]:.2f} s over {len(delays)} steps, "
            "beside a campaign sending at the number's cap"
            if delays
            else "no journey sends seen",
        },
        {
            "name": f"5 % random 429 answers: achieved rate, cap {CAP}/s",
            "value": round(throttled_rate),
            "unit": "msg/s",
            "goal": f">= {CAP * 0.7:g} (70 % of the cap)",
            "note": f"{results['throttled']['submitted']:,} sent, {results['throttled']['throttled']} throttling "
            "answers retried; adaptive rate (AIMD) with no fixed sleep",
        },
    ]
    for label, what in (("pause_fast", f"{CAP}/s"), ("pause_slow", "1/s")):
        paused_at = results[label]["paused_at"]
        after = [t - paused_at for t in results[label + "_times"] if t > paused_at]
        rows.append(
            {
                "name": f"pause at {what}: last request reaching Nexmo after the pause's answer",
                "value": round(max(after), 3) if after else 0.0,
                "unit": "s",
                "goal": "< 1",
                "note": f"{len(after)} requests after the answer (already on their way or in their slot); "
                f"{results[label]['submitted']} sent before the run stopped",
            }
        )
    if "workers" in results:
        sends = results["workers_sends"]
        refs = Counter(ref for _, _, ref in sends)
        per_number = {
            number: max_in_one_second([t for t, sender, _ in sends if sender == number.lstrip("+")])
            for number in NUMBERS
        }
        rows.append(
            {
                "name": f"three qcluster processes (Redis broker), three numbers at {CAP}/s: aggregate rate",
                "value": round(rate_over([t for t, _, _ in sends])),
                "unit": "msg/s",
                "note": f"{len(sends):,} sends, {sum(1 for n in refs.values() if n > 1)} duplicates; busiest second "
                f"per number {list(per_number.values())} (cap {CAP}); {results['workers']['completed']} of 3 campaigns "
                f"completed in {results['workers']['send_s']:.1f} s; 2 cores shared by the three workers, the "
                "simulator and PostgreSQL",
            }
        )
    if "entries" in results:
        entries = results["entries"]
        rows.append(
            {
                "name": f"{ENTRIES:,} signups posted in three batches: all inside their journey after",
                "value": round(entries["inside_s"], 1),
                "unit": "s",
                "goal": "< 10",
                "note": f"{entries['inside']:,} entered; posting took {entries['posted_s']:.1f} s; entered and walked "
                "by the three qcluster workers (one task per batch)",
            }
        )
    rows.append(
        {
            "name": "load average (1 min) before the run",
            "value": round(load_before[0], 2),
            "unit": "",
            "note": "2 cores",
        }
    )
    return rows


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "worker":
    _worker(sys.argv[2], sys.argv[3:])
