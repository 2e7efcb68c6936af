"""Set-based planning: one INSERT ... SELECT per campaign freezes every recipient of the audience with
its skip reason or its resolved template parameters, the same as the per-contact Python path would.

SQL covers what it can say exactly; the rest stays with Python (`campaigns.services.campaign_plan` runs it for the
contacts SQL left out):
- campaign level: quiet hours and local-time sending (timezone rules) are Python only;
- slot level: contact-dependent values for text slots of the body and buttons (a media or location header, or a text
  header with its length rule, taken from a contact, are Python only);
- contact level: a property holding a boolean, a non-empty object or array, or a non-integer number (Python's
  text form of those differs from PostgreSQL's), or a phone number with non-ASCII characters.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from campaigns.models import Audience, Campaign, CampaignRecipient, RecipientState, SkipReason
from contacts.models import Contact
from contacts.selectors import UNREACHABLE
from providers.selectors import contacts_over_frequency_cap_query
from templates_app.rendering import (
    CONTACT_FIELDS,
    SOURCES,
    Slot,
    TemplateRenderError,
    mapped_value,
    slot_resolve,
    template_slots,
)

# Contact-dependent values SQL resolves exactly: plain text slots (no URL, location or length rule to apply).
_SQL_SLOT_KINDS = frozenset({"body", "url_suffix", "quick_reply_payload"})


@cache
def whitespace_characters() -> str:
    """Every character Python's `\\s` (and str.strip) treats as whitespace: rendering collapses and trims them."""
    return "".join(chr(code) for code in range(0x3001) if re.match(r"\s", chr(code)))


