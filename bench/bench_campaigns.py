"""Campaign dispatch against the Nexmo simulator (its own process, 100 ms latency) on PostgreSQL.

Measured in one run, each phase in a fresh worker process (`python bench_campaigns.py worker PHASE …`) so that its
peak RSS is its own:
- `dispatch`: one worker sends a campaign (throttle 1,000/s) through `campaign_run`; `naive`: the loop a Django
  developer writes first (sync client, one message at a time, a Message row per send) on a small sample.
- `pair`: one worker process sending two campaigns at once, each on its own number at 1,000/s (one thread each):
  what one process carries when the per-number cap is not what limits it;
- `cap`: a campaign throttled to 200/s; the simulator's own receive times give the achieved rate and the most
  messages in any one-second window.
- `large`: planning a large audience, then dispatching it for a while (paused from outside): time and peak RSS.

The database `bench_campaigns` is created, migrated and dropped by the run. The simulator runs as
`manage.py nexmo_simulator` (JWT and body checks on, callbacks off) on a free port.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
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
DB_NAME = "bench_campaigns"
DISPATCH = int(os.environ.get("BENCH_DISPATCH", "20000"))
NAIVE = int(os.environ.get("BENCH_NAIVE", "100"))
CAP_RATE = int(os.environ.get("BENCH_CAP_RATE", "200"))
CAP_MESSAGES = int(os.environ.get("BENCH_CAP_MESSAGES", "3000"))
# The size the goal names (planning is set-based SQL on PostgreSQL); BENCH_LARGE=100000 for a quicker run.
LARGE = int(os.environ.get("BENCH_LARGE", "1000000"))
LARGE_SEND_SECONDS = float(os.environ.get("BENCH_LARGE_SEND_SECONDS", "15"))
LATENCY_MS = 100
APPLICATION_ID = "bench-campaigns-app"
BUSINESS = "+447700900000"
SECOND_NUMBER = "+447700900001"
PAIR = int(os.environ.get("BENCH_PAIR", "10000"))


# --- worker side (a fresh process per phase, on the bench database) -------------------------------------------


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django

    django.setup()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _contacts_fresh(count: int, first: int) -> float:
    """Only `count` new contacts are subscribed afterwards (the previous phases' ones no longer are); seconds."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contact SET whatsapp_consent = 'untracked' WHERE whatsapp_consent = 'subscribed'"
        )
        cursor.execute(
            "INSERT INTO contacts_contact (phone, name, email, timezone, language, properties, whatsapp_consent,"
            " consent_source, is_test_profile, created_at, updated_at)"
            " SELECT '+4479' || lpad(g::text, 8, '0'), 'Customer ' || g, '', '', '', '{\"plan\": \"gold\"}'::jsonb,"
            " 'subscribed', 'bench', false, now(), now() FROM generate_series(%s, %s) AS g",
            [first, first + count - 1],
        )
        cursor.execute("ANALYZE contacts_contact")
    return time.perf_counter() - started


def _campaign(throttle: int, number: str = BUSINESS) -> Any:
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.services import campaign_create
    from providers.models import ProviderConfig
    from templates_app.models import Template

    provider = ProviderConfig.objects.get(phone_number=number)
    campaign = campaign_create(
        data={
            "name": f"Bench {throttle}/s",
            "provider": provider,
            "template": Template.objects.get(provider=provider),
            "audience": "all_subscribed",
            "variables": {"1": {"property": "name", "fallback": "there"}, "2": {"value": "SPRING"}},
            "throttle_per_second": throttle,
        }
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED)
    campaign.refresh_from_db()
    return campaign


def _phase_setup(private_key_file: str, base_url: str) -> dict[str, Any]:
    from providers.keys import private_key_fingerprint
    from providers.models import ProviderConfig
    from templates_app.models import Template

    pem = Path(private_key_file).read_text()
    # Two numbers of the same Nexmo application: the second one for the two-number phase.
    for nickname, number in (("Bench", BUSINESS), ("Bench 2", SECOND_NUMBER)):
        provider = ProviderConfig.objects.create(
            nickname=nickname,
            phone_number=number,
            application_id=APPLICATION_ID,
            private_key=pem,
            private_key_fingerprint=private_key_fingerprint(pem),
            api_base_url=base_url,
            whatsapp_namespace="bench_ns",
            max_messages_per_second=1000,  # the top tier: the campaign's own throttle is what the phases vary
        )
        Template.objects.create(
            provider=provider,
            name="spring_sale",
            language="en_US",
            category="marketing",
            status="approved",
            body="Hi {{1}}, use code {{2}}.",
        )
    return {"providers": ProviderConfig.objects.count()}


