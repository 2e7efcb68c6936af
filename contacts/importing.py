"""CSV import of contacts: streamed in batches, insert-or-update by external id or phone, every bad row reported.

The file is read line by line (never whole), each batch is validated in Python, matched against existing contacts
with one query, and written in one transaction together with the job's progress, its counters and its per-row
errors. A retried task resumes after the last committed batch, so no row is applied twice. On PostgreSQL a batch is
COPYed into a temporary table and applied with two set-based statements; elsewhere the ORM's bulk operations do it.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from contacts.models import Consent, ConsentChange, Contact, ContactImport, ContactImportError, ImportStatus
from contacts.phones import phone_normalize_fast

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
    return int(getattr(settings, "CONTACT_IMPORT_BATCH_SIZE", 5000))


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


class FileRefused(Exception):
    """The whole file cannot be imported (encoding of the header, no header, too big); the message says why."""


def _decoded_lines(handle: Any, counter: list[int]) -> Iterator[str]:
    """Lines as text, counting bytes read; undecodable bytes become U+FFFD so the row can be reported, not lost."""
    first = True
    for raw in handle:
        counter[0] += len(raw)
        if first:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
            first = False
        yield raw.decode("utf-8", errors="replace")


def header_read(path: Path) -> list[str]:
    """The header row, or FileRefused with what is wrong with the file as a whole."""
    with path.open("rb") as handle:
        head = handle.readline(1024 * 1024)
    if not head.strip():
        raise FileRefused("The file is empty: the first line must name the columns.")
    try:
        text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(
            f"The file is not UTF-8 (byte 0x{head[exc.start]:02x} at position {exc.start + 1} of the header). "
            "Save it as 'CSV UTF-8' and upload it again."
        ) from None
    columns = next(csv.reader([text]))
    columns = [c.strip() for c in columns]
    if any(not c for c in columns):
        raise FileRefused("Every column in the header row needs a name.")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise FileRefused(f"The header names these columns twice: {', '.join(duplicates)}.")
    return columns


@dataclass
class Row:
    number: int
    cells: list[str]
    columns: list[str]
    fields: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    contact_id: int | None = None
    consent_changed: bool = False

    @property
    def values(self) -> dict[str, str]:
        """The row as column → cell, built only when the row has to be reported."""
        return dict(zip(self.columns, self.cells, strict=False))


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    errors: list[ContactImportError] = field(default_factory=list)

    def refuse(self, job: ContactImport, row: Row, kind: str, message: str) -> None:
        self.errors.append(
            ContactImportError(contact_import=job, row_number=row.number, kind=kind, message=message, values=row.values)
        )


def mapping_compile(mapping: dict[str, str], columns: list[str]) -> list[tuple[int, str, str]]:
    """(cell index, column, target) for each mapped column, so rows are read by position."""
    return [(columns.index(c), c, t) for c, t in mapping.items() if t != IGNORE and c in columns]


def _row_fields(row: Row, plan: list[tuple[int, str, str]]) -> str | None:
    """Fill row.fields/properties from the mapped cells; the reason the row is invalid, or None."""
    cells = row.cells
    width = len(cells)
    for index, column, target in plan:
        value = cells[index].strip() if index < width else ""
        if value == "":
            # A blank cell never clears what the contact already has.
            continue
        if target.startswith(PROPERTY_PREFIX):
            row.properties[target.removeprefix(PROPERTY_PREFIX)] = value
            continue
        if target in MAX_LENGTHS and len(value) > MAX_LENGTHS[target]:
            return f"{column}: longer than {MAX_LENGTHS[target]} characters."
        if target == "phone":
            try:
                value = phone_normalize_fast(value)
            except ValidationError as exc:
                return f"{column}: {exc.messages[0]}"
        elif target == "email" and not EMAIL_RE.match(value):
            # A shape check, not Django's full validator: that one costs more than the rest of the row together.
            return f"{column}: {value!r} is not an email address."
        elif target == "timezone" and value not in _timezones():
            return f"{column}: {value!r} is not a time zone name (use e.g. Europe/London)."
        elif target == "whatsapp_consent":
            consent = CONSENT_WORDS.get(value.lower())
            if consent is None:
                return f"{column}: {value!r} is not a consent; use subscribed, unsubscribed or untracked."
            value = consent
        elif target == "is_test_profile":
            flag = BOOL_WORDS.get(value.lower())
            if flag is None:
                return f"{column}: {value!r} is not true or false."
            row.fields[target] = flag
            continue
        row.fields[target] = value
    if not row.fields.get("phone") and not row.fields.get("external_id"):
        return "The row has neither a phone nor an external id, so it matches no contact."
    return None


@dataclass
class Existing:
    id: int
    external_id: str | None
    phone: str
    consent: str
    last_import_id: int | None


def _existing(externals: set[str], phones: set[str]) -> Iterable[tuple[Any, ...]]:
    """Contacts holding any of these external ids or phones: (id, external_id, phone, consent, last_import_id)."""
    if connection.vendor == "postgresql":
        # Two array parameters instead of thousands of placeholders: far less SQL to build and parse per batch.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, external_id, phone, whatsapp_consent, last_import_id FROM {Contact._meta.db_table}"  # noqa: S608
                " WHERE external_id = ANY(%s) OR phone = ANY(%s)",
                [list(externals), list(phones)],
            )
            return cursor.fetchall()
    return Contact.objects.filter(Q(external_id__in=externals) | Q(phone__in=phones)).values_list(
        "id", "external_id", "phone", "whatsapp_consent", "last_import_id"
    )


def _resolve(job: ContactImport, rows: list[Row], outcome: BatchOutcome) -> tuple[list[Row], list[Row]]:
    """Split valid rows into (new, updates), refusing conflicts and duplicates; one query for the whole batch."""
    externals = {r.fields["external_id"] for r in rows if r.fields.get("external_id")}
    phones = {r.fields["phone"] for r in rows if r.fields.get("phone")}
    by_ext: dict[str, Existing] = {}
    by_phone: dict[str, Existing] = {}
    if externals or phones:
        for values in _existing(externals, phones):
            existing = Existing(*values)
            if existing.external_id:
                by_ext[existing.external_id] = existing
            by_phone[existing.phone] = existing
    new: list[Row] = []
    updates: list[Row] = []
    seen_ext: dict[str, int] = {}
    seen_phone: dict[str, tuple[int, str | None]] = {}
    seen_target: dict[int, int] = {}
    for row in rows:
        ext, phone = row.fields.get("external_id"), row.fields.get("phone")
        if ext and ext in seen_ext:
            outcome.refuse(job, row, "skipped", f"Duplicate: external id {ext} already appears on row {seen_ext[ext]}.")
            continue
        if phone and phone in seen_phone:
            first_row, first_ext = seen_phone[phone]
            if not ext or ext == first_ext:
                outcome.refuse(job, row, "skipped", f"Duplicate: phone {phone} already appears on row {first_row}.")
            else:
                outcome.refuse(job, row, "invalid", f"Phone {phone} is already used on row {first_row}.")
            continue
        target = by_ext.get(ext) if ext else None
        owner = by_phone.get(phone) if phone else None
        if target is None and owner is not None:
            if ext and owner.external_id and owner.external_id != ext:
                outcome.refuse(
                    job, row, "invalid", f"Phone {phone} belongs to the contact with external id {owner.external_id}."
                )
                continue
            target = owner
        elif target is not None and owner is not None and owner.id != target.id:
            outcome.refuse(job, row, "invalid", f"Phone {phone} belongs to another contact (id {owner.id}).")
            continue
        if target is None and not phone:
            outcome.refuse(job, row, "invalid", f"No contact has external id {ext}, and a new contact needs a phone.")
            continue
        if target is not None and (target.last_import_id == job.pk or target.id in seen_target):
            earlier = f"row {seen_target[target.id]}" if target.id in seen_target else "an earlier row"
            outcome.refuse(job, row, "skipped", f"Duplicate: this contact already appears on {earlier} of the file.")
            continue
        if ext:
            seen_ext[ext] = row.number
        if phone:
            seen_phone[phone] = (row.number, ext)
        consent = row.fields.get("whatsapp_consent")
        if target is None:
            row.consent_changed = consent is not None and consent != Consent.UNTRACKED
            new.append(row)
        else:
            seen_target[target.id] = row.number
            row.contact_id = target.id
            row.consent_changed = consent is not None and consent != target.consent
            updates.append(row)
    return new, updates


def _write_portable(job: ContactImport, new: list[Row], updates: list[Row], now: datetime) -> tuple[int, int]:
    """Apply a resolved batch with the ORM's bulk operations (SQLite and any other database)."""
    created = Contact.objects.bulk_create(
        [
            Contact(
                **row.fields,
                properties=row.properties,
                consent_source="import" if row.consent_changed else "",
                consent_changed_at=now if row.consent_changed else None,
                last_import=job,
            )
            for row in new
        ],
        batch_size=500,
    )
    changed = Contact.objects.in_bulk([row.contact_id for row in updates]) if updates else {}
    touched: set[str] = {"properties", "last_import", "updated_at"}
    for row in updates:
        contact = changed[row.contact_id]
        for name, value in row.fields.items():
            setattr(contact, name, value)
            touched.add(name)
        contact.properties = {**(contact.properties or {}), **row.properties}
        contact.last_import, contact.updated_at = job, now
        if row.consent_changed:
            contact.consent_source, contact.consent_changed_at = "import", now
            touched |= {"consent_source", "consent_changed_at"}
    if changed:
        Contact.objects.bulk_update(list(changed.values()), sorted(touched), batch_size=500)
    history = [
        ConsentChange(contact=contact, consent=row.fields["whatsapp_consent"], source="import", changed_at=now)
        for row, contact in zip(new, created, strict=True)
        if row.consent_changed
    ] + [
        ConsentChange(
            contact_id=int(row.contact_id or 0), consent=row.fields["whatsapp_consent"], source="import", changed_at=now
        )
        for row in updates
        if row.consent_changed
    ]
    ConsentChange.objects.bulk_create(history, batch_size=500)
    return len(created), len(changed)


