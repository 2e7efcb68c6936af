"""The shared inbox on 100,000 conversations and a thread of 10,000 messages: the list and the thread (page and API),
next to the naive queries (the list worked out from the message tables, the whole thread loaded and sorted).

Runs in its own database (`inbox_bench`, created and dropped here), seeded with set-based SQL: 100,000 contacts, each
with a conversation on one of two numbers (80 % open, 30 % unread, a third assigned), one inbound and one outbound
message each, and one contact whose thread holds 10,000 messages (half inbound, half outbound, interleaved). The
phase runs in a child process. Sizes: BENCH_INBOX_CONVERSATIONS, BENCH_INBOX_THREAD.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import median_seconds, phase_in_database

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "inbox_bench"
CONVERSATIONS = int(os.environ.get("BENCH_INBOX_CONVERSATIONS", "100000"))
THREAD = int(os.environ.get("BENCH_INBOX_THREAD", "10000"))
DAYS = 30
GOAL_MS = 200


def _seed(users: list[int]) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from tests.providers.factories import provider_make

    main = provider_make(nickname="Main", phone_number="+447700900000")
    promo = provider_make(nickname="Promo", phone_number="+447700900001")
    now = timezone.now()
    start = now - timedelta(days=DAYS)
    span = DAYS * 86400.0
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO contacts_contact (phone, name, email, timezone, language, properties, whatsapp_consent,"
            " consent_source, consent_changed_at, is_test_profile, created_at, updated_at, external_id,"
            " last_inbound_at)"
            " SELECT '+4479' || lpad(g::text, 8, '0'), 'Customer ' || g, '', '', '', '{}'::jsonb, 'untracked', '',"
            " NULL, false, now(), now(), 'crm-' || g, %s::timestamptz + (g * %s / %s) * interval '1 second'"
            " FROM generate_series(1, %s) AS g",
            [start, span, CONVERSATIONS, CONVERSATIONS],
        )
        cursor.execute("SELECT min(id) FROM contacts_contact WHERE phone LIKE '+4479%%'")
        first = cursor.fetchone()[0]
        # One conversation per contact, latest activity spread over the month; the thread's contact is the newest.
        cursor.execute(
            "INSERT INTO conversations_conversation (provider_id, contact_id, status, assignee_id, unread_count,"
            " last_message_at, last_message_text, created_at, updated_at, closed_at)"
            " SELECT CASE WHEN g %% 4 = 0 THEN %s ELSE %s END, %s + g - 1,"
            "  CASE WHEN g %% 5 = 0 THEN 'closed' ELSE 'open' END,"
            "  CASE WHEN g %% 3 = 0 THEN (%s::bigint[])[1 + g %% %s] END,"
            "  CASE WHEN g %% 10 < 3 THEN 1 + g %% 4 ELSE 0 END,"
            "  s, 'Hi, where is my order number ' || g || '?', s, s, CASE WHEN g %% 5 = 0 THEN s END"
            " FROM (SELECT g, %s::timestamptz + (g * %s / %s) * interval '1 second' AS s"
            "       FROM generate_series(1, %s) AS g) AS t",
            [promo.pk, main.pk, first, users, len(users), start, span, CONVERSATIONS, CONVERSATIONS],
        )
        for table, columns, values in (
            (
                "providers_inboundmessage",
                "provider_id, contact_id, message_uuid, from_number, to_number, content_type, text, media_url,"
                " button_payload, button_text, profile_name, opened_window, raw, received_at, created_at",
                "c.provider_id, c.contact_id, 'in-' || c.id, '4479', '', 'text', 'Hi, where is my order?', '', '',"
                " '', '', false, '{}'::jsonb, c.last_message_at, c.last_message_at",
            ),
            (
                "providers_message",
                'provider_id, contact_id, "to", status, client_ref, origin, origin_ref, content_type,'
                " content_summary, error_code, error_reason, currency, request_body, created_at, updated_at",
                "c.provider_id, c.contact_id, '+4479', 'read', 'bench-' || c.id, 'campaign', '1', 'template',"
                " 'spring_sale' || chr(10) || 'Hi there, your spring code is SPRING.', '', '', '', '{}'::jsonb,"
                " c.last_message_at - interval '1 hour', c.last_message_at",
            ),
        ):
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {values} FROM conversations_conversation AS c")
        cursor.execute(
            "SELECT id, provider_id, contact_id FROM conversations_conversation ORDER BY last_message_at DESC LIMIT 1"
        )
        conversation, provider_id, contact_id = cursor.fetchone()
        half = THREAD // 2
        cursor.execute(
            "INSERT INTO providers_inboundmessage (provider_id, contact_id, message_uuid, from_number, to_number,"
            " content_type, text, media_url, button_payload, button_text, profile_name, opened_window, raw,"
            " received_at, created_at)"
            " SELECT %s, %s, 'thread-in-' || g, '4479', '', 'text', 'Question ' || g, '', '', '', '', false,"
            " '{}'::jsonb, now() - (2 * g) * interval '1 minute', now() FROM generate_series(1, %s) AS g",
            [provider_id, contact_id, half],
        )
        cursor.execute(
            'INSERT INTO providers_message (provider_id, contact_id, "to", status, client_ref, origin, origin_ref,'
            " content_type, content_summary, error_code, error_reason, currency, request_body, created_at,"
            " updated_at)"
            " SELECT %s, %s, '+4479', 'read', 'thread-out-' || g, 'inbox', 'conversation:' || %s, 'text',"
            " 'Answer ' || g, '', '', '', '{}'::jsonb, now() - (2 * g - 1) * interval '1 minute', now()"
            " FROM generate_series(1, %s) AS g",
            [provider_id, contact_id, conversation, THREAD - half],
        )
        cursor.execute("VACUUM ANALYZE")
    return {"conversation": conversation}


def _naive_list() -> None:
    """Without a conversation table: each contact's latest message worked out from both message tables."""
    from django.db.models import Max
    from django.db.models.functions import Greatest

    from contacts.models import Contact

    contacts = (
        Contact.objects.annotate(last_in=Max("inbound_messages__received_at"), last_out=Max("messages__created_at"))
        .filter(last_in__isnull=False)
        .annotate(last=Greatest("last_in", "last_out"))
        .order_by("-last")
    )
    contacts.count()
    list(contacts[:50])


