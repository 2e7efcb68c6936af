from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from contacts import importing
from contacts.models import Consent, ConsentChange, Contact, ContactImport, ImportStatus
from contacts.phones import phone_normalize, phone_normalize_fast
from contacts.services import contact_import_create, contact_import_run, contact_import_start
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _import_dir(settings: Any, tmp_path: Path) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"


def upload(content: bytes, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def run(content: bytes, mapping: dict[str, str] | None = None) -> ContactImport:
    job = contact_import_create(upload=upload(content), user=None)
    job = contact_import_start(contact_import=job, mapping=mapping)
    return contact_import_run(contact_import=job)


def errors(job: ContactImport) -> dict[int, str]:
    return {e.row_number: e.message for e in job.row_errors.all()}


def test_import_creates_and_updates_by_external_id_or_phone_and_merges_properties() -> None:
    known = ContactFactory.create(
        external_id="c-1", phone="+447700900001", properties={"plan": "free", "city": "Leeds"}
    )
    by_phone = ContactFactory.create(phone="+447700900002", name="Old name")
    job = run(
        b"Customer ID,Mobile,Name,Plan,consent\n"
        b"c-1,+447700900001,Ann,gold,yes\n"
        b",447700900002,Bob,,\n"
        b"c-3,+44 7700 900003,Cy,silver,no\n"
    )
    assert job.status == ImportStatus.COMPLETED
    assert (job.created_count, job.updated_count, job.skipped_count, job.invalid_count) == (1, 2, 0, 0)
    known.refresh_from_db()
    assert known.name == "Ann" and known.properties == {"plan": "gold", "city": "Leeds"}
    assert known.whatsapp_consent == Consent.SUBSCRIBED
    by_phone.refresh_from_db()
    assert by_phone.name == "Bob" and by_phone.properties == {}
    new = Contact.objects.get(external_id="c-3")
    assert new.phone == "+447700900003" and new.whatsapp_consent == Consent.UNSUBSCRIBED
    assert ConsentChange.objects.filter(source="import").count() == 2
    assert job.progress_percent == 100


def test_bad_rows_are_reported_one_by_one_and_the_good_rows_are_kept() -> None:
    job = run(
        b"external_id,phone,email\n"
        b"a,+447700900001,a@example.com\n"
        b"b,12,b@example.com\n"  # invalid phone
        b"a,+447700900009,\n"  # duplicate id within the file
        b"c,+447700900001,\n"  # phone already used on row 2
        b"d,+447700900004,not-an-email\n"
        b"e,+447700900005,e@example.com,extra\n"  # more cells than columns
        b",,\n"  # blank row: ignored
        b"f,\xe9\xe9,\n"  # not UTF-8
        b"g,+447700900007,\n"
    )
    assert (job.created_count, job.skipped_count, job.invalid_count) == (2, 1, 5)
    assert set(Contact.objects.values_list("external_id", flat=True)) == {"a", "g"}
    found = errors(job)
    assert "wrong number of digits" in found[3] or "not a phone number" in found[3]
    assert found[4] == "Duplicate: external id a already appears on row 2."
    assert found[5] == "Phone +447700900001 is already used on row 2."
    assert "not an email address" in found[6]
    assert "4 cells" in found[7]
    assert "not valid UTF-8" in found[9]
    lines = list(importing.import_errors_rows(job))
    assert lines[0] == ["row", "kind", "error", "external_id", "phone", "email"]
    assert lines[2][:3] == ["4", "skipped", "Duplicate: external id a already appears on row 2."]


def test_duplicates_across_batches_are_skipped(settings: Any) -> None:
    settings.CONTACT_IMPORT_BATCH_SIZE = 2
    job = run(b"phone\n+447700900001\n+447700900002\n+447700900003\n+447700900001\n")
    assert (job.created_count, job.skipped_count) == (3, 1)
    assert "already appears on an earlier row" in errors(job)[5]


def test_a_file_that_is_not_utf8_is_refused_with_a_clear_message() -> None:
    with pytest.raises(Exception) as caught:
        contact_import_create(upload=upload("téléphone\n+447700900001\n".encode("latin-1")), user=None)
    assert "not UTF-8" in str(caught.value)


def test_missing_columns_and_oversized_files_are_refused(settings: Any) -> None:
    job = contact_import_create(upload=upload(b"name,plan\nAnn,gold\n"), user=None)
    with pytest.raises(Exception) as caught:
        contact_import_start(contact_import=job, mapping={"name": "name", "plan": "properties.plan"})
    assert "Map a column to phone or external_id" in str(caught.value)
    with pytest.raises(Exception) as caught:
        contact_import_start(contact_import=job, mapping={"mobile": "phone"})
    assert "no column 'mobile'" in str(caught.value)
    settings.CONTACT_IMPORT_MAX_BYTES = 10
    with pytest.raises(Exception) as caught:
        contact_import_create(upload=upload(b"phone\n+447700900001\n"), user=None)
    assert "limit" in str(caught.value)


def test_a_large_batch_with_one_known_contact_among_new_ones_updates_it_and_creates_the_rest() -> None:
    # Most rows are new, so the batch is first tried as all-new; the known contact (row 3) is not in the rows
    # sampled to decide that, so the attempt is refused by the unique index and the batch is matched instead.
    known = ContactFactory.create(external_id="k", phone="+447700900001", name="Old", properties={"city": "Leeds"})
    lines = [b"external_id,phone,name,plan,consent", b"n0,+447700910000,N0,gold,yes", b"k,+447700900001,Kim,silver,no"]
    lines += [b"n%d,+4477009%05d,N%d,free," % (n, 10000 + n, n) for n in range(1, 100)]
    job = run(b"\n".join(lines) + b"\n")
    assert (job.created_count, job.updated_count, job.skipped_count, job.invalid_count) == (100, 1, 0, 0)
    known.refresh_from_db()
    assert (known.name, known.properties, known.whatsapp_consent) == (
        "Kim",
        {"city": "Leeds", "plan": "silver"},
        Consent.UNSUBSCRIBED,
    )
    assert Contact.objects.count() == 101
    assert Contact.objects.get(external_id="n7").properties == {"plan": "free"}
    assert set(ConsentChange.objects.values_list("contact__external_id", "consent")) == {
        ("n0", Consent.SUBSCRIBED),
        ("k", Consent.UNSUBSCRIBED),
    }


def test_names_and_property_values_are_stored_exactly_as_written() -> None:
    text = 'Zoë "Z" \\ O\'Neil\t😀'
    cell = '"' + text.replace('"', '""') + '"'
    job = run(f"phone,name,note,tier\n+447700900001,{cell},{cell},\n".encode())
    assert job.created_count == 1
    contact = Contact.objects.get(phone="+447700900001")
    assert contact.name == text
    assert contact.properties == {"note": text}


def test_a_retried_task_resumes_after_the_last_committed_batch(settings: Any) -> None:
    settings.CONTACT_IMPORT_BATCH_SIZE = 1
    job = contact_import_create(upload=upload(b"phone\n+447700900001\n+447700900002\n"), user=None)
    job = contact_import_start(contact_import=job)
    # As if a worker had committed the first row and then died.
    Contact.objects.create(phone="+447700900001", last_import=job)
    ContactImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, rows_processed=1, created_count=1)
    job = contact_import_run(contact_import=job)
    assert (job.created_count, job.skipped_count, job.invalid_count) == (2, 0, 0)
    assert Contact.objects.count() == 2


