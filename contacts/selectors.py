"""Reads of contacts, events and segments. Campaigns and journeys call these; they never filter contacts themselves."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from contacts import importing
from contacts.models import Consent, Contact, ContactImport, Event, Segment
from contacts.phones import phone_normalize
from contacts.segments import segment_q
from whatsapp_project.csv_cells import csv_lines

PREVIEW_SAMPLE_SIZE = 10
EXPORT_COLUMNS = (
    "id",
    "external_id",
    "phone",
    "name",
    "email",
    "timezone",
    "language",
    "whatsapp_consent",
    "is_test_profile",
    "last_inbound_at",
    "created_at",
    "properties",
)


def segment_contacts(segment: Segment) -> QuerySet[Contact]:
    """Every contact in the segment, as one query (compose it further: `.filter(whatsapp_consent=...)`)."""
    return segment_definition_contacts(definition=segment.definition)


def segment_definition_contacts(*, definition: dict[str, Any]) -> QuerySet[Contact]:
    """The contacts an (unsaved) definition selects; raises ValidationError when the definition is wrong."""
    return Contact.objects.filter(segment_q(definition))


def segment_preview(segment: Segment) -> dict[str, Any]:
    """`{"count": N, "sample": [Contact, ...], "reach": {...}}` for a saved segment (reach: `contacts_reach`)."""
    return segment_definition_preview(definition=segment.definition)


def segment_definition_preview(*, definition: dict[str, Any]) -> dict[str, Any]:
    contacts = segment_definition_contacts(definition=definition)
    reach = contacts_reach(contacts)
    sample = list(contacts.order_by("-created_at", "-id")[:PREVIEW_SAMPLE_SIZE])
    return {"count": reach["matched"], "sample": sample, "reach": reach}


# Who a marketing message cannot reach, first rule first, as SQL over a contact row `c` with the reason each gives
# (campaign planning skips recipients by these same rules: campaigns.planning builds its CASE from this list).
UNREACHABLE = (
    ("opted_out", "opted out", f"c.whatsapp_consent = '{Consent.UNSUBSCRIBED.value}'"),
    ("unsubscribed", "not subscribed", f"c.whatsapp_consent <> '{Consent.SUBSCRIBED.value}'"),
    ("invalid", "invalid number", "c.phone !~ '^\\+[0-9]+$'"),
)
REACH_WORDS = {reason: words for reason, words, _ in UNREACHABLE}


def reach_summary(*, matched: int, left_out: dict[str, int], words: dict[str, str]) -> dict[str, Any]:
    """`{"matched", "reachable", "left_out": [{"reason", "label", "count"}], "text"}`; text as
    "23 match · 13 reachable (6 opted out, 4 not subscribed)", largest reason first."""
    reasons = sorted(((r, n) for r, n in left_out.items() if n), key=lambda item: (-item[1], item[0]))
    reachable = matched - sum(n for _, n in reasons)
    listed = [{"reason": r, "label": words.get(r, r.replace("_", " ")), "count": n} for r, n in reasons]
    text = f"{matched} match · {reachable} reachable"
    if listed:
        text += " (" + ", ".join(f"{item['count']} {item['label']}" for item in listed) + ")"
    return {"matched": matched, "reachable": reachable, "left_out": listed, "text": text}


def contacts_reach(contacts: QuerySet[Contact]) -> dict[str, Any]:
    """How many of `contacts` a message to subscribers would reach, and why the others not: one grouped query."""
    cases = " ".join(f"WHEN {condition} THEN '{reason}'" for reason, _, condition in UNREACHABLE)
    inner, params = contacts.order_by().values("id", "phone", "whatsapp_consent").query.sql_with_params()
    # The conditions are this module's constants; the segment's values are bound parameters.
    sql = (
        f"SELECT reason, count(*) FROM (SELECT CASE {cases} ELSE '' END AS reason FROM ({inner}) AS c) AS r"  # noqa: S608
        " GROUP BY reason"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        counts = {reason: n for reason, n in cursor.fetchall()}
    matched = sum(counts.values())
    counts.pop("", None)
    return reach_summary(matched=matched, left_out=counts, words=REACH_WORDS)


def contact_test_profiles() -> QuerySet[Contact]:
    """The contacts marked as test profiles (the "send to test profiles" pickers)."""
    return Contact.objects.filter(is_test_profile=True).order_by("name", "phone")


def contacts_subscribed() -> QuerySet[Contact]:
    """Contacts who have opted in to WhatsApp messages."""
    return Contact.objects.filter(whatsapp_consent=Consent.SUBSCRIBED)


def contact_get_by_phone(*, phone: str) -> Contact | None:
    """The contact with this phone (any format phonenumbers accepts), or None; raises ValidationError if invalid."""
    return Contact.objects.filter(phone=phone_normalize(phone)).first()


def contact_get_by_external_id(*, external_id: str) -> Contact | None:
    return Contact.objects.filter(external_id=external_id).first()


def contact_search(*, query: str = "", consent: str = "", test_profile: str = "") -> QuerySet[Contact]:
    """The contact list's search (name, phone, email, external id) and filters."""
    contacts = Contact.objects.all()
    query = query.strip()
    if query:
        digits = "".join(ch for ch in query if ch.isdigit())
        match = Q(name__icontains=query) | Q(email__icontains=query) | Q(external_id=query)
        if digits:
            match |= Q(phone__contains=digits)
        contacts = contacts.filter(match)
    if consent in Consent.values:
        contacts = contacts.filter(whatsapp_consent=consent)
    if test_profile in ("yes", "no"):
        contacts = contacts.filter(is_test_profile=test_profile == "yes")
    return contacts


