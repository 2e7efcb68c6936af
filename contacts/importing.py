"""CSV import of contacts: streamed in batches, insert-or-update by external id or phone, every bad row reported.

The file is read line by line (never whole), each batch is validated in Python, matched against existing contacts
with one query, and written in one transaction together with the job's progress, its counters and its per-row
errors. A retried task resumes after the last committed batch, so no row is applied twice. New contacts (and their
consent history) are COPYed straight into their tables, and updates are COPYed into a temporary table and applied
with one set-based statement.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import queue
import re
import threading
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from contacts.models import Consent, ConsentChange, Contact, ContactImport, ContactImportError, ImportStatus
from contacts.phones import phone_normalize_fast
from whatsapp_project.csv_cells import GUARD, cell_unguard
from whatsapp_project.safe_input import storable

logger = logging.getLogger(__name__)

CONTACT_FIELDS = (
    "external_id",
    "phone",
    "name",
    "email",
    "timezone",
    "language",
    "whatsapp_consent",
    "is_test_profile",
)
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+$")
IGNORE = "ignore"
PROPERTY_PREFIX = "properties."
MAX_LENGTHS = {"external_id": 255, "name": 255, "email": 254, "timezone": 64, "language": 16}
CONSENT_WORDS = {
    "subscribed": Consent.SUBSCRIBED,
    "yes": Consent.SUBSCRIBED,
    "true": Consent.SUBSCRIBED,
    "1": Consent.SUBSCRIBED,
    "opted_in": Consent.SUBSCRIBED,
    "unsubscribed": Consent.UNSUBSCRIBED,
    "no": Consent.UNSUBSCRIBED,
    "false": Consent.UNSUBSCRIBED,
    "0": Consent.UNSUBSCRIBED,
    "opted_out": Consent.UNSUBSCRIBED,
    "untracked": Consent.UNTRACKED,
}
BOOL_WORDS = {"true": True, "yes": True, "1": True, "y": True, "false": False, "no": False, "0": False, "n": False}
ALIASES = {
    "phone": ("phone", "phone_number", "mobile", "msisdn", "whatsapp", "number"),
    "external_id": ("external_id", "externalid", "customer_id", "user_id", "id"),
    "name": ("name", "full_name"),
    "email": ("email", "email_address", "e_mail"),
    "timezone": ("timezone", "time_zone", "tz"),
    "language": ("language", "locale", "lang"),
    "whatsapp_consent": ("whatsapp_consent", "consent", "opt_in", "optin", "subscribed"),
    "is_test_profile": ("is_test_profile", "test_profile", "test"),
}


def import_dir() -> Path:
    """Where uploads wait for their import (setting CONTACT_IMPORT_DIR)."""
    path = Path(getattr(settings, "CONTACT_IMPORT_DIR", settings.BASE_DIR / "var" / "imports"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(getattr(settings, "CONTACT_IMPORT_MAX_BYTES", 512 * 1024 * 1024))


def batch_size() -> int:
    return int(getattr(settings, "CONTACT_IMPORT_BATCH_SIZE", 10000))


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def column_slug(column: str) -> str:
    return "_".join(column.strip().lower().replace("-", " ").split())


def mapping_guess(columns: list[str]) -> dict[str, str]:
    """A first mapping from the header: known names become contact fields, the rest become properties."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in columns:
        slug = column_slug(column)
        target = next((f for f, names in ALIASES.items() if slug in names and f not in taken), None)
        if target:
            taken.add(target)
            mapping[column] = target
        elif slug:
            mapping[column] = PROPERTY_PREFIX + slug
        else:
            mapping[column] = IGNORE
    return mapping


def mapping_clean(mapping: object, columns: list[str]) -> dict[str, str]:
    """Check a mapping against the file's header; ValidationError names each wrong column."""
    if not isinstance(mapping, dict):
        raise ValidationError({"mapping": ["Give the mapping as an object: CSV column → field."]})
    errors: dict[str, list[str]] = {}
    clean: dict[str, str] = {}
    used: dict[str, str] = {}
    for column, target in mapping.items():
        if column not in columns:
            errors[f"mapping.{column}"] = [f"The file has no column {column!r}; its columns are: {', '.join(columns)}."]
            continue
        if not isinstance(target, str) or not (
            target in CONTACT_FIELDS
            or target == IGNORE
            or (target.startswith(PROPERTY_PREFIX) and 0 < len(target) - len(PROPERTY_PREFIX) <= 100)
        ):
            errors[f"mapping.{column}"] = [
                f"Map it to one of {', '.join(CONTACT_FIELDS)}, 'properties.<name>' or 'ignore'."
            ]
            continue
        if target != IGNORE and target in used:
            errors[f"mapping.{column}"] = [f"{target} is already mapped from column {used[target]!r}."]
            continue
        used[target] = column
        clean[column] = target
    if not errors and not ({"phone", "external_id"} & set(clean.values())):
        errors["mapping"] = ["Map a column to phone or external_id: rows are matched to contacts by one of them."]
    if errors:
        raise ValidationError(errors)
    return clean


