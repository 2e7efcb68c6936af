"""Campaign stats at scale on PostgreSQL: the over-time chart over 1M messages, and a 100k-row uploaded list.

Runs in its own database (`campaignux_stats`, created and dropped here). Phases run in a child process so that its
peak memory is its own. Baselines, in the same run: the chart as one COUNT per bucket and series (what a first
version writes), and the list matched row by row on a smaller sample.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from common import median_seconds, phase_in_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "campaignux_stats"
MESSAGES = int(os.environ.get("BENCH_STATS_MESSAGES", "1000000"))
LIST_ROWS = int(os.environ.get("BENCH_LIST_ROWS", "100000"))
NAIVE_LIST_ROWS = 2000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from campaigns.audience_lists import audience_list_upload
    from campaigns.models import Campaign
    from campaigns.selectors import campaign_timeline, timeline_grouped
    from contacts.models import Contact
    from contacts.phones import phone_normalize
    from providers.models import Message, Origin
    from tests.campaigns.factories import campaign_make, setup_provider

    call_command("migrate", verbosity=0)
    provider, template = setup_provider()
    campaign = campaign_make(provider=provider, template=template)
    started = timezone.now() - timedelta(hours=1)
    Campaign.objects.filter(pk=campaign.pk).update(status="completed", started_at=started)
    campaign.refresh_from_db()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (phone, name, email, timezone, language, properties, whatsapp_consent,"
            " consent_source, is_test_profile, created_at, updated_at, external_id)"
            " SELECT '+4479' || lpad(g::text, 8, '0'), 'C' || g, '', '', '', '{}'::jsonb, 'subscribed', '', false,"
            " now(), now(), 'crm-' || g FROM generate_series(1, %s) AS g",
            [MESSAGES],
        )
        # Sends spread over the hour; 90 % delivered a few seconds later, 60 % read within the hour; 3 % failed.
        cursor.execute(
            'INSERT INTO providers_message (provider_id, contact_id, "to", status, client_ref, origin, origin_ref,'
            " content_type, content_summary, error_code, error_reason, currency, created_at, updated_at,"
            " submitted_at, delivered_at, read_at, failed_at)"
            " SELECT %s, c.id, c.phone, CASE WHEN g %% 100 < 3 THEN 'failed' WHEN g %% 10 < 6 THEN 'read'"
            " WHEN g %% 10 < 9 THEN 'delivered' ELSE 'submitted' END, 'bench-' || g, 'campaign', %s, 'template', '',"
            " '', '', '', now(), now(), s, CASE WHEN g %% 10 < 9 AND g %% 100 >= 3 THEN s + interval '3 seconds' END,"
            " CASE WHEN g %% 10 < 6 AND g %% 100 >= 3 THEN s + (g %% 1800) * interval '1 second' END,"
            " CASE WHEN g %% 100 < 3 THEN s END"
            " FROM (SELECT g, %s::timestamptz + (g * 3600.0 / %s) * interval '1 second' AS s"
            "       FROM generate_series(1, %s) AS g) AS t JOIN contacts_contact c ON c.phone = '+4479' ||"
            " lpad(t.g::text, 8, '0')",
            [provider.pk, str(campaign.pk), started, MESSAGES, MESSAGES],
        )
        cursor.execute("VACUUM ANALYZE providers_message")
    messages = Message.objects.filter(origin=Origin.CAMPAIGN, origin_ref=str(campaign.pk))

    chart_seconds = median_seconds(lambda: campaign_timeline(campaign=campaign, messages=messages))
    timeline = campaign_timeline(campaign=campaign, messages=messages)
    width = timeline["bucket_seconds"]

    def per_bucket() -> None:
        # The first version: one COUNT per bucket and series.
        for point in timeline["points"]:
            at = datetime.fromisoformat(point["at"])
            end = at + timedelta(seconds=width)
            for field in ("submitted_at", "delivered_at", "read_at", "failed_at"):
                messages.filter(**{f"{field}__gte": at, f"{field}__lt": end}).count()

    naive_seconds = median_seconds(per_bucket, repeat=1)
    sql, params = timeline_grouped(messages, width).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]

    # A 100k-row list: phones in several spellings, external ids, and 1 % that match nobody.
    lines = ["phone,external_id"]
    for n in range(1, LIST_ROWS + 1):
        if n % 100 == 0:
            lines.append(f"+4478{n:08d},")
        elif n % 3 == 0:
            lines.append(f",crm-{n}")
        else:
            lines.append(f"4479{n:08d},")
    body = ("\n".join(lines) + "\n").encode()
    rss_before = _rss_mb()
    t = time.perf_counter()
    uploaded = audience_list_upload(handle=io.BytesIO(body), name="bench.csv", size=len(body))
    upload_seconds = time.perf_counter() - t
    rss_after = _rss_mb()

    sample = lines[1 : NAIVE_LIST_ROWS + 1]
    t = time.perf_counter()
    for line in sample:  # the first version: one lookup per row
        phone, external = line.split(",")
        contact = None
        if external:
            contact = Contact.objects.filter(external_id=external).first()
        elif phone:
            contact = Contact.objects.filter(phone=phone_normalize(phone)).first()
        _ = contact
    naive_list_rate = len(sample) / (time.perf_counter() - t)
    return {
        "messages": messages.count(),
        "chart_seconds": chart_seconds,
        "chart_buckets": len(timeline["points"]),
        "bucket_seconds": width,
        "naive_seconds": naive_seconds,
        "naive_queries": len(timeline["points"]) * 4,
        "plan": plan,
        "list_rows": LIST_ROWS,
        "list_matched": uploaded.matched,
        "list_unmatched": uploaded.unmatched,
        "upload_seconds": upload_seconds,
        "upload_rss_growth_mb": rss_after - rss_before,
        "body_mb": len(body) / 1e6,
        "peak_rss_mb": rss_after,
        "naive_list_rate": naive_list_rate,
    }


def run() -> list[dict[str, Any]]:
    r = phase_in_database(DATABASE, __file__)
    load = os.getloadavg()[0]
    print("\n".join(r["plan"]))
    return [
        {
            "name": f"over-time chart, {r['messages']:,} messages "
            f"({r['chart_buckets']} buckets of {r['bucket_seconds']} s)",
            "value": round(r["chart_seconds"] * 1000),
            "unit": "ms",
            "baseline": round(r["naive_seconds"] * 1000),
            "note": f"one grouped query; baseline: {r['naive_queries']} COUNTs (one per bucket and series); "
            f"load {load:.1f}; plan: {r['plan'][0][:90]}",
            "plan": r["plan"],
        },
        {
            "name": f"uploaded list, {r['list_rows']:,} rows ({r['body_mb']:.1f} MB)",
            "value": round(r["list_rows"] / r["upload_seconds"]),
            "unit": "rows/s",
            "baseline": round(r["naive_list_rate"]),
            "note": f"{r['upload_seconds']:.1f} s, {r['list_matched']:,} matched, {r['list_unmatched']:,} reported; "
            f"RSS +{r['upload_rss_growth_mb']:.0f} MB (peak {r['peak_rss_mb']:.0f} MB); baseline: one lookup per row "
            f"on {NAIVE_LIST_ROWS:,} rows; load {load:.1f}",
        },
    ]


if __name__ == "__main__":
    if sys.argv[1:] == ["phase"]:
        print("RESULT " + json.dumps(_phase()), flush=True)
    else:
        for row in run():
            print(row)
