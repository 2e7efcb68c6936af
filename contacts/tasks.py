"""Background work for contacts, run by the django-q2 worker."""

from __future__ import annotations

from contacts.models import ContactImport
from contacts.services import contact_import_run


def contact_import_task(contact_import_id: int) -> None:
    """Run (or resume after a crash) one CSV import."""
    job = ContactImport.objects.filter(pk=contact_import_id).first()
    if job is not None:
        contact_import_run(contact_import=job)
