"""Uploaded audience lists: a CSV of phone numbers and/or external ids resolved to existing contacts.

The file is read as a stream, BATCH rows at a time: each batch is matched with two indexed queries (external ids,
normalised phones) and its members inserted in bulk, so a 100k-row list never sits in memory whole. Rows that match
nobody are counted and the first few kept with their reason; none is dropped without a word. The whole upload is one
transaction: a file refused half-way leaves nothing behind.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from campaigns.models import AudienceList, AudienceListMember
from contacts.importing import ALIASES, column_slug
from contacts.models import Contact
from contacts.phones import phone_normalize_fast
from whatsapp_project.csv_cells import cell_unguard

BATCH = 5000
INSERT_ROWS = 5000  # two parameters a row, well under the 65,535 a PostgreSQL statement takes
PROBLEMS_KEPT = 20
HEAD_BYTES = 64 * 1024
PHONE, EXTERNAL_ID = "phone", "external_id"


def max_bytes() -> int:
    """Largest upload accepted (setting AUDIENCE_LIST_MAX_BYTES; 100 MB holds several million numbers)."""
    return int(getattr(settings, "AUDIENCE_LIST_MAX_BYTES", 100 * 1024 * 1024))


@dataclass
class _Row:
    line: int
    value: str  # what the report shows
    external_id: str = ""
    phone: str = ""  # E.164 when the cell is a valid number
    phone_error: str = ""


@dataclass
class _Report:
    rows: int = 0
    matched_rows: int = 0
    unmatched: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, row: _Row, reason: str) -> None:
        self.unmatched += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append({"line": row.line, "value": row.value[:100], "reason": reason})


def _head_check(handle: IO[bytes]) -> None:
    """Refuse what is plainly not a CSV text file before reading it row by row."""
    head = handle.read(HEAD_BYTES)
    handle.seek(0)
    if not head.strip():
        raise ValidationError("The file is empty: put one phone number or external id per row.", code="empty")
    if b"\x00" in head:
        raise ValidationError(
            "This is not a CSV text file (a spreadsheet?): save it as 'CSV UTF-8' and upload it again.", code="binary"
        )
    try:
        # Incremental, so a multi-byte character cut at the end of the head is not mistaken for bad input.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        raise ValidationError(
            "The file is not UTF-8 text: save it as 'CSV UTF-8' and upload it again.", code="encoding"
        ) from None


def _columns(first: list[str]) -> dict[str, int] | None:
    """The header's phone / external id columns, or None when the first row is data (no recognised name)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(first):
        slug = column_slug(cell)
        for kind in (PHONE, EXTERNAL_ID):
            if slug in ALIASES[kind] and kind not in found:
                found[kind] = index
    return found or None


def _phone(row: _Row, raw: str) -> None:
    try:
        row.phone = phone_normalize_fast(raw)
    except ValidationError as exc:
        row.phone_error = exc.messages[0]


