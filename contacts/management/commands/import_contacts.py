from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.models import ImportStatus
from contacts.services import contact_import_create, contact_import_run, contact_import_start


class Command(BaseCommand):
    help = (
        "Import contacts from a UTF-8 CSV file, streamed in batches: insert or update by external id or phone. "
        "Refused rows are listed at the end (and downloadable from the import's page)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the CSV file; the first line names the columns.")
        parser.add_argument(
            "--mapping",
            default="",
            help='JSON object CSV column → field, e.g. \'{"Mobile": "phone", "Tier": "properties.tier"}\'; '
            "columns left out are guessed from their names.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            mapping = json.loads(options["mapping"]) if options["mapping"] else {}
        except ValueError:
            raise CommandError("--mapping is not valid JSON.") from None
        if not isinstance(mapping, dict):
            raise CommandError("--mapping must be a JSON object: CSV column → field.")
        try:
            with path.open("rb") as handle:
                job = contact_import_create(upload=File(handle, name=path.name), user=None)
            job = contact_import_start(contact_import=job, mapping={**job.mapping, **mapping}, enqueue=False)
        except ValidationError as exc:
            messages = [f"{k}: {m}" for k, ms in exc.message_dict.items() for m in ms]
            raise CommandError("\n".join(messages)) from None
        job = contact_import_run(contact_import=job)
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.error)
        self.stdout.write(
            f"Import #{job.pk}: {job.created_count} created, {job.updated_count} updated, "
            f"{job.skipped_count} skipped, {job.invalid_count} invalid."
        )
        for error in job.row_errors.all()[:20]:
            self.stdout.write(f"  row {error.row_number}: {error.message}")
        if job.skipped_count + job.invalid_count > 20:
            self.stdout.write(f"  … see /contacts/imports/{job.pk}/ for all of them.")