STAGE_COLUMNS = (
    "contact_id",
    "external_id",
    "phone",
    "name",
    "email",
    "timezone",
    "language",
    "consent",
    "consent_changed",
    "is_test",
    "properties",
)


def _write_postgresql(job: ContactImport, new: list[Row], updates: list[Row], now: datetime) -> tuple[int, int]:
    """Apply a resolved batch with COPY into a temporary table and two set-based statements."""
    # Table names come from the models, never from input; every value travels as a parameter.
    contact_table = Contact._meta.db_table
    history_table = ConsentChange._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS contact_import_stage (contact_id bigint, external_id text, phone text,"
            " name text, email text, timezone text, language text, consent text, consent_changed boolean,"
            " is_test boolean, properties jsonb) ON COMMIT DELETE ROWS"
        )
        # Emptied at commit anyway; emptied here too for batches that share one outer transaction.
        cursor.execute("TRUNCATE contact_import_stage")
        raw = cursor.cursor  # psycopg 3's own cursor: COPY streams the batch in one round trip
        with raw.copy(f"COPY contact_import_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
            for row in (*new, *updates):
                f = row.fields
                copy.write_row(
                    (
                        row.contact_id,
                        f.get("external_id"),
                        f.get("phone"),
                        f.get("name"),
                        f.get("email"),
                        f.get("timezone"),
                        f.get("language"),
                        f.get("whatsapp_consent"),
                        row.consent_changed,
                        f.get("is_test_profile"),
                        json.dumps(row.properties) if row.properties else None,
                    )
                )
        cursor.execute(
            f"INSERT INTO {contact_table} (external_id, phone, name, email, timezone, language, properties,"  # noqa: S608
            " whatsapp_consent, consent_source, consent_changed_at, is_test_profile, last_import_id, created_at,"
            " updated_at)"
            " SELECT external_id, phone, coalesce(name, ''), coalesce(email, ''), coalesce(timezone, ''),"
            " coalesce(language, ''), coalesce(properties, '{}'::jsonb), coalesce(consent, 'untracked'),"
            " CASE WHEN consent_changed THEN 'import' ELSE '' END, CASE WHEN consent_changed THEN %s END,"
            " coalesce(is_test, false), %s, %s, %s FROM contact_import_stage WHERE contact_id IS NULL",
            [now, job.pk, now, now],
        )
        created = cursor.rowcount
        cursor.execute(
            f"UPDATE {contact_table} c SET external_id = coalesce(s.external_id, c.external_id),"  # noqa: S608
            " phone = coalesce(s.phone, c.phone), name = coalesce(s.name, c.name),"
            " email = coalesce(s.email, c.email), timezone = coalesce(s.timezone, c.timezone),"
            " language = coalesce(s.language, c.language),"
            " properties = c.properties || coalesce(s.properties, '{}'::jsonb),"
            " whatsapp_consent = coalesce(s.consent, c.whatsapp_consent),"
            " consent_source = CASE WHEN s.consent_changed THEN 'import' ELSE c.consent_source END,"
            " consent_changed_at = CASE WHEN s.consent_changed THEN %s ELSE c.consent_changed_at END,"
            " is_test_profile = coalesce(s.is_test, c.is_test_profile), last_import_id = %s, updated_at = %s"
            " FROM contact_import_stage s WHERE s.contact_id = c.id",
            [now, job.pk, now],
        )
        updated = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {history_table} (contact_id, consent, source, changed_at)"  # noqa: S608
            " SELECT c.id, s.consent, 'import', %s FROM contact_import_stage s"
            f" JOIN {contact_table} c ON c.id = s.contact_id WHERE s.consent_changed"
            " UNION ALL SELECT c.id, s.consent, 'import', %s FROM contact_import_stage s"
            f" JOIN {contact_table} c ON c.phone = s.phone WHERE s.contact_id IS NULL AND s.consent_changed",
            [now, now],
        )
    return created, updated