def test_management_command_imports_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"Mobile,Tier\n+447700900001,gold\n+447700900002,\n")
    call_command("import_contacts", str(path), "--mapping", '{"Tier": "properties.tier"}')
    out = capsys.readouterr().out
    assert "2 created, 0 updated, 0 skipped, 0 invalid" in out
    assert Contact.objects.get(phone="+447700900001").properties == {"tier": "gold"}
    with pytest.raises(CommandError, match="not UTF-8"):
        bad = tmp_path / "bad.csv"
        bad.write_bytes("Mobile,Stadt\n+447700900003,München\n".encode("cp1252").replace(b"Mobile", b"M\xf6bile"))
        call_command("import_contacts", str(bad))


def test_rows_sharing_a_key_are_resolved_in_file_order_against_existing_contacts() -> None:
    # Row 2's phone belongs to contact x, so it is refused; row 3 (also that phone) then updates x; row 4 is new.
    ContactFactory.create(external_id="x", phone="+447700900001", name="Old")
    job = run(b"external_id,phone,name\na,+447700900001,Ann\nx,+447700900001,Xavier\nc,+447700900003,Cy\n")
    assert (job.created_count, job.updated_count, job.skipped_count, job.invalid_count) == (1, 1, 0, 1)
    assert errors(job) == {2: "Phone +447700900001 belongs to the contact with external id x."}
    assert Contact.objects.get(external_id="x").name == "Xavier"
    assert Contact.objects.get(external_id="c").phone == "+447700900003"