def contact_events(*, contact: Contact, limit: int = 100) -> list[Event]:
    """The profile's events timeline, newest first."""
    return list(contact.events.order_by("-occurred_at", "-id")[:limit])


# The builder's suggestions read the keys of this many most recent contacts: enough to know the properties in use,
# while a table of millions is never scanned to fill a datalist.
PROPERTY_KEYS_SAMPLE = 5000
SUGGESTIONS_SHOWN = 300


def contact_property_keys() -> list[str]:
    """Property names in use (on recent contacts), sorted: the segment builder offers them."""
    table = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT k FROM (SELECT properties FROM {table} ORDER BY id DESC LIMIT %s) c,"  # noqa: S608
            " jsonb_object_keys(CASE jsonb_typeof(c.properties) WHEN 'object' THEN c.properties ELSE '{}' END) k"
            " ORDER BY k LIMIT %s",
            [PROPERTY_KEYS_SAMPLE, SUGGESTIONS_SHOWN],
        )
        return [key for (key,) in cursor.fetchall()]


def event_names() -> list[str]:
    """Every event name stored, sorted: the segment builder offers them."""
    # A skip scan over event_name_time_idx: one index probe per distinct name, however many events there are.
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE names(name) AS ((SELECT name FROM {table} ORDER BY name LIMIT 1)"  # noqa: S608
            f" UNION ALL SELECT (SELECT e.name FROM {table} e WHERE e.name > n.name ORDER BY e.name LIMIT 1)"
            " FROM names n WHERE n.name IS NOT NULL)"
            " SELECT name FROM names WHERE name IS NOT NULL LIMIT %s",
            [SUGGESTIONS_SHOWN],
        )
        return [name for (name,) in cursor.fetchall()]


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.all()


def contact_import_get(*, pk: int) -> ContactImport | None:
    return ContactImport.objects.filter(pk=pk).first()


IMPORT_REFUSED_SHOWN = 20


def contact_import_samples(*, job: ContactImport) -> dict[str, list[str]]:
    """A few values of each column from the uploaded file, for the mapping step."""
    return importing.column_samples(job)


def contact_import_refused_rows(*, job: ContactImport, limit: int = IMPORT_REFUSED_SHOWN) -> list[dict[str, Any]]:
    """The first refused or skipped rows, for the import's summary: line, why, and the row's non-blank cells."""
    rows = job.row_errors.order_by("row_number", "id")[:limit]
    return [
        {
            "row_number": error.row_number,
            "kind": error.kind,
            "message": error.message,
            "cells": [(column, error.values.get(column, "")) for column in job.columns if error.values.get(column)],
        }
        for error in rows
    ]


def contacts_csv_lines(contacts: QuerySet[Contact]) -> Iterator[str]:
    """The contacts as CSV text, one line at a time (for a streaming response: memory stays flat)."""

    def rows() -> Iterator[list[Any]]:
        yield list(EXPORT_COLUMNS)
        values: Iterable[tuple[Any, ...]] = (
            contacts.order_by("id").values_list(*EXPORT_COLUMNS).iterator(chunk_size=2000)
        )
        for row in values:
            *plain, properties = row
            yield [*plain, json.dumps(properties or {}, ensure_ascii=False)]

    return csv_lines(rows())


def import_errors_rows(job: ContactImport) -> Iterable[list[str]]:
    """An import's refused and skipped rows as CSV rows (line, kind, reason, original cells)."""
    return importing.import_errors_rows(job)