def _phase_dispatch(count: int, first: int) -> dict[str, Any]:
    from campaigns.services import campaign_plan, campaign_run

    seeded = _contacts_fresh(count, first)
    campaign = _campaign(1000)
    started = time.perf_counter()
    campaign_plan(campaign=campaign)
    planned = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    report = campaign_run(campaign=campaign)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert report is not None
    return {
        "seed_s": seeded,
        "plan_s": planned,
        "send_s": elapsed,
        # The worker's own CPU per message sent (all its threads): how far one core would carry it without the cap.
        "cpu_us_per_message": cpu / max(report.submitted, 1) * 1e6,
        "submitted": report.submitted,
        "rate": report.submitted / elapsed,
        "report": {"failed": report.failed, "unknown": report.unknown, "throttled": report.throttled},
        "rss_mb": _rss_mb(),
    }


def _phase_pair(count: int, first: int) -> dict[str, Any]:
    """Two campaigns of `count` recipients each, on two numbers, sent at once by this one process."""
    from django.db import connection

    from campaigns.services import campaign_plan, campaign_run

    _contacts_fresh(count, first)
    campaigns = [_campaign(1000, number) for number in (BUSINESS, SECOND_NUMBER)]
    for campaign in campaigns:
        campaign_plan(campaign=campaign)
    reports: list[Any] = []

    def send(campaign: Any) -> None:
        try:
            reports.append(campaign_run(campaign=campaign))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(campaign,)) for campaign in campaigns]
    started, cpu_started = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    assert len(reports) == 2 and all(report is not None for report in reports)
    submitted = sum(report.submitted for report in reports)
    return {
        "submitted": submitted,
        "rate": submitted / elapsed,
        "cpu_us_per_message": cpu / max(submitted, 1) * 1e6,
        "report": {
            "failed": sum(r.failed for r in reports),
            "unknown": sum(r.unknown for r in reports),
            "throttled": sum(r.throttled for r in reports),
        },
    }


def _phase_naive(count: int, first: int) -> dict[str, Any]:
    """The first thing one writes: for each contact render, POST, wait for the answer, save a row."""
    from contacts.models import Contact
    from providers.models import Message, ProviderConfig
    from providers.nexmo import client as nexmo
    from providers.nexmo.payloads import body_build
    from providers.services import provider_credentials
    from templates_app.models import Template
    from templates_app.rendering import template_rendering

    _contacts_fresh(count, first)
    provider = ProviderConfig.objects.get(phone_number=BUSINESS)
    template = Template.objects.get(provider=provider)
    variables = {"1": {"property": "name", "fallback": "there"}, "2": {"value": "SPRING"}}
    started = time.perf_counter()
    sent = 0
    for contact in Contact.objects.filter(whatsapp_consent="subscribed").order_by("id"):
        rendered = template_rendering(template, contact=contact, variables=variables)
        ref = f"naive-{contact.pk}"
        body = body_build(
            api_version=provider.api_version,
            content=rendered.content,
            from_number=provider.phone_number,
            to=contact.phone,
            client_ref=ref,
            namespace=provider.whatsapp_namespace,
        )
        answer = nexmo.send(credentials=provider_credentials(provider), body=body)
        Message.objects.create(
            provider=provider,
            contact=contact,
            to=contact.phone,
            status="submitted",
            client_ref=ref,
            message_uuid=answer.message_uuid,
            origin="campaign",
            origin_ref="naive",
            content_type="template",
        )
        sent += 1
    elapsed = time.perf_counter() - started
    return {"sent": sent, "rate": sent / elapsed, "send_s": elapsed}


def _phase_cap(count: int, first: int, rate: int) -> dict[str, Any]:
    from campaigns.services import campaign_run

    _contacts_fresh(count, first)
    campaign = _campaign(rate)
    started = time.perf_counter()
    report = campaign_run(campaign=campaign)
    elapsed = time.perf_counter() - started
    assert report is not None
    return {"submitted": report.submitted, "send_s": elapsed, "rate_own_clock": report.submitted / elapsed}