def in_control_group(campaign_id: int, contact_id: int, percent: int) -> bool:
    """Stable per (campaign, contact), so re-planning after a crash puts the same people in the control group; md5
    because PostgreSQL computes the same draw in SQL."""
    digest = hashlib.md5(f"{campaign_id}:{contact_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % 100 < percent


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a slot resolves to when it does not depend on the contact (or the contact gave nothing)."""

    value: Any = None  # text / location / None (an optional slot left out)
    error: str = ""


def _constant(template: Any, slot: Slot, value: Any, header_media_url: str | None) -> _Outcome:
    try:
        return _Outcome(value=slot_resolve(template, slot, value, header_media_url=header_media_url))
    except TemplateRenderError as exc:
        return _Outcome(error=str(exc)[:255])


def _contact_source(spec: Any) -> tuple[str, str] | None:
    """("field", column) or ("property", path) when the mapping reads the contact, else None."""
    if not isinstance(spec, dict):
        return None
    sources = [source for source in SOURCES if source in spec]
    if len(sources) != 1 or sources[0] not in ("property", "field"):
        return None
    name = spec[sources[0]]
    if not isinstance(name, str) or not name:
        return None
    if name in CONTACT_FIELDS:
        return "field", name
    if sources[0] == "field":
        return None  # an unknown field: the mapping is an error for everyone (constant)
    return "property", name


@dataclass(frozen=True, slots=True)
class _Parts:
    """What SQL needs to plan a campaign: the slots' constant values and contact-dependent texts, the conditions
    under which a value is missing (with the message), and the contacts SQL renders exactly."""

    constant_values: dict[str, Any]
    dynamic: list[tuple[Slot, str, _Outcome]]
    errors: list[tuple[str, str]]
    eligible: list[str]


def plan_in_sql(*, campaign: Campaign, contacts: QuerySet[Contact]) -> tuple[int, QuerySet[Contact]] | None:
    """Insert the recipients SQL can plan exactly; returns how many rows it added and the contacts left for Python
    (whose values SQL cannot render exactly), or None when this campaign is Python's to plan (quiet hours or local
    time, which depend on each contact's time zone database entry; a contact-dependent media header...)."""
    quiet = campaign.quiet_start_hour is not None and campaign.quiet_start_hour != campaign.quiet_end_hour
    if quiet or (campaign.local_time and campaign.scheduled_at is not None):
        return None
    parts = _plan_parts(campaign)
    if parts is None:
        return None
    return _insert(campaign=campaign, contacts=contacts, parts=parts)


def _plan_parts(campaign: Campaign) -> _Parts | None:
    """The template's slots in SQL terms, or None when a contact-dependent value is Python's to render."""
    template = campaign.template
    variables = campaign.variables if isinstance(campaign.variables, dict) else {}
    header_media_url = campaign.header_media_url or None
    ws = whitespace_characters()
    constant_values: dict[str, Any] = {}
    dynamic: list[tuple[Slot, str, _Outcome]] = []  # (slot, SQL text of the contact's raw value, when it is empty)
    errors: list[tuple[str, str]] = []  # (SQL condition, message), in slot order: the first one wins
    eligible: list[str] = ["c.phone ~ '^[ -~]*$'"]
    for slot in template_slots(template):
        spec = variables.get(slot.key)
        source = _contact_source(spec) if slot.key in variables else None
        if source is None:
            try:
                raw = mapped_value(slot, spec, None) if slot.key in variables else None
            except TemplateRenderError as exc:
                errors.append(("TRUE", str(exc)[:255]))
                continue
            outcome = _constant(template, slot, raw, header_media_url)
            if outcome.error:
                errors.append(("TRUE", outcome.error))
            elif outcome.value is not None:
                constant_values[slot.key] = outcome.value
            continue
        if slot.kind not in _SQL_SLOT_KINDS:
            return None
        missing = _constant(template, slot, spec.get("fallback") if isinstance(spec, dict) else None, header_media_url)
        kind, name = source
        if kind == "field":
            text = f"c.{connection.ops.quote_name(name)}"
        else:
            value = "c.properties"
            for part in name.split("."):
                # A step into anything but an object is no value (as in Python), not an array index.
                value = f"(CASE WHEN jsonb_typeof({value}) = 'object' THEN {value} -> {_literal(part)} END)"
            typed = f"jsonb_typeof({value})"
            # Booleans, non-empty objects/arrays and non-integer numbers: Python's text form differs, so Python.
            eligible.append(
                f"({typed} IS NULL OR {typed} IN ('null', 'string') OR ({typed} = 'number' AND "
                f"({value} #>> '{{}}') ~ '^-?[0-9]+$') OR {value} IN ('{{}}'::jsonb, '[]'::jsonb))"
            )
            text = f"(CASE WHEN {typed} IN ('string', 'number') THEN {value} #>> '{{}}' END)"
        dynamic.append((slot, text, missing))
        if missing.error:
            errors.append((f"coalesce(btrim({text}, {_literal(ws)}), '') = ''", missing.error))
    return _Parts(constant_values=constant_values, dynamic=dynamic, errors=errors, eligible=eligible)


def _skip_reason_sql(campaign: Campaign, errors: list[tuple[str, str]]) -> tuple[str, str, tuple[Any, ...]]:
    """(the CASE giving each contact row `c` its skip reason, '' to send; the missing value's message; params)."""
    reason_cases: list[str] = []
    for reason, _, condition in UNREACHABLE:
        # Test profiles are sent to whatever their consent, unless they opted out.
        if reason == SkipReason.UNSUBSCRIBED and campaign.audience == Audience.TEST_PROFILES:
            continue
        reason_cases.append(f"WHEN {condition} THEN {_literal(reason)}")
    cap_params: tuple[Any, ...] = ()
    if campaign.frequency_cap_count and campaign.frequency_cap_days:
        cap_sql, cap_params = contacts_over_frequency_cap_query(
            limit=int(campaign.frequency_cap_count), days=int(campaign.frequency_cap_days)
        )
        reason_cases.append(f"WHEN c.id IN ({cap_sql}) THEN {_literal(SkipReason.CAPPED.value)}")
    if campaign.control_group_percent:
        reason_cases.append(
            f"WHEN (('x' || substr(md5({_literal(str(campaign.pk))} || ':' || c.id::text), 1, 8))::bit(32)::bigint"
            f" %% 100) < {int(campaign.control_group_percent)} THEN {_literal(SkipReason.CONTROL_GROUP.value)}"
        )
    detail = "''"
    if errors:
        error_cases = " ".join(f"WHEN {condition} THEN {_literal(message)}" for condition, message in errors)
        reason_cases.append(
            f"WHEN CASE {error_cases} END IS NOT NULL THEN {_literal(SkipReason.MISSING_VARIABLE.value)}"
        )
        detail = f"coalesce(CASE {error_cases} END, '')"
    return "CASE " + " ".join(reason_cases) + " ELSE '' END", detail, cap_params


def audience_skip_counts(*, campaign: Campaign, contacts: QuerySet[Contact], variables: bool) -> dict[str, int]:
    """How many of `contacts` planning would give each skip reason ('' = sent), by the same CASE, in one grouped
    query. `variables`: count the contacts whose personalisation would be missing (the mapping is known)."""
    parts = _plan_parts(campaign) if variables else None
    reason, _, cap_params = _skip_reason_sql(campaign, parts.errors if parts is not None else [])
    audience_sql, audience_params = (
        contacts.order_by()
        .values(*dict.fromkeys(("id", "phone", "whatsapp_consent", "properties", *CONTACT_FIELDS)))
        .query.sql_with_params()
    )
    # As the planning INSERT: names and literals are ours, the cap's and the audience's values bound parameters.
    sql = f"SELECT r.reason, count(*) FROM (SELECT {reason} AS reason FROM ({audience_sql}) AS c) AS r GROUP BY 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*cap_params, *audience_params])
        return {str(name): int(n) for name, n in cursor.fetchall()}


def _insert(*, campaign: Campaign, contacts: QuerySet[Contact], parts: _Parts) -> tuple[int, QuerySet[Contact]]:
    ws = whitespace_characters()
    ws_literal = _literal(ws)
    constant_values, dynamic, eligible = parts.constant_values, parts.dynamic, parts.eligible
    reason, detail, cap_params = _skip_reason_sql(campaign, parts.errors)
    pieces: list[str] = []
    for slot, text, missing in dynamic:
        normalized = f"btrim(regexp_replace({text}, '[' || {ws_literal} || ']+', ' ', 'g'), ' ')"
        fallback = "NULL" if missing.value is None else _literal(json.dumps(missing.value)) + "::jsonb"
        pieces.append(
            f"{_literal(slot.key)}, CASE WHEN coalesce(btrim({text}, {ws_literal}), '') = '' THEN {fallback}"
            f" ELSE to_jsonb({normalized}) END"
        )
    parameters = _literal(json.dumps(constant_values)) + "::jsonb"
    if pieces:
        parameters = f"({parameters} || jsonb_strip_nulls(jsonb_build_object({', '.join(pieces)})))"
    audience_sql, audience_params = (
        contacts.order_by()
        .values(*dict.fromkeys(("id", "phone", "whatsapp_consent", "properties", *CONTACT_FIELDS)))
        .query.sql_with_params()
    )
    table = CampaignRecipient._meta.db_table
    # Re-planning (after a crash) skips the contacts already planned; a first planning inserts plainly, which costs
    # PostgreSQL a fifth less than checking each row for a conflict (the unique index still refuses a duplicate).
    resuming = CampaignRecipient.objects.filter(campaign=campaign).exists()
    sql = (
        # Table and column names are the models' own; literals are quoted by `_literal`; the audience's and the
        # frequency cap's values are bound parameters.
        f"INSERT INTO {table} (campaign_id, contact_id, phone, state, skip_reason, skip_detail, parameters)"  # noqa: S608
        f" SELECT %s, p.id, p.phone, CASE WHEN p.reason = '' THEN {_literal(RecipientState.PLANNED.value)}"
        f" ELSE {_literal(RecipientState.SKIPPED.value)} END, p.reason,"
        " CASE WHEN p.reason = %s THEN p.detail ELSE '' END, CASE WHEN p.reason = '' THEN p.parameters END"
        f" FROM (SELECT c.id, c.phone, {reason} AS reason, {detail} AS detail, {parameters} AS parameters"
        f" FROM ({audience_sql}) AS c WHERE {' AND '.join(eligible)}) AS p"
        + (" ON CONFLICT (campaign_id, contact_id) DO NOTHING" if resuming else "")
    )
    with connection.cursor() as cursor:
        # Placeholders in statement order: the campaign, the missing-variable reason, the frequency cap's (inside the
        # reason CASE), then the audience's.
        cursor.execute(sql, [campaign.pk, SkipReason.MISSING_VARIABLE.value, *cap_params, *audience_params])
        added = max(cursor.rowcount, 0)
    # The rest of the audience, found by the same conditions rather than by looking up a million planned rows. The
    # statement above is all or nothing, so nothing eligible is left unplanned.
    rest = f"SELECT c.id FROM ({audience_sql}) AS c WHERE NOT coalesce(({' AND '.join(eligible)}), FALSE)"  # noqa: S608
    return added, Contact.objects.filter(id__in=RawSQL(rest, audience_params))  # noqa: S611 - as the INSERT above


def _literal(value: str) -> str:
    """A SQL string literal inside a statement that also has bound parameters: quotes doubled
    (standard_conforming_strings is on), `%` doubled for the driver's placeholder syntax."""
    if "\x00" in value:
        raise ValueError("PostgreSQL text cannot hold NUL characters")
    return "'" + value.replace("'", "''").replace("%", "%%") + "'"