def default_country_clean(value: object) -> str:
    """A region code phonenumbers knows (upper-cased), or "" for none; ValidationError otherwise."""
    code = value.strip().upper() if isinstance(value, str) else value
    if code in ("", None):
        return ""
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            {"default_country": [f"{value!r} is not a country code phonenumbers knows; use two letters, e.g. GB."]}
        )
    return str(code)


class FileRefused(Exception):
    """The whole file cannot be imported (encoding of the header, no header, too big); the message says why."""


# The header row must end within this many bytes; a longer one is not a header.
HEADER_MAX_BYTES = 1024 * 1024


def header_read(path: Path) -> list[str]:
    """The header row, or FileRefused with what is wrong with the file as a whole.

    Read the way the rows are (csv over text with newline=""), so a file with carriage-return-only line endings
    imports like any other; every csv.Error becomes a refusal that says why.
    """
    with path.open("rb") as handle:
        head = handle.read(HEADER_MAX_BYTES + 1)
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not head.strip():
        raise FileRefused("The file is empty: the first line must name the columns.")
    # Bytes that are not UTF-8 are kept aside (surrogateescape) so that only the header row's own are refused here:
    # a bad byte in a later row is that row's problem, reported with it.
    text = head.decode("utf-8", errors="surrogateescape")
    stream = io.StringIO(text, newline="")
    try:
        columns = next(csv.reader(stream))
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise FileRefused(
                f"A column name in the header is longer than {csv.field_size_limit() // 1024} KiB: "
                "the first line must name the columns."
            ) from None
        raise FileRefused(f"The header row cannot be read as CSV: {exc}.") from None
    except StopIteration:
        raise FileRefused("The file is empty: the first line must name the columns.") from None
    header = text[: stream.tell()].encode("utf-8", errors="surrogateescape")
    try:
        # Incremental: a character cut at the end of what was read is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(header, final=len(head) <= HEADER_MAX_BYTES)
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"The file is not UTF-8 (byte 0x{header[exc.start]:02x} at position {exc.start + 1} of the header). "
            "Save it as 'CSV UTF-8' and upload it again."
        ) from None
    if len(head) > HEADER_MAX_BYTES and stream.tell() >= len(text):
        raise FileRefused(
            f"The first line is longer than {HEADER_MAX_BYTES // 1024} KiB: it must name the columns, one line per row."
        )
    columns = [c.strip() for c in columns]
    if any("\x00" in c for c in columns):
        raise FileRefused("The header contains a NUL character: this is not a CSV text file.")
    if any("\n" in c or "\r" in c for c in columns):
        raise FileRefused("A column name in the header runs over several lines: is a quote left unclosed?")
    if any(not c for c in columns):
        raise FileRefused("Every column in the header row needs a name.")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise FileRefused(f"The header names these columns twice: {', '.join(duplicates)}.")
    return columns


# A parsed row travels as a list rather than an object: its cells (kept only to report it), its line number, the
# contact it updates, whether its consent changes, one slot per contact field and one per mapped property (None
# where the cell is blank). Slots 1.. are exactly the staging table's columns, so COPY writes a slice of it.
CELLS, NUMBER, CONTACT_ID, CONSENT_CHANGED = 0, 1, 2, 3
FIELD_SLOTS = CONTACT_FIELDS
SLOT = {name: 4 + i for i, name in enumerate(FIELD_SLOTS)}
FIRST_PROPERTY = 4 + len(FIELD_SLOTS)
EXT, PHONE, CONSENT, IS_TEST = SLOT["external_id"], SLOT["phone"], SLOT["whatsapp_consent"], SLOT["is_test_profile"]
Record = list[Any]
Check = Callable[[str, str], Any]