def _phase_large(count: int, first: int, send_seconds: float) -> dict[str, Any]:
    from campaigns.models import Campaign, CampaignRecipient
    from campaigns.services import campaign_pause, campaign_plan, campaign_run

    seeded = _contacts_fresh(count, first)
    campaign = _campaign(1000)
    rss_before = _rss_mb()
    started = time.perf_counter()
    added = campaign_plan(campaign=campaign)
    planned = time.perf_counter() - started
    rss_planned = _rss_mb()

    def pause_later() -> None:
        time.sleep(send_seconds)
        from django.db import connection

        campaign_pause(campaign=Campaign.objects.get(pk=campaign.pk), reason="Bench over.")
        connection.close()

    threading.Thread(target=pause_later, daemon=True).start()
    started = time.perf_counter()
    report = campaign_run(campaign=campaign)
    elapsed = time.perf_counter() - started
    assert report is not None
    return {
        "seed_s": seeded,
        "planned": added,
        "recipients": CampaignRecipient.objects.filter(campaign=campaign).count(),
        "plan_s": planned,
        "send_s": elapsed,
        "submitted": report.submitted,
        "rss_before_mb": rss_before,
        "rss_planned_mb": rss_planned,
        "rss_peak_mb": _rss_mb(),
    }


def _worker(phase: str, args: list[str]) -> None:
    _django()
    phases: dict[str, Any] = {
        "setup": lambda: _phase_setup(args[0], args[1]),
        "dispatch": lambda: _phase_dispatch(int(args[0]), int(args[1])),
        "naive": lambda: _phase_naive(int(args[0]), int(args[1])),
        "pair": lambda: _phase_pair(int(args[0]), int(args[1])),
        "cap": lambda: _phase_cap(int(args[0]), int(args[1]), int(args[2])),
        "large": lambda: _phase_large(int(args[0]), int(args[1]), float(args[2])),
    }
    sent = sends_recorded()
    phase_print(phases[phase](), sent)


# --- orchestration ---------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return production_env(DB_NAME, REDIS_URL="", PYTHONPATH=str(ROOT))


def _receive_times(base: str, limit: int, number: str = "") -> list[float]:
    """When the simulator accepted the latest sends (only those from `number` if given), in order."""
    messages = sim_call(base, f"/_sim/messages?limit={limit}")["results"]
    return sorted(
        datetime.fromisoformat(m["accepted_at"].replace("Z", "+00:00")).timestamp()
        for m in messages
        if not number or m["from"] == number.lstrip("+")
    )