def _naive_thread(provider_id: int, contact_id: int) -> None:
    """The whole thread loaded from both tables and sorted in Python."""
    from providers.models import InboundMessage, Message

    outbound = list(Message.objects.filter(provider_id=provider_id, contact_id=contact_id))
    inbound = list(InboundMessage.objects.filter(provider_id=provider_id, contact_id=contact_id))
    items = [(m.created_at, m.content_summary) for m in outbound] + [(i.received_at, i.summary) for i in inbound]
    items.sort()


def _phase() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from conversations.models import Conversation
    from conversations.selectors import conversations_list

    call_command("migrate", verbosity=0)
    staff = User.objects.create_user("bench", is_staff=True)
    users = [staff.pk, *(User.objects.create_user(f"agent{n}").pk for n in range(4))]
    t = time.perf_counter()
    seeded = _seed(users)
    seed_seconds = time.perf_counter() - t
    conversation = Conversation.objects.get(pk=seeded["conversation"])
    client = Client()
    client.force_login(staff)

    def get(url: str) -> Any:
        def fetch() -> None:
            answer = client.get(url)
            assert answer.status_code == 200, (url, answer.status_code)

        fetch()  # warm
        return median_seconds(fetch, 7)

    results = {
        "list_page": get("/inbox/"),
        "list_api": get("/api/v1/conversations/?status=open"),
        "unread_api": get("/api/v1/conversations/?unread=true"),
        "mine_api": get("/api/v1/conversations/?assignee=me&status=open"),
        "search_api": get("/api/v1/conversations/?search=Customer%2012345"),
        "thread_page": get(f"/inbox/{conversation.pk}/"),
        "thread_api": get(f"/api/v1/conversations/{conversation.pk}/messages/?page=last"),
        "naive_list": median_seconds(_naive_list, 3),
        "naive_thread": median_seconds(lambda: _naive_thread(conversation.provider_id, conversation.contact_id), 3),
    }
    sql, params = conversations_list(status="open").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + sql + " LIMIT 50", params)
        plan = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT count(*) FROM conversations_conversation")
        total = cursor.fetchone()[0]
    return {**results, "conversations": total, "seed_seconds": seed_seconds, "plan": plan}


def run() -> list[dict[str, Any]]:
    r = phase_in_database(DATABASE, __file__, ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="false")
    load = os.getloadavg()[0]
    print("\n".join(r["plan"]))
    lists = f"{r['conversations']:,} conversations"
    thread = f"thread of {THREAD:,} messages"

    def row(name: str, key: str, baseline: str, note: str) -> dict[str, Any]:
        return {
            "name": name,
            "value": round(r[key] * 1000),
            "unit": "ms",
            "baseline": round(r[baseline] * 1000),
            "goal": f"< {GOAL_MS}",
            "note": f"{note}; median of 7; seeded in {r['seed_seconds']:.0f} s; load {load:.1f}",
        }

    naive_list = "baseline: each contact's latest message from both message tables (count + first 50)"
    naive_thread = "baseline: the whole thread loaded from both tables and sorted"
    return [
        row(f"inbox page, {lists}", "list_page", "naive_list", f"GET /inbox/ (open, 50 rows); {naive_list}"),
        row(f"inbox API, {lists}", "list_api", "naive_list", f"GET conversations/?status=open; {naive_list}"),
        row(f"inbox API unread, {lists}", "unread_api", "naive_list", f"GET conversations/?unread=true; {naive_list}"),
        row(f"inbox API mine, {lists}", "mine_api", "naive_list", f"GET ?assignee=me&status=open; {naive_list}"),
        row(f"inbox API search, {lists}", "search_api", "naive_list", f"GET ?search=<name>; {naive_list}"),
        row(f"thread page, {thread}", "thread_page", "naive_thread", f"GET /inbox/<id>/ (latest 200); {naive_thread}"),
        row(f"thread API, {thread}", "thread_api", "naive_thread", f"GET messages/?page=last (50); {naive_thread}"),
    ]


if __name__ == "__main__" and sys.argv[1:] == ["phase"]:
    print("RESULT " + json.dumps(_phase()), flush=True)