class RowInvalid(Exception):
    """A cell that keeps the row out; the message names the column and says why."""


@dataclass
class Plan:
    """How to read a row: (cell index, column, slot, check) per mapped column, and the property keys in slot order."""

    steps: list[tuple[int, str, int, Check | None]]
    properties: list[str]
    size: int


def _length_check(target: str, then: Check | None = None) -> Check:
    limit = MAX_LENGTHS[target]

    def check(value: str, column: str) -> Any:
        if len(value) > limit:
            raise RowInvalid(f"{column}: longer than {limit} characters.")
        return value if then is None else then(value, column)

    return check


def _phone_check(value: str, column: str) -> str:
    try:
        return phone_normalize_fast(value)
    except ValidationError as exc:
        hint = " For numbers without a country code, choose the file's default country." if value[:1] == "0" else ""
        raise RowInvalid(f"{column}: {exc.messages[0]}{hint}") from None


def _national_phone_check(region: str) -> Check:
    def check(value: str, column: str) -> str:
        try:
            return phone_normalize_fast(value, region=region)
        except ValidationError as exc:
            raise RowInvalid(f"{column}: {exc.messages[0]}") from None

    return check


def _email_check(value: str, column: str) -> str:
    # A shape check, not Django's full validator: that one costs more than the rest of the row together.
    if not EMAIL_RE.match(value):
        raise RowInvalid(f"{column}: {value!r} is not an email address.")
    return value


def _timezone_check(value: str, column: str) -> str:
    if value not in _timezones():
        raise RowInvalid(f"{column}: {value!r} is not a time zone name (use e.g. Europe/London).")
    return value


def _consent_check(value: str, column: str) -> str:
    consent = CONSENT_WORDS.get(value.lower())
    if consent is None:
        raise RowInvalid(f"{column}: {value!r} is not a consent; use subscribed, unsubscribed or untracked.")
    return consent


def _flag_check(value: str, column: str) -> bool:
    flag = BOOL_WORDS.get(value.lower())
    if flag is None:
        raise RowInvalid(f"{column}: {value!r} is not true or false.")
    return flag


CHECKS: dict[str, Check] = {
    "external_id": _length_check("external_id"),
    "phone": _phone_check,
    "name": _length_check("name"),
    "email": _length_check("email", _email_check),
    "timezone": _length_check("timezone", _timezone_check),
    "language": _length_check("language"),
    "whatsapp_consent": _consent_check,
    "is_test_profile": _flag_check,
}


def mapping_compile(mapping: dict[str, str], columns: list[str], *, region: str = "") -> Plan:
    """The reading plan for a mapping, so each row is read by position with one check per mapped cell.

    `region`: the country of phone numbers written without a country code ("" when there is none).
    """
    checks = {**CHECKS, "phone": _national_phone_check(region)} if region else CHECKS
    steps: list[tuple[int, str, int, Check | None]] = []
    properties: list[str] = []
    for column, target in mapping.items():
        if target == IGNORE or column not in columns:
            continue
        if target.startswith(PROPERTY_PREFIX):
            steps.append((columns.index(column), column, FIRST_PROPERTY + len(properties), None))
            properties.append(target.removeprefix(PROPERTY_PREFIX))
        else:
            steps.append((columns.index(column), column, SLOT[target], checks[target]))
    return Plan(steps=steps, properties=properties, size=FIRST_PROPERTY + len(properties))


def _record(number: int, cells: list[str], plan: Plan) -> Record:
    """The row's record, or RowInvalid with the reason it cannot be imported."""
    record: Record = [None] * plan.size
    record[NUMBER], record[CELLS], record[CONSENT_CHANGED] = number, cells, False
    width = len(cells)
    for index, column, slot, check in plan.steps:
        value = cells[index].strip() if index < width else ""
        if value[:1] == GUARD:
            value = cell_unguard(value)  # a cell of one of our exports, guarded against spreadsheet formulas
        # A blank cell stays None: it never clears what the contact already has.
        if value:
            record[slot] = value if check is None else check(value, column)
    if not record[PHONE] and not record[EXT]:
        raise RowInvalid("The row has neither a phone nor an external id, so it matches no contact.")
    return record