def run() -> list[dict[str, Any]]:
    load_before = os.getloadavg()
    env = _env()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")
    simulator: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([PY, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        with tempfile.TemporaryDirectory() as folder:
            private, public = key_pair(Path(folder))
            simulator = simulator_start(
                env, port=port, public_key=public, application_id=APPLICATION_ID, latency_ms=LATENCY_MS
            )
            sim_call(base, "/_sim/config", {"recent_limit": max(CAP_MESSAGES, NAIVE, DISPATCH, 2 * PAIR) + 100})
            phase_run(__file__, env, "setup", private, base)
        first = 1
        naive = phase_run(__file__, env, "naive", NAIVE, first)
        first += NAIVE
        sim_call(base, "/_sim/reset", {})
        dispatch = phase_run(__file__, env, "dispatch", DISPATCH, first)
        first += DISPATCH
        dispatch_times = _receive_times(base, DISPATCH + 100)
        load_mid = os.getloadavg()
        sim_call(base, "/_sim/reset", {})
        pair = phase_run(__file__, env, "pair", PAIR, first)
        first += PAIR
        pair_times = _receive_times(base, 2 * PAIR + 100)
        pair_busiest = [max_in_one_second(_receive_times(base, 2 * PAIR + 100, n)) for n in (BUSINESS, SECOND_NUMBER)]
        sim_call(base, "/_sim/reset", {})
        cap = phase_run(__file__, env, "cap", CAP_MESSAGES, first, CAP_RATE)
        first += CAP_MESSAGES
        times = _receive_times(base, CAP_MESSAGES + 100)
        large = phase_run(__file__, env, "large", LARGE, first, LARGE_SEND_SECONDS)
        counters = sim_call(base, "/_sim/counters")
    finally:
        if simulator is not None:
            simulator.terminate()
            simulator.wait(timeout=10)
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    load_after = os.getloadavg()
    achieved = rate_over(times)
    busiest = max_in_one_second(times)
    dispatch_rate = rate_over(dispatch_times)
    loads = (
        f"load average (1 min) {load_before[0]:.1f} before, {load_mid[0]:.1f} mid-run, {load_after[0]:.1f} after "
        "on 2 cores shared with other work"
    )
    return [
        {
            "name": f"dispatch rate, one worker, two numbers at 1000/s each, {pair['submitted']:,} messages",
            "value": round(rate_over(pair_times)),
            "unit": "msg/s",
            "baseline": round(naive["rate"], 1),
            "goal": ">= 1000",
            "note": f"one process, two campaigns at once (a thread each); simulator receive times over the sending "
            f"period; worker's own clock incl. start-up {pair['rate']:.0f}/s; busiest one-second window per number "
            f"{pair_busiest} (cap 1000 each); worker CPU {pair['cpu_us_per_message']:.0f} us/msg; outcomes "
            f"{pair['report']}; baseline: sync loop, one message at a time",
        },
        {
            "name": f"dispatch rate, one worker, one number at 1000/s, {dispatch['submitted']:,} messages",
            "value": round(dispatch_rate),
            "unit": "msg/s",
            "baseline": round(naive["rate"], 1),
            "goal": "<= 1000 (the number's cap; the pacer keeps a 3 % margin: 970)",
            "note": f"simulator receive times over the sending period; worker's own clock incl. start-up "
            f"{dispatch['rate']:.0f}/s; busiest one-second window {max_in_one_second(dispatch_times)} at the "
            f"simulator, {dispatch.get('sent_busiest')} as sent; "
            f"baseline: sync loop, one message at a time ({naive['sent']} messages, "
            f"{naive['send_s']:.1f} s); simulator in its own process, {LATENCY_MS} ms latency, JWT + body checks; "
            f"outcomes {dispatch['report']}; {loads}",
        },
        {
            "name": "dispatch worker CPU per message (all its threads)",
            "value": round(dispatch["cpu_us_per_message"]),
            "unit": "us",
            "note": f"one core would carry {1e6 / max(dispatch['cpu_us_per_message'], 1):,.0f} msg/s: "
            "the engine's ceiling, above the provider's per-number cap",
        },
        {
            "name": f"planning {DISPATCH:,} recipients",
            "value": round(dispatch["plan_s"], 2),
            "unit": "s",
            "note": f"worker peak RSS {dispatch['rss_mb']:.0f} MB after dispatch",
        },
        {
            "name": f"achieved rate with a cap of {CAP_RATE}/s ({len(times):,} messages)",
            "value": round(achieved, 1),
            "unit": "msg/s",
            "goal": f">= {CAP_RATE * 0.95:g} (95 %)",
            "note": f"simulator receive times over the sending period; {achieved / CAP_RATE:.1%} of the cap; "
            f"worker's own clock incl. start-up {cap['rate_own_clock']:.1f}/s",
        },
        {
            "name": f"busiest one-second window with a cap of {CAP_RATE}/s",
            "value": busiest,
            "unit": "msg",
            "goal": f"<= {CAP_RATE}",
            "note": "most receives in any window [t, t+1 s) starting at a receive; as sent by the worker "
            f"{cap.get('sent_busiest')}",
        },
        {
            "name": f"planning {large['planned']:,} recipients (PostgreSQL)",
            "value": round(large["plan_s"], 1),
            "unit": "s",
            "goal": "< 30",
            "note": f"{large['planned'] / large['plan_s']:,.0f} recipients/s; contacts inserted by SQL in "
            f"{large['seed_s']:.1f} s beforehand",
        },
        {
            "name": f"worker peak RSS, {large['planned']:,}-recipient campaign",
            "value": round(large["rss_peak_mb"]),
            "unit": "MB",
            "goal": "< 250",
            "note": f"planning, then {large['submitted']:,} sends in {large['send_s']:.0f} s (paused from outside); "
            f"RSS {large['rss_before_mb']:.0f} MB before planning, {large['rss_planned_mb']:.0f} MB after",
        },
        {
            "name": "simulator answers",
            "value": json.dumps({"received": counters.get("received"), "accepted": counters.get("accepted")}),
            "unit": "count",
            "note": f"refused: {json.dumps({k: v for k, v in counters.get('refused', {}).items() if v})}",
        },
    ]


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "worker":
    _worker(sys.argv[2], sys.argv[3:])