def _apply_rows_one_by_one(job: ContactImport, new: list[Row], updates: list[Row], outcome: BatchOutcome) -> None:
    """Fallback when a batch collides with contacts written meanwhile: each row alone, each failure reported."""
    now = timezone.now()
    for row in (*new, *updates):
        try:
            with transaction.atomic():
                created, updated = _write_portable(
                    job, [row] if row.contact_id is None else [], [row] if row.contact_id else [], now
                )
        except IntegrityError:
            outcome.refuse(
                job, row, "invalid", "Its phone or external id was taken by another contact meanwhile; import it again."
            )
            continue
        outcome.created += created
        outcome.updated += updated


def _write_batch(job: ContactImport, rows: list[Row], outcome: BatchOutcome) -> None:
    new, updates = _resolve(job, rows, outcome)
    writer = _write_postgresql if connection.vendor == "postgresql" else _write_portable
    try:
        with transaction.atomic():
            created, updated = writer(job, new, updates, timezone.now())
    except IntegrityError:
        logger.info("Import %s: a batch collided with concurrent writes; applying it row by row", job.pk)
        _apply_rows_one_by_one(job, new, updates, outcome)
        return
    outcome.created += created
    outcome.updated += updated


def _rows(path: Path, columns: list[str], counter: list[int]) -> Iterator[Row | tuple[int, str, dict[str, str]]]:
    """Data rows with their line numbers; a row that cannot be read at all comes as (line, reason, values)."""
    width = len(columns)
    with path.open("rb") as handle:
        lines = _decoded_lines(handle, counter)
        reader = csv.reader(lines)
        next(reader, None)  # the header, read and checked before the job started
        start = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield (start, f"The row cannot be read as CSV: {exc}.", {})
                start = reader.line_num + 1
                continue
            number, start = start, reader.line_num + 1
            row = Row(number=number, cells=cells, columns=columns)
            if not any(cell.strip() for cell in cells):
                continue
            if any("\ufffd" in cell for cell in cells):
                yield (
                    number,
                    "The row is not valid UTF-8; save the file as 'CSV UTF-8' and import it again.",
                    row.values,
                )
            elif len(cells) > width:
                yield (number, f"The row has {len(cells)} cells but the header names {width} columns.", row.values)
            else:
                yield row


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
        return _fail(job, str(exc) if isinstance(exc, FileRefused) else "The uploaded file is no longer there.")
    already = job.rows_processed
    counter = [0]
    seen = 0
    rows: list[Row] = []
    outcome = BatchOutcome()
    plan = mapping_compile(job.mapping, columns)
    for item in _rows(path, columns, counter):
        seen += 1
        if seen <= already:
            continue  # applied by an earlier attempt of this task, committed with its progress
        if isinstance(item, tuple):
            number, reason, values = item
            outcome.errors.append(
                ContactImportError(contact_import=job, row_number=number, kind="invalid", message=reason, values=values)
            )
        else:
            problem = _row_fields(item, plan)
            if problem:
                outcome.refuse(job, item, "invalid", problem)
            else:
                rows.append(item)
        if len(rows) + len(outcome.errors) >= batch_size():
            _commit(job, rows, outcome, seen, counter[0])
            rows, outcome = [], BatchOutcome()
    _commit(job, rows, outcome, seen, counter[0], final=True)
    path.unlink(missing_ok=True)
    job.refresh_from_db()
    return job


def _commit(
    job: ContactImport, rows: list[Row], outcome: BatchOutcome, seen: int, bytes_read: int, final: bool = False
) -> None:
    with transaction.atomic():
        if rows:
            _write_batch(job, rows, outcome)
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


def import_errors_rows(job: ContactImport) -> Iterable[list[str]]:
    """The per-row errors as CSV rows: line, kind, reason, then the row's original cells."""
    yield ["row", "kind", "error", *job.columns]
    for error in job.row_errors.order_by("row_number", "id").iterator(chunk_size=2000):
        yield [str(error.row_number), error.kind, error.message, *(error.values.get(c, "") for c in job.columns)]