@dataclass
class BatchOutcome:
    columns: list[str]
    created: int = 0
    updated: int = 0
    errors: list[ContactImportError] = field(default_factory=list)

    def refuse(self, job: ContactImport, number: int, cells: list[str] | None, kind: str, message: str) -> None:
        # A refused row is kept as it came, but a NUL in it could not be stored: it is shown as U+FFFD.
        values = {storable(k): storable(v) for k, v in zip(self.columns, cells, strict=False)} if cells else {}
        self.errors.append(
            ContactImportError(
                contact_import=job, row_number=number, kind=kind, message=storable(message), values=values
            )
        )


def _existing(externals: list[str], phones: list[str]) -> Iterable[tuple[Any, ...]]:
    """Contacts holding any of these external ids or phones: (id, external_id, phone, consent, last_import_id)."""
    # The keys travel as two JSON texts: encoding them is C work, where array parameters cost ~20 µs a row.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.external_id, c.phone, c.whatsapp_consent, c.last_import_id"  # noqa: S608
            f" FROM jsonb_array_elements_text(%s::jsonb) k JOIN {Contact._meta.db_table} c ON c.external_id = k"
            " UNION ALL SELECT c.id, c.external_id, c.phone, c.whatsapp_consent, c.last_import_id"
            f" FROM jsonb_array_elements_text(%s::jsonb) k JOIN {Contact._meta.db_table} c ON c.phone = k",
            [json.dumps(externals), json.dumps(phones)],
        )
        return cursor.fetchall()


def _resolve(job: ContactImport, records: list[Record], outcome: BatchOutcome) -> tuple[list[Record], list[Record]]:
    """Split valid rows into (new, updates), refusing conflicts and duplicates; one query for the whole batch."""
    externals = [r[EXT] for r in records if r[EXT]]
    phones = [r[PHONE] for r in records if r[PHONE]]
    # (id, external_id, phone, consent, last_import_id) of the contacts already holding a key of this batch.
    by_ext: dict[str, tuple[Any, ...]] = {}
    by_phone: dict[str, tuple[Any, ...]] = {}
    for existing in _existing(externals, phones):
        if existing[1]:
            by_ext[existing[1]] = existing
        by_phone[existing[2]] = existing
    new: list[Record] = []
    updates: list[Record] = []
    seen_ext: dict[str, int] = {}
    seen_phone: dict[str, tuple[int, str | None]] = {}
    seen_target: dict[int, int] = {}
    refuse = outcome.refuse
    for record in records:
        number, ext, phone = record[NUMBER], record[EXT], record[PHONE]
        if ext and ext in seen_ext:
            refuse(
                job,
                number,
                record[CELLS],
                "skipped",
                f"Duplicate: external id {ext} already appears on row {seen_ext[ext]}.",
            )
            continue
        if phone and phone in seen_phone:
            first_row, first_ext = seen_phone[phone]
            if not ext or ext == first_ext:
                refuse(
                    job,
                    number,
                    record[CELLS],
                    "skipped",
                    f"Duplicate: phone {phone} already appears on row {first_row}.",
                )
            else:
                refuse(job, number, record[CELLS], "invalid", f"Phone {phone} is already used on row {first_row}.")
            continue
        target = by_ext.get(ext) if ext and by_ext else None
        owner = by_phone.get(phone) if phone and by_phone else None
        if target is None and owner is None and not phone:
            refuse(
                job,
                number,
                record[CELLS],
                "invalid",
                f"No contact has external id {ext}, and a new contact needs a phone.",
            )
            continue
        if target is not None or owner is not None:
            problem = _conflict(job, ext, phone, target, owner, seen_target)
            if problem:
                refuse(job, number, record[CELLS], *problem)
                continue
        if ext:
            seen_ext[ext] = number
        if phone:
            seen_phone[phone] = (number, ext)
        if target is None and owner is None:
            consent = record[CONSENT]
            record[CONSENT_CHANGED] = consent is not None and consent != Consent.UNTRACKED
            new.append(record)
            continue
        contact = target or owner
        assert contact is not None
        seen_target[contact[0]] = number
        record[CONTACT_ID] = contact[0]
        consent = record[CONSENT]
        record[CONSENT_CHANGED] = consent is not None and consent != contact[3]
        updates.append(record)
    return new, updates