def test_phone_shortcut_gives_the_same_answer_as_the_full_parse() -> None:
    samples = [
        "+447700900001",
        "447700900002",
        "+44 7700 900003",
        "+1 (202) 555-0100",
        "+390612345678",
        "+4407700900001",
        "12",
        "+4477009000011111",
        "٣٣٣٣٣٣٣٣",
        "+86 138 0013 8000",
        "+8613800138000",
    ]
    for raw in samples:
        try:
            expected: str | None = phone_normalize(raw)
        except ValidationError:
            expected = None
        try:
            fast: str | None = phone_normalize_fast(raw)
        except ValidationError:
            fast = None
        assert fast == expected, raw


@pytest.mark.django_db(transaction=True)
def test_batches_written_on_their_own_connection_keep_counts_duplicates_and_consent_history(settings: Any) -> None:
    # Outside a transaction PostgreSQL writes batches on a second connection while the next batch is parsed.
    settings.CONTACT_IMPORT_BATCH_SIZE = 2
    job = run(
        b"id,phone,consent\n"
        b"a,+447700900001,yes\n"
        b"b,+447700900002,\n"
        b"c,+447700900003,no\n"
        b"a,+447700900001,no\n"  # the same contact again, in a later batch
        b"d,12,\n"
    )
    assert job.status == ImportStatus.COMPLETED
    assert (job.created_count, job.updated_count, job.skipped_count, job.invalid_count) == (3, 0, 1, 1)
    assert "already appears on an earlier row" in errors(job)[5]
    assert Contact.objects.get(external_id="a").whatsapp_consent == Consent.SUBSCRIBED
    assert ConsentChange.objects.filter(source="import").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_failed_batch_stops_the_import_and_a_retry_resumes_after_the_committed_ones(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CONTACT_IMPORT_BATCH_SIZE = 2
    job = contact_import_create(
        upload=upload(b"phone\n+447700900001\n+447700900002\n+447700900003\n+447700900004\n+447700900001\n"), user=None
    )
    job = contact_import_start(contact_import=job, enqueue=False)
    write_batch = importing._write_batch
    calls = []

    def failing_second_batch(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        write_batch(*args)

    monkeypatch.setattr(importing, "_write_batch", failing_second_batch)
    with pytest.raises(RuntimeError, match="database went away"):
        contact_import_run(contact_import=job)
    job.refresh_from_db()
    assert (job.rows_processed, job.created_count) == (2, 2)
    monkeypatch.setattr(importing, "_write_batch", write_batch)
    job = contact_import_run(contact_import=job)
    assert (job.status, job.rows_processed, job.created_count, job.skipped_count) == (
        ImportStatus.COMPLETED,
        5,
        4,
        1,
    )
    assert Contact.objects.count() == 4


def test_a_row_with_a_nul_character_is_reported_and_the_others_are_kept() -> None:
    job = run(b"phone,name\n+447700900001,Ann\n+447700900002,B\x00b\n+447700900003,Cy\n")
    assert (job.created_count, job.invalid_count) == (2, 1)
    assert "NUL character" in errors(job)[3]


def test_a_default_country_imports_national_numbers() -> None:
    content = b"phone,name\n07700 900001,Ann\n+33 6 12 34 56 78,Zoe\n0770,Bad\n"
    job = contact_import_create(upload=upload(content), user=None)
    job = contact_import_start(contact_import=job, default_country="gb")
    assert job.default_country == "GB"
    job = contact_import_run(contact_import=job)
    assert set(Contact.objects.values_list("phone", flat=True)) == {"+447700900001", "+33612345678"}
    assert list(errors(job)) == [4]


def test_without_a_default_country_a_national_number_is_refused_with_a_hint() -> None:
    job = run(b"phone,name\n07700 900001,Ann\n")
    assert "choose the file's default country" in errors(job)[2]
    assert not Contact.objects.exists()


def test_an_unknown_default_country_is_refused() -> None:
    job = contact_import_create(upload=upload(b"phone\n+447700900001\n"), user=None)
    with pytest.raises(ValidationError) as refused:
        contact_import_start(contact_import=job, default_country="XX")
    assert "default_country" in refused.value.message_dict


def test_column_samples_show_the_first_distinct_values_of_each_column() -> None:
    job = contact_import_create(
        upload=upload(b"phone,plan\n+447700900001,gold\n+447700900002,gold\n+447700900003,\n+447700900004,silver\n"),
        user=None,
    )
    assert importing.column_samples(job) == {
        "phone": ["+447700900001", "+447700900002", "+447700900003"],
        "plan": ["gold", "silver"],
    }