def _rows(handle: IO[bytes]) -> Iterator[_Row]:
    """Each data row as the values to match, in file order; raises ValidationError for a file that has no shape."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", errors="replace", newline="")
    try:
        reader = csv.reader(text)
        columns: dict[str, int] | None = None
        first = True
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield _Row(line=reader.line_num, value="", phone_error=f"The row cannot be read as CSV: {exc}.")
                continue
            cells = [cell_unguard(cell.strip()) for cell in cells]  # our exports guard formula-like cells
            if not any(cells):
                continue
            line = reader.line_num
            if first:
                first = False
                columns = _columns(cells)
                if columns is not None:
                    continue
                if sum(1 for cell in cells if cell) > 1:
                    raise ValidationError(
                        "The file has several columns but no header naming them: add a first row with 'phone' "
                        "and/or 'external_id' above the values.",
                        code="no_header",
                    )
            row = _Row(line=line, value=", ".join(cell for cell in cells if cell))
            if "\x00" in row.value:
                # Past the head check a NUL can still turn up; PostgreSQL text cannot hold it, so neither may the
                # report: the row is listed with U+FFFD in its place.
                row.value = row.value.replace("\x00", "\ufffd")
                row.phone_error = "The row contains a NUL character, which no phone number or external id holds."
            elif "\ufffd" in row.value:
                row.phone_error = "The row is not valid UTF-8 text."
            elif columns is None:
                # One value per row, no header: it may be either; the external id is tried first, then the number.
                row.external_id = row.value
                _phone(row, row.value)
            else:
                external_at, phone_at = columns.get(EXTERNAL_ID), columns.get(PHONE)
                if external_at is not None and external_at < len(cells):
                    row.external_id = cells[external_at]
                if phone_at is not None and phone_at < len(cells) and cells[phone_at]:
                    _phone(row, cells[phone_at])
                if not row.external_id and not row.phone and not row.phone_error:
                    row.phone_error = "The row has neither a phone number nor an external id."
            yield row
    finally:
        # The caller owns the file; the text layer must not close it.
        text.detach()


def _match(audience_list: AudienceList, batch: list[_Row], report: _Report) -> None:
    externals = {row.external_id for row in batch if row.external_id}
    phones = {row.phone for row in batch if row.phone}
    by_external = dict(Contact.objects.filter(external_id__in=externals).values_list("external_id", "id"))
    by_phone = dict(Contact.objects.filter(phone__in=phones).values_list("phone", "id"))
    members: list[tuple[int, int]] = []
    for row in batch:
        contact_id = by_external.get(row.external_id) or by_phone.get(row.phone)
        if contact_id is not None:
            report.matched_rows += 1
            members.append((audience_list.pk, contact_id))
        elif row.phone_error and not row.external_id:
            report.refuse(row, row.phone_error)
        elif row.phone_error:
            report.refuse(row, f"No contact has this external id, and as a phone number: {row.phone_error}")
        else:
            report.refuse(row, "No contact has this phone number or external id.")
    # The unique (list, contact) pair absorbs a contact named twice; the difference is reported as duplicates.
    # Multi-row INSERTs of plain tuples: a model instance per member made bulk_create most of an upload's time, and
    # executemany still paid one statement per row.
    table = connection.ops.quote_name(AudienceListMember._meta.db_table)  # our own table name, not input
    with connection.cursor() as cursor:
        for at in range(0, len(members), INSERT_ROWS):
            chunk = members[at : at + INSERT_ROWS]
            values = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (audience_list_id, contact_id) VALUES {values} ON CONFLICT DO NOTHING",  # noqa: S608
                [value for pair in chunk for value in pair],
            )


def audience_list_upload(*, handle: IO[bytes], name: str, size: int | None = None, user: Any = None) -> AudienceList:
    """Read an uploaded CSV into a new AudienceList; ValidationError (one message) when the file cannot be used.

    `handle` is the binary upload, read once from the start. A file that matches no contact at all is refused with
    the first reasons, since a campaign to nobody is never what was meant.
    """
    if size is not None and size > max_bytes():
        raise ValidationError(
            f"The file is {size // (1024 * 1024)} MB; lists up to {max_bytes() // (1024 * 1024)} MB are accepted.",
            code="too_large",
        )
    _head_check(handle)
    report = _Report()
    with transaction.atomic():
        audience_list = AudienceList.objects.create(
            name=(name or "list.csv")[:255], created_by=user if getattr(user, "pk", None) else None
        )
        batch: list[_Row] = []
        for row in _rows(handle):
            report.rows += 1
            batch.append(row)
            if len(batch) >= BATCH:
                _match(audience_list, batch, report)
                batch = []
        if batch:
            _match(audience_list, batch, report)
        if report.rows == 0:
            raise ValidationError("The file has a header but no rows: add one phone number or external id per row.")
        matched = audience_list.members.count()
        if matched == 0:
            reasons = "; ".join(f"line {p['line']} ({p['value']}): {p['reason']}" for p in report.problems[:3])
            raise ValidationError(
                f"None of the {report.rows} rows matches a contact. First rows: {reasons}", code="no_match"
            )
        audience_list.rows = report.rows
        audience_list.matched = matched
        audience_list.duplicates = report.matched_rows - matched
        audience_list.unmatched = report.unmatched
        audience_list.problems = report.problems
        audience_list.save(update_fields=["rows", "matched", "duplicates", "unmatched", "problems"])
    return audience_list