def _conflict(
    job: ContactImport,
    ext: str | None,
    phone: str | None,
    target: tuple[Any, ...] | None,
    owner: tuple[Any, ...] | None,
    seen_target: dict[int, int],
) -> tuple[str, str] | None:
    """(kind, message) when a row matching existing contacts cannot be applied, else None."""
    if target is None and owner is not None:
        if ext and owner[1] and owner[1] != ext:
            return "invalid", f"Phone {phone} belongs to the contact with external id {owner[1]}."
        target = owner
    elif target is not None and owner is not None and owner[0] != target[0]:
        return "invalid", f"Phone {phone} belongs to another contact (id {owner[0]})."
    assert target is not None
    if target[4] == job.pk or target[0] in seen_target:
        earlier = f"row {seen_target[target[0]]}" if target[0] in seen_target else "an earlier row"
        return "skipped", f"Duplicate: this contact already appears on {earlier} of the file."
    return None


def _record_fields(record: Record) -> dict[str, Any]:
    return {name: record[slot] for name, slot in SLOT.items() if record[slot] is not None}


def _record_properties(record: Record, properties: list[str]) -> dict[str, str]:
    return {
        key: record[FIRST_PROPERTY + i] for i, key in enumerate(properties) if record[FIRST_PROPERTY + i] is not None
    }


STAGE_COLUMNS = (
    "n",
    "contact_id",
    "consent_changed",
    "external_id",
    "phone",
    "name",
    "email",
    "timezone",
    "language",
    "consent",
    "is_test",
)
STAGE_TYPES = ("bigint", "bigint", "boolean", "text", "text", "text", "text", "text", "text", "text", "boolean")


def _stage(properties: list[str]) -> tuple[str, list[str], str]:
    """The batch's temporary table (created if needed, emptied), its columns, and the SQL that builds properties."""
    # One temporary table per number of property columns, so imports with different mappings can share a connection.
    stage = f"contact_import_stage_{len(properties)}"
    columns = [*STAGE_COLUMNS, *(f"p{i}" for i in range(len(properties)))]
    types = [*STAGE_TYPES, *("text" for _ in properties)]
    # Properties are built by the database from one text column per key; jsonb_strip_nulls drops the blank cells.
    if properties:
        keys = ", ".join(f"%s::text, s.p{i}" for i in range(len(properties)))
        props = f"jsonb_strip_nulls(jsonb_build_object({keys}))"
    else:
        props = "'{}'::jsonb"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ("
            + ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
            + ") ON COMMIT DELETE ROWS"
        )
        # Emptied at commit anyway; emptied here too for batches that share one outer transaction.
        cursor.execute(f"TRUNCATE {stage}")
    return stage, columns, props


CONTACT_COPY_COLUMNS = (
    "id",
    "external_id",
    "phone",
    "name",
    "email",
    "timezone",
    "language",
    "properties",
    "whatsapp_consent",
    "consent_source",
    "consent_changed_at",
    "is_test_profile",
    "last_import_id",
    "created_at",
    "updated_at",
)
NAME, EMAIL, TZ, LANGUAGE = SLOT["name"], SLOT["email"], SLOT["timezone"], SLOT["language"]


def _copy_new(cursor: Any, job: ContactImport, new: list[Record], now: datetime, properties: list[str]) -> None:
    """COPY the batch's new contacts straight into the contact table, and their consent history after them.

    The lookup has shown that no contact holds their phones or external ids, so there is nothing to merge and no
    need for INSERT … ON CONFLICT or a staging table. Ids are drawn from the table's sequence first, so the consent
    history can name its contacts in the same round trip. A contact created meanwhile by someone else with the same
    key makes COPY fail on the unique index, and the caller then applies the batch row by row.
    """
    contact_table = Contact._meta.db_table
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [contact_table, len(new)]
    )
    ids = [row[0] for row in cursor.fetchall()]
    # The properties object is spelled out here rather than by json.dumps per row, which costs several times more:
    # the keys are encoded once per batch, each value by the C string encoder json.dumps itself uses.
    quote = json.encoder.encode_basestring_ascii
    keyed = [(quote(key) + ": ", FIRST_PROPERTY + i) for i, key in enumerate(properties)]
    # Timestamps go as ISO text, which PostgreSQL parses: adapting a datetime per cell costs more than the row's
    # other cells together.
    job_id, stamp, history = job.pk, now.isoformat(), []
    with cursor.cursor.copy(f"COPY {contact_table} ({', '.join(CONTACT_COPY_COLUMNS)}) FROM STDIN") as copy:
        write = copy.write_row
        for contact_id, r in zip(ids, new, strict=True):
            changed = r[CONSENT_CHANGED]
            if changed:
                history.append((contact_id, r[CONSENT], "import", stamp))
            write(
                (
                    contact_id,
                    r[EXT],
                    r[PHONE],
                    r[NAME] or "",
                    r[EMAIL] or "",
                    r[TZ] or "",
                    r[LANGUAGE] or "",
                    "{" + ", ".join([key + quote(r[slot]) for key, slot in keyed if r[slot] is not None]) + "}",
                    r[CONSENT] or Consent.UNTRACKED,
                    "import" if changed else "",
                    stamp if changed else None,
                    bool(r[IS_TEST]),
                    job_id,
                    stamp,
                    stamp,
                )
            )
    if history:
        history_table = ConsentChange._meta.db_table
        with cursor.cursor.copy(f"COPY {history_table} (contact_id, consent, source, changed_at) FROM STDIN") as copy:
            write = copy.write_row
            for row in history:
                write(row)


