"""Segment definitions: validation with per-field errors, and compilation to one ORM filter (never Python filtering).

A definition is::

    {"match": "all" | "any",                      # how groups combine
     "groups": [{"match": "all" | "any",          # how a group's conditions combine
                 "conditions": [condition, ...]}]}

and a condition is one of::

    {"type": "property", "key": "plan", "op": "eq|ne|contains|gt|lt|in|is_set|not_set", "value": ...}
    {"type": "consent", "op": "eq|ne", "value": "subscribed|unsubscribed|untracked"}
    {"type": "test_profile", "value": true}
    {"type": "date", "field": "created_at|last_inbound_at|property", "key": "(property only)",
     "op": "before|after|within_last_days|not_within_last_days", "value": "YYYY-MM-DD" | days}
    {"type": "event", "op": "did|did_not", "name": "purchase", "min_count": 1, "days": 30,
     "filters": [{"key": "sku", "op": "eq", "value": "A1"}]}     # days null: ever

Property values compare as numbers when the condition's value is numeric and the stored value looks like a number
(stored numbers or numeric strings alike); otherwise as text. Date properties are ISO 8601 strings.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, FloatField, OuterRef, Q, Value
from django.db.models.expressions import Case, When
from django.db.models.fields.json import HasKey, KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, GreaterThan, IContains, IsNull, LessThan
from django.utils import timezone

from contacts.models import Consent, Event

MATCHES = ("all", "any")
PROPERTY_OPS = ("eq", "ne", "contains", "gt", "lt", "in", "is_set", "not_set")
DATE_OPS = ("before", "after", "within_last_days", "not_within_last_days")
DATE_FIELDS = ("created_at", "last_inbound_at", "property")
EVENT_OPS = ("did", "did_not")
CONDITION_TYPES = ("property", "consent", "test_profile", "date", "event")
MAX_GROUPS = 20
MAX_CONDITIONS = 50
MAX_IN_VALUES = 200
KEY_RE = re.compile(r"^[\w .:-]{1,100}$")
# A stored value counts as a number when it is written like one; others never reach the numeric cast.
NUMERIC_RE = r"^ *-?[0-9]+(\.[0-9]+)? *$"
ISO_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"

Errors = dict[str, list[str]]


def _number(value: object) -> float | None:
    """The value as a number when it is one (or a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and re.fullmatch(NUMERIC_RE, value):
        try:
            return float(Decimal(value.strip()))
        except InvalidOperation:
            return None
    return None


def _scalar_ok(value: object) -> bool:
    return isinstance(value, str | int | float | bool) and not (isinstance(value, str) and len(value) > 500)


def _property_errors(cond: dict[str, Any], path: str, errors: Errors) -> dict[str, Any]:
    key, op, value = cond.get("key"), cond.get("op"), cond.get("value")
    if not isinstance(key, str) or not KEY_RE.match(key):
        errors[f"{path}.key"] = ["Name the property: letters, digits, spaces, _ . : - (up to 100)."]
    if op not in PROPERTY_OPS:
        errors[f"{path}.op"] = [f"Choose one of: {', '.join(PROPERTY_OPS)}."]
        return {}
    out: dict[str, Any] = {"key": key, "op": op}
    if op in ("is_set", "not_set"):
        return out
    if op == "in":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES or not all(map(_scalar_ok, value)):
            errors[f"{path}.value"] = [f"Give a list of 1 to {MAX_IN_VALUES} values (comma-separated in the form)."]
        out["value"] = value
        return out
    if op in ("gt", "lt") and _number(value) is None:
        errors[f"{path}.value"] = ["Greater/less than compares numbers: enter a number."]
    elif value is None or value == "" or not _scalar_ok(value):
        errors[f"{path}.value"] = ["Enter a value (text or number, up to 500 characters)."]
    out["value"] = value
    return out


def _date_errors(cond: dict[str, Any], path: str, errors: Errors) -> dict[str, Any]:
    field, op, value = cond.get("field"), cond.get("op"), cond.get("value")
    out: dict[str, Any] = {"field": field, "op": op, "value": value}
    if field not in DATE_FIELDS:
        errors[f"{path}.field"] = [f"Choose one of: {', '.join(DATE_FIELDS)}."]
    if field == "property":
        key = cond.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            errors[f"{path}.key"] = ["Name the date property."]
        out["key"] = key
    if op not in DATE_OPS:
        errors[f"{path}.op"] = [f"Choose one of: {', '.join(DATE_OPS)}."]
    elif op.endswith("_days"):
        days = _number(value)
        if days is None or days != int(days) or not 0 < days <= 3650:
            errors[f"{path}.value"] = ["Enter a whole number of days between 1 and 3650."]
        else:
            out["value"] = int(days)
    else:
        try:
            out["value"] = date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            errors[f"{path}.value"] = ["Enter a date as YYYY-MM-DD."]
    return out


def _event_errors(cond: dict[str, Any], path: str, errors: Errors) -> dict[str, Any]:
    name, op = cond.get("name"), cond.get("op", "did")
    min_count, days = cond.get("min_count", 1), cond.get("days")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 128:
        errors[f"{path}.name"] = ["Name the event (up to 128 characters)."]
    if op not in EVENT_OPS:
        errors[f"{path}.op"] = ["Choose did or did_not."]
    count = _number(min_count)
    if count is None or count != int(count) or not 1 <= count <= 10_000:
        errors[f"{path}.min_count"] = ["Enter how many times: a whole number from 1 to 10000."]
    day_count = None if days in (None, "") else _number(days)
    if days not in (None, "") and (day_count is None or day_count != int(day_count) or not 0 < day_count <= 3650):
        errors[f"{path}.days"] = ["Enter a whole number of days between 1 and 3650, or leave it empty for ever."]
    filters = cond.get("filters") or []
    clean_filters = []
    if not isinstance(filters, list) or len(filters) > 10:
        errors[f"{path}.filters"] = ["Give up to 10 property filters as a list."]
    else:
        for j, flt in enumerate(filters):
            if not isinstance(flt, dict):
                errors[f"{path}.filters[{j}]"] = ["Each filter is an object with key, op and value."]
                continue
            clean_filters.append(_property_errors(flt, f"{path}.filters[{j}]", errors))
    return {
        "name": name.strip() if isinstance(name, str) else name,
        "op": op,
        "min_count": int(count) if count is not None else min_count,
        "days": int(day_count) if day_count is not None else None,
        "filters": clean_filters,
    }


def segment_definition_clean(definition: object) -> dict[str, Any]:
    """The definition normalised, or ValidationError whose dict names each wrong field by its path."""
    errors: Errors = {}
    if not isinstance(definition, dict):
        raise ValidationError({"definition": ["A definition is an object with `match` and `groups`."]})
    match = definition.get("match", "all")
    if match not in MATCHES:
        errors["match"] = ["Choose all or any."]
    groups = definition.get("groups")
    if not isinstance(groups, list) or not groups:
        raise ValidationError({"groups": ["Add at least one group of conditions."], **errors})
    if len(groups) > MAX_GROUPS:
        raise ValidationError({"groups": [f"At most {MAX_GROUPS} groups."]})
    clean_groups = []
    for i, group in enumerate(groups):
        gpath = f"groups[{i}]"
        if not isinstance(group, dict):
            errors[gpath] = ["A group is an object with `match` and `conditions`."]
            continue
        gmatch = group.get("match", "all")
        if gmatch not in MATCHES:
            errors[f"{gpath}.match"] = ["Choose all or any."]
        conditions = group.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            errors[f"{gpath}.conditions"] = ["Add at least one condition."]
            continue
        if len(conditions) > MAX_CONDITIONS:
            errors[f"{gpath}.conditions"] = [f"At most {MAX_CONDITIONS} conditions in a group."]
            continue
        clean_conditions = []
        for j, cond in enumerate(conditions):
            path = f"{gpath}.conditions[{j}]"
            if not isinstance(cond, dict) or cond.get("type") not in CONDITION_TYPES:
                errors[f"{path}.type"] = [f"Choose one of: {', '.join(CONDITION_TYPES)}."]
                continue
            kind = cond["type"]
            body: dict[str, Any]
            if kind == "property":
                body = _property_errors(cond, path, errors)
            elif kind == "consent":
                op = cond.get("op", "eq")
                if op not in ("eq", "ne"):
                    errors[f"{path}.op"] = ["Choose eq or ne."]
                if cond.get("value") not in Consent.values:
                    errors[f"{path}.value"] = [f"Choose one of: {', '.join(Consent.values)}."]
                body = {"op": op, "value": cond.get("value")}
            elif kind == "test_profile":
                if not isinstance(cond.get("value", True), bool):
                    errors[f"{path}.value"] = ["Choose true or false."]
                body = {"value": cond.get("value", True)}
            elif kind == "date":
                body = _date_errors(cond, path, errors)
            else:
                body = _event_errors(cond, path, errors)
            clean_conditions.append({"type": kind, **body})
        clean_groups.append({"match": gmatch, "conditions": clean_conditions})
    if errors:
        raise ValidationError(errors)
    return {"match": match, "groups": clean_groups}


# --- compilation -------------------------------------------------------------------------------------------------


def _combine(parts: list[Q], match: str) -> Q:
    result = parts[0]
    for part in parts[1:]:
        result = result & part if match == "all" else result | part
    return result


def _numeric(text: KeyTextTransform) -> Case:
    """The property as a number, or NULL when it does not look like one (so a cast can never fail)."""
    return Case(
        When(Q(_regex(text, NUMERIC_RE)), then=Cast(text, FloatField())),
        default=Value(None),
        output_field=FloatField(),
    )


def _regex(text: KeyTextTransform, pattern: str) -> Any:
    from django.db.models.lookups import Regex

    return Regex(text, Value(pattern))


def _equals(field: str, key: str, value: object) -> Q:
    text = KeyTextTransform(key, field)
    number = _number(value)
    if number is not None:
        return Q(Exact(_numeric(text), Value(number)))
    if isinstance(value, bool):
        # JSON true/false read as text differ by database ('true' vs '1'); accept the text spelling too.
        return Q(HasKey(F(field), key)) & Q(**{f"{field}__{_lookup_path(key)}": value})
    return Q(Exact(text, Value(str(value))))


def _lookup_path(key: str) -> str:
    # Key validation only allows word characters, spaces, . : -; a '__' would split the path, so refuse it.
    if "__" in key:
        raise ValidationError({"key": ["Property names may not contain a double underscore."]})
    return key


def _is_set(field: str, key: str) -> Q:
    text = KeyTextTransform(key, field)
    return Q(HasKey(F(field), key)) & Q(IsNull(text, False)) & ~Q(Exact(text, Value("")))


def property_q(*, field: str, cond: dict[str, Any]) -> Q:
    """One property condition on the JSON column `field` (contacts' or events' properties)."""
    key, op, value = cond["key"], cond["op"], cond.get("value")
    text = KeyTextTransform(key, field)
    if op == "is_set":
        return _is_set(field, key)
    if op == "not_set":
        return ~_is_set(field, key) | Q(IsNull(text, True))
    if op == "eq":
        return _equals(field, key, value)
    if op == "ne":
        # "Not equal" includes contacts that have no such property, as marketers expect.
        return Q(IsNull(text, True)) | ~_equals(field, key, value)
    if op == "in":
        return _combine([_equals(field, key, v) for v in value or []], "any")
    if op == "contains":
        return Q(IContains(text, Value(str(value))))
    number = _number(value)
    lookup = GreaterThan if op == "gt" else LessThan
    return Q(lookup(_numeric(text), Value(number)))


def _day_start(day: str) -> datetime:
    return timezone.make_aware(datetime.combine(date.fromisoformat(day), time.min))


def _date_q(cond: dict[str, Any], now: datetime) -> Q:
    op, value = cond["op"], cond["value"]
    if cond["field"] in ("created_at", "last_inbound_at"):
        column = cond["field"]
        if op == "before":
            return Q(**{f"{column}__lt": _day_start(value)})
        if op == "after":
            return Q(**{f"{column}__gte": _day_start(value) + timedelta(days=1)})
        since = now - timedelta(days=value)
        inside = Q(**{f"{column}__gte": since})
        return inside if op == "within_last_days" else ~inside | Q(**{f"{column}__isnull": True})
    # ISO 8601 text sorts like the time it names; only values that start like a date take part.
    text = KeyTextTransform(cond["key"], "properties")
    is_date = Q(_regex(text, ISO_DATE_RE))
    if op == "before":
        return is_date & Q(LessThan(text, Value(value)))
    if op == "after":
        return is_date & ~Q(LessThan(text, Value((date.fromisoformat(value) + timedelta(days=1)).isoformat())))
    since_text = (now - timedelta(days=value)).date().isoformat()
    inside_q = is_date & ~Q(LessThan(text, Value(since_text)))
    if op == "within_last_days":
        return inside_q
    return ~inside_q | Q(IsNull(text, True))


def _event_q(cond: dict[str, Any], now: datetime) -> Q:
    events = Event.objects.filter(name=cond["name"])
    if cond.get("days"):
        events = events.filter(occurred_at__gte=now - timedelta(days=cond["days"]))
    for flt in cond.get("filters") or []:
        events = events.filter(property_q(field="properties", cond=flt))
    if cond["min_count"] <= 1:
        # EXISTS becomes a semi-join (or anti-join for "did not"): one pass over the matching events.
        did = Q(Exists(events.filter(contact=OuterRef("pk"))))
    else:
        # Counting per contact inside one grouped subquery lets the database hash it once, not probe per contact.
        heavy = (
            events.order_by().values("contact_id").annotate(n=Count("id")).filter(n__gte=cond["min_count"])
        ).values("contact_id")
        did = Q(pk__in=heavy)
    return did if cond["op"] == "did" else ~did


def _condition_q(cond: dict[str, Any], now: datetime) -> Q:
    kind = cond["type"]
    if kind == "property":
        return property_q(field="properties", cond=cond)
    if kind == "consent":
        same = Q(whatsapp_consent=cond["value"])
        return same if cond.get("op", "eq") == "eq" else ~same
    if kind == "test_profile":
        return Q(is_test_profile=bool(cond["value"]))
    if kind == "date":
        return _date_q(cond, now)
    return _event_q(cond, now)


def segment_q(definition: dict[str, Any], *, now: datetime | None = None) -> Q:
    """The whole definition as one Q; the caller applies it to Contact.objects (validate first)."""
    clean = segment_definition_clean(definition)
    now = now or timezone.now()
    groups = [
        _combine([_condition_q(cond, now) for cond in group["conditions"]], group["match"]) for group in clean["groups"]
    ]
    return _combine(groups, clean["match"])


# --- description -------------------------------------------------------------------------------------------------

_PROPERTY_WORDS = {
    "eq": "is",
    "ne": "is not",
    "contains": "contains",
    "gt": "is more than",
    "lt": "is less than",
    "in": "is one of",
}
# (within, not within, before, after) for the contact's own dates; a date property reads "<key> is …".
_DATE_WORDS = {
    "created_at": ("became a contact", "did not become a contact", "became a contact", "became a contact"),
    "last_inbound_at": ("wrote to us", "did not write to us", "last wrote to us", "last wrote to us"),
}


def _quoted(value: object) -> str:
    return str(value) if _number(value) is not None else f"“{value}”"


def _property_words(cond: dict[str, Any]) -> str:
    key, op, value = cond["key"], cond["op"], cond.get("value")
    if op == "is_set":
        return f"{key} is set"
    if op == "not_set":
        return f"{key} is not set"
    if op == "in":
        return f"{key} is one of {', '.join(_quoted(v) for v in value or [])}"
    return f"{key} {_PROPERTY_WORDS[op]} {_quoted(value)}"


def _date_words(cond: dict[str, Any]) -> str:
    op, value = cond["op"], cond["value"]
    if cond["field"] == "property":
        within, not_within, before, after = (f"{cond['key']} is", f"{cond['key']} is not", *[f"{cond['key']} is"] * 2)
    else:
        within, not_within, before, after = _DATE_WORDS[cond["field"]]
    if op == "within_last_days":
        return f"{within} in the last {value} days"
    if op == "not_within_last_days":
        return f"{not_within} in the last {value} days"
    return f"{before} before {value}" if op == "before" else f"{after} after {value}"


def _event_words(cond: dict[str, Any]) -> str:
    words = f"did “{cond['name']}”" if cond["op"] == "did" else f"did not do “{cond['name']}”"
    if cond.get("min_count", 1) > 1:
        words += f" at least {cond['min_count']} times"
    if cond.get("days"):
        words += f" in the last {cond['days']} days"
    filters = [_property_words(flt) for flt in cond.get("filters") or []]
    if filters:
        words += " where " + " and ".join(filters)
    return words


def condition_describe(cond: dict[str, Any]) -> str:
    """One (valid) condition in words: `plan is “gold”`, `did “signup” in the last 30 days`."""
    kind = cond["type"]
    if kind == "property":
        return _property_words(cond)
    if kind == "consent":
        label = Consent(cond["value"]).label.lower()
        return f"WhatsApp consent is {label}" if cond.get("op", "eq") == "eq" else f"WhatsApp consent is not {label}"
    if kind == "test_profile":
        return "is a test profile" if cond.get("value", True) else "is not a test profile"
    if kind == "date":
        return _date_words(cond)
    return _event_words(cond)


def segment_definition_describe(definition: dict[str, Any]) -> str:
    """The definition as a sentence a marketer reads: `plan is “gold” and did “signup” in the last 30 days`."""
    try:
        clean = segment_definition_clean(definition)
    except ValidationError:
        return "(this definition is not valid; edit the segment to fix it)"
    groups = []
    for group in clean["groups"]:
        words = f" {'and' if group['match'] == 'all' else 'or'} ".join(map(condition_describe, group["conditions"]))
        groups.append(f"({words})" if len(clean["groups"]) > 1 and len(group["conditions"]) > 1 else words)
    return f" {'and' if clean['match'] == 'all' else 'or'} ".join(groups)