# How many of a batch's rows are looked up to guess whether its new-looking rows are all new.
PROBE_ROWS = 32


def _insert_unshared(job: ContactImport, records: list[Record], properties: list[str]) -> tuple[list[Record], int]:
    """Create the batch's new contacts whose keys no other row of the batch shares; (the rows left, created).

    Such a row affects no other row of the batch, so when no contact holds its phone or external id it can be
    created before any lookup, and in a first import of a file (the large case) that is every row. Whether they are
    all new is guessed from a sample spread over the batch, then COPY decides: the unique indexes refuse a row that
    matches a contact, the savepoint undoes the attempt, and the whole batch goes through the lookup instead, in file
    order, exactly as if this had not been tried.
    """
    phones = Counter(r[PHONE] for r in records if r[PHONE])
    externals = Counter(r[EXT] for r in records if r[EXT])
    unshared = [r for r in records if r[PHONE] and phones[r[PHONE]] == 1 and (not r[EXT] or externals[r[EXT]] == 1)]
    if not unshared:
        return records, 0
    sample = unshared[:: max(1, len(unshared) // PROBE_ROWS)]
    if any(_existing([r[EXT] for r in sample if r[EXT]], [r[PHONE] for r in sample])):
        return records, 0
    for record in unshared:
        consent = record[CONSENT]
        record[CONSENT_CHANGED] = consent is not None and consent != Consent.UNTRACKED
    try:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
            _copy_new(cursor, job, unshared, timezone.now(), properties)
    except IntegrityError:
        return records, 0
    if len(unshared) == len(records):
        return [], len(unshared)
    inserted = {id(r) for r in unshared}
    return [r for r in records if id(r) not in inserted], len(unshared)


def _write(
    job: ContactImport, new: list[Record], updates: list[Record], now: datetime, properties: list[str]
) -> tuple[int, int]:
    """Apply a resolved batch: new contacts by COPY, updates through a temporary table in one set-based statement."""
    # Table names come from the models, never from input; property keys and every value travel as parameters.
    # COPY runs on psycopg's own cursor: the wrapper turns its errors (a unique violation above all) into Django's.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if new:
            _copy_new(cursor, job, new, now, properties)
        if not updates:
            return len(new), 0
        contact_table = Contact._meta.db_table
        history_table = ConsentChange._meta.db_table
        stage, columns, props = _stage(properties)
        with cursor.cursor.copy(f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:
            write = copy.write_row
            for record in updates:
                write(record[1:])
        cursor.execute(
            f"WITH upd AS (UPDATE {contact_table} c SET external_id = coalesce(s.external_id, c.external_id),"  # noqa: S608
            " phone = coalesce(s.phone, c.phone), name = coalesce(s.name, c.name),"
            " email = coalesce(s.email, c.email), timezone = coalesce(s.timezone, c.timezone),"
            " language = coalesce(s.language, c.language),"
            f" properties = c.properties || {props},"
            " whatsapp_consent = coalesce(s.consent, c.whatsapp_consent),"
            " consent_source = CASE WHEN s.consent_changed THEN 'import' ELSE c.consent_source END,"
            " consent_changed_at = CASE WHEN s.consent_changed THEN %s ELSE c.consent_changed_at END,"
            " is_test_profile = coalesce(s.is_test, c.is_test_profile), last_import_id = %s, updated_at = %s"
            f" FROM {stage} s WHERE s.contact_id = c.id RETURNING c.id, s.consent, s.consent_changed),"
            f" history AS (INSERT INTO {history_table} (contact_id, consent, source, changed_at)"
            " SELECT id, consent, 'import', %s FROM upd WHERE consent_changed)"
            " SELECT count(*) FROM upd",
            [*properties, now, job.pk, now, now],
        )
        (updated,) = cursor.fetchone()
    return len(new), updated


def _apply_rows_one_by_one(
    job: ContactImport, new: list[Record], updates: list[Record], outcome: BatchOutcome, properties: list[str]
) -> None:
    """Fallback when a batch collides with contacts written meanwhile: each row alone, each failure reported."""
    now = timezone.now()
    for record in (*new, *updates):
        try:
            with transaction.atomic():
                created, updated = _write(
                    job, [] if record[CONTACT_ID] else [record], [record] if record[CONTACT_ID] else [], now, properties
                )
        except IntegrityError:
            outcome.refuse(
                job,
                record[NUMBER],
                record[CELLS],
                "invalid",
                "Its phone or external id was taken by another contact meanwhile; import it again.",
            )
            continue
        outcome.created += created
        outcome.updated += updated


def _write_batch(job: ContactImport, records: list[Record], outcome: BatchOutcome, properties: list[str]) -> None:
    records, created = _insert_unshared(job, records, properties)
    outcome.created += created
    if not records:
        return
    new, updates = _resolve(job, records, outcome)
    try:
        with transaction.atomic():
            created, updated = _write(job, new, updates, timezone.now(), properties)
    except IntegrityError:
        logger.info("Import %s: a batch collided with concurrent writes; applying it row by row", job.pk)
        _apply_rows_one_by_one(job, new, updates, outcome, properties)
        return
    outcome.created += created
    outcome.updated += updated


def _rows(handle: BinaryIO, width: int) -> Iterator[tuple[int, list[str], str]]:
    """(line, cells, "") for each data row, or (line, cells, reason) for a row that cannot be imported as read."""
    # Decoding in the text layer's chunks, not line by line; undecodable bytes become U+FFFD so the row can be
    # reported, not lost; utf-8-sig drops a byte order mark.
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="replace", newline="")
    try:
        reader = csv.reader(text)
        next(reader, None)  # the header, read and checked before the job started
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield (start, [], f"The row cannot be read as CSV: {exc}.")
                start = reader.line_num + 1
                continue
            number, start = start, reader.line_num + 1
            joined = "".join(cells)
            if not joined.strip():
                continue
            if "\ufffd" in joined:
                yield (number, cells, "The row is not valid UTF-8; save the file as 'CSV UTF-8' and import it again.")
            elif "\x00" in joined:
                # The report lists the row with the NUL shown as U+FFFD (BatchOutcome.refuse stores it so).
                yield (number, cells, "The row contains a NUL character, which no contact field can hold.")
            elif len(cells) > width:
                yield (number, cells, f"The row has {len(cells)} cells but the header names {width} columns.")
            else:
                yield (number, cells, "")
    finally:
        # The text layer must not close the caller's file, whose position reports the progress.
        text.detach()


class _Writer:
    """Applies batches in order on its own thread and database connection, while the caller parses the next one.

    Parsing is Python and writing is mostly PostgreSQL, so on two cores the two overlap. At most one batch waits,
    so memory stays at about two batches; batches still commit one by one, in file order, with their progress.
    """

    def __init__(self) -> None:
        self.batches: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="contact-import-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        try:
            while (batch := self.batches.get()) is not None:
                if self.error is None:
                    try:
                        _commit(*batch)
                    except BaseException as exc:  # noqa: BLE001 - handed to the parsing thread, which raises it
                        self.error = exc
        finally:
            connection.close()

    def put(self, *batch: Any) -> None:
        if self.error is not None:
            raise self.error
        self.batches.put(batch)

    def finish(self) -> None:
        self.batches.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def _writer_thread_allowed() -> bool:
    """A second connection must not be used inside a caller's transaction."""
    return not connection.in_atomic_block and bool(getattr(settings, "CONTACT_IMPORT_WRITER_THREAD", True))


def contact_import_run(*, contact_import: ContactImport) -> ContactImport:
    """Run (or resume) an import; progress and counters are committed with each batch."""
    job = contact_import
    claimed = ContactImport.objects.filter(pk=job.pk, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    path = Path(job.file_path)
    try:
        columns = header_read(path)
    except (FileRefused, OSError) as exc:
        path.unlink(missing_ok=True)  # refused for good: nothing will read it again
        return _fail(job, str(exc) if isinstance(exc, FileRefused) else "The uploaded file is no longer there.")
    already = job.rows_processed
    seen = 0
    size = batch_size()
    plan = mapping_compile(job.mapping, columns, region=job.default_country)
    records: list[Record] = []
    outcome = BatchOutcome(columns=columns)
    writer = _Writer() if _writer_thread_allowed() else None
    commit = writer.put if writer else _commit
    try:
        with path.open("rb") as handle:
            for number, cells, reason in _rows(handle, len(columns)):
                seen += 1
                if seen <= already:
                    continue  # applied by an earlier attempt of this task, committed with its progress
                if reason:
                    outcome.refuse(job, number, cells, "invalid", reason)
                else:
                    try:
                        records.append(_record(number, cells, plan))
                    except RowInvalid as exc:
                        outcome.refuse(job, number, cells, "invalid", str(exc))
                if len(records) + len(outcome.errors) >= size:
                    commit(job, records, outcome, seen, handle.tell(), plan.properties)
                    records, outcome = [], BatchOutcome(columns=columns)
            commit(job, records, outcome, seen, handle.tell(), plan.properties, True)
    finally:
        if writer:
            writer.finish()
    path.unlink(missing_ok=True)
    job.refresh_from_db()
    return job


def _commit(
    job: ContactImport,
    records: list[Record],
    outcome: BatchOutcome,
    seen: int,
    bytes_read: int,
    properties: list[str],
    final: bool = False,
) -> None:
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if own_transaction and not final:
            # A batch's contacts, its row errors and the job's progress commit together, so this commit need not
            # wait for the disk: after a crash PostgreSQL recovers a prefix of the committed transactions, whole
            # and in order, so rows_processed still matches the rows present and the retried task re-applies
            # whichever batches were lost. Nothing outside the database acts on a batch's commit. The last batch
            # waits as usual: it marks the job completed, and the upload is deleted only after that is on disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        if records:
            _write_batch(job, records, outcome, properties)
        ContactImportError.objects.bulk_create(outcome.errors, batch_size=1000)
        invalid = sum(1 for e in outcome.errors if e.kind == "invalid")
        skipped = len(outcome.errors) - invalid
        extra: dict[str, Any] = {}
        if final:
            extra = {"status": ImportStatus.COMPLETED, "finished_at": timezone.now()}
        ContactImport.objects.filter(pk=job.pk).update(
            rows_processed=seen,
            bytes_processed=bytes_read,
            created_count=F("created_count") + outcome.created,
            updated_count=F("updated_count") + outcome.updated,
            skipped_count=F("skipped_count") + skipped,
            invalid_count=F("invalid_count") + invalid,
            **extra,
        )


def _fail(job: ContactImport, reason: str) -> ContactImport:
    ContactImport.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED, error=reason, finished_at=timezone.now())
    job.refresh_from_db()
    return job


SAMPLE_ROWS = 3
# Reading samples stops after this many lines, so a file whose first rows are all blank or broken stays quick.
SAMPLE_LINES_READ = 200


def column_samples(job: ContactImport) -> dict[str, list[str]]:
    """Up to SAMPLE_ROWS distinct non-blank values per column, from the first readable rows of the uploaded file."""
    samples: dict[str, list[str]] = {column: [] for column in job.columns}
    try:
        handle = Path(job.file_path).open("rb")
    except OSError:
        return samples
    with handle:
        for seen, (_, cells, reason) in enumerate(_rows(handle, len(job.columns))):
            if seen >= SAMPLE_LINES_READ or all(len(v) >= SAMPLE_ROWS for v in samples.values()):
                break
            if reason:
                continue
            for column, cell in zip(job.columns, cells, strict=False):
                value = cell.strip()
                if value[:1] == GUARD:
                    value = cell_unguard(value)
                if value and value not in samples[column] and len(samples[column]) < SAMPLE_ROWS:
                    samples[column].append(value[:60])
    return samples


def import_errors_rows(job: ContactImport) -> Iterable[list[str]]:
    """The per-row errors as CSV rows: line, kind, reason, then the row's original cells."""
    yield ["row", "kind", "error", *job.columns]
    for error in job.row_errors.order_by("row_number", "id").iterator(chunk_size=2000):
        yield [str(error.row_number), error.kind, error.message, *(error.values.get(c, "") for c in job.columns)]
