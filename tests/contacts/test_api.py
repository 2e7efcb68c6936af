from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from contacts.models import Consent, ConsentChange, Contact, Event
from contacts.signals import event_recorded
from tests.contacts.factories import ContactFactory, SegmentFactory

pytestmark = pytest.mark.django_db


def test_contacts_crud_normalises_phone_and_records_consent_history(marketer_api: APIClient) -> None:
    created = marketer_api.post(
        "/api/v1/contacts/",
        {"phone": "447700900001", "name": "Ann", "properties": {"plan": "gold"}, "whatsapp_consent": "subscribed"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["phone"] == "+447700900001" and body["whatsapp_consent"] == "subscribed"
    assert {"id", "external_id", "timezone", "language", "is_test_profile", "last_inbound_at"} <= set(body)
    changed = marketer_api.patch(f"/api/v1/contacts/{body['id']}/", {"whatsapp_consent": "unsubscribed"}, format="json")
    assert changed.status_code == 200
    assert list(ConsentChange.objects.values_list("consent", "source")) == [
        ("unsubscribed", "api"),
        ("subscribed", "api"),
    ]
    listed = marketer_api.get("/api/v1/contacts/?whatsapp_consent=unsubscribed&search=Ann").json()
    assert listed["count"] == 1 and set(listed) == {"count", "next", "previous", "results"}
    assert marketer_api.delete(f"/api/v1/contacts/{body['id']}/").status_code == 204


def test_contact_validation_errors_are_per_field(marketer_api: APIClient) -> None:
    ContactFactory(phone="+447700900001")
    response = marketer_api.post(
        "/api/v1/contacts/",
        {"phone": "+447700900001", "timezone": "Mars/Base", "properties": [1], "whatsapp_consent": "maybe"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"phone", "timezone", "properties", "whatsapp_consent"}
    assert marketer_api.post("/api/v1/contacts/", {"phone": "12"}, format="json").status_code == 400


def test_outsiders_cannot_use_the_contacts_api(outsider_api: APIClient) -> None:
    assert outsider_api.get("/api/v1/contacts/").status_code == 403
    assert outsider_api.post("/api/v1/events/", {"events": []}, format="json").status_code == 403


def test_event_batch_reports_every_row_and_keeps_the_good_ones(marketer_api: APIClient) -> None:
    ContactFactory(external_id="c-1", phone="+447700900001")
    received: list[dict[str, Any]] = []

    def listener(**kwargs: Any) -> None:
        received.append(kwargs)

    event_recorded.connect(listener)
    try:
        payload = {
            "events": [
                {"external_id": "c-1", "name": "purchase", "properties": {"total": 30}, "event_id": "e-1"},
                {"external_id": "nobody", "name": "purchase"},
                {"phone": "+447700900002", "name": "signup", "occurred_at": "2024-05-01T10:00:00Z"},
                {"phone": "not a phone", "name": "signup"},
                {"external_id": "c-1"},
                "junk",
                {"external_id": "c-1", "name": "purchase", "event_id": "e-1"},
            ]
        }
        response = marketer_api.post("/api/v1/events/", payload, format="json")
    finally:
        event_recorded.disconnect(listener)
    assert response.status_code == 200
    body = response.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "rejected", "rejected", "rejected", "rejected", "rejected", "duplicate"]
    assert "No contact with external id nobody" in body["results"][1]["errors"]["external_id"][0]
    assert "phone" in body["results"][3]["errors"]
    assert "name" in body["results"][4]["errors"]
    assert (body["created"], body["duplicate"], body["rejected"]) == (1, 1, 5)
    assert Event.objects.count() == 1
    assert received == []  # inside the test's transaction, nothing has committed yet


def test_event_batch_creates_unknown_contacts_and_retries_are_harmless(
    marketer_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    received: list[dict[str, Any]] = []

    def listener(**kwargs: Any) -> None:
        received.append(kwargs)

    event_recorded.connect(listener)
    payload = {
        "create_contacts": True,
        "events": [{"phone": "+447700900002", "external_id": "new-1", "name": "signup", "event_id": "s-1"}],
    }
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = marketer_api.post("/api/v1/events/", payload, format="json").json()
        with django_capture_on_commit_callbacks(execute=True):
            again = marketer_api.post("/api/v1/events/", payload, format="json").json()
    finally:
        event_recorded.disconnect(listener)
    assert first["results"][0]["status"] == "created"
    assert again["results"][0] == {"index": 0, "status": "duplicate", "id": first["results"][0]["id"]}
    assert Contact.objects.get(external_id="new-1").phone == "+447700900002"
    assert len(received) == 1
    assert received[0]["event"].name == "signup" and received[0]["created_contact"] is True


def test_event_batch_shape_errors_are_400(marketer_api: APIClient) -> None:
    assert marketer_api.post("/api/v1/events/", [], format="json").status_code == 400
    assert marketer_api.post("/api/v1/events/", {"events": "x"}, format="json").status_code == 400
    too_many = {"events": [{"phone": "+447700900001", "name": "x"}] * 1001}
    response = marketer_api.post("/api/v1/events/", too_many, format="json")
    assert response.status_code == 400 and "events" in response.json()


def test_segments_crud_preview_and_definition_errors(marketer_api: APIClient) -> None:
    ContactFactory(name="Ann", whatsapp_consent=Consent.SUBSCRIBED)
    ContactFactory(name="Bob")
    definition = {
        "match": "all",
        "groups": [{"match": "all", "conditions": [{"type": "consent", "value": "subscribed"}]}],
    }
    created = marketer_api.post("/api/v1/segments/", {"name": "Opted in", "definition": definition}, format="json")
    assert created.status_code == 201, created.json()
    preview = marketer_api.get(f"/api/v1/segments/{created.json()['id']}/preview/").json()
    assert preview["count"] == 1 and preview["sample"][0]["name"] == "Ann"
    bad = marketer_api.post(
        "/api/v1/segments/",
        {"name": "Bad", "definition": {"groups": [{"conditions": [{"type": "consent", "value": "x"}]}]}},
        format="json",
    )
    assert bad.status_code == 400
    assert "groups[0].conditions[0].value" in bad.json()["definition"]
    export = marketer_api.get(f"/api/v1/segments/{created.json()['id']}/export/")
    lines = export.getvalue().decode().splitlines()
    assert lines[0].startswith("id,external_id,phone") and len(lines) == 2


def test_contacts_filter_by_segment_and_export_all(marketer_api: APIClient) -> None:
    ContactFactory(is_test_profile=True, name="Tess")
    ContactFactory(name="Other")
    segment = SegmentFactory.create()
    listed = marketer_api.get(f"/api/v1/contacts/?segment={segment.pk}").json()
    assert [c["name"] for c in listed["results"]] == ["Tess"]
    export = marketer_api.get("/api/v1/contacts/export/")
    assert export["Content-Type"] == "text/csv"
    assert len(export.getvalue().decode().splitlines()) == 3


def test_import_api_uploads_runs_and_reports(
    marketer_api: APIClient, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path
    csv_file = SimpleUploadedFile("c.csv", b"Mobile,Tier\n+447700900001,gold\nbad,silver\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_api.post(
            "/api/v1/contacts/import/", {"file": csv_file, "mapping": '{"Tier": "properties.tier"}'}
        )
    assert response.status_code == 201, response.json()
    job = marketer_api.get(f"/api/v1/contacts/import/{response.json()['id']}/").json()
    assert job["status"] == "completed" and job["progress_percent"] == 100
    assert (job["created_count"], job["invalid_count"]) == (1, 1)
    errors = marketer_api.get(job["errors_url"])
    text = errors.getvalue().decode()
    assert text.splitlines()[1].startswith("3,invalid,")
    latin = SimpleUploadedFile("l.csv", "Téléphone\n+447700900001\n".encode("latin-1"))
    refused = marketer_api.post("/api/v1/contacts/import/", {"file": latin})
    assert refused.status_code == 400 and "not UTF-8" in refused.json()["file"][0]
    no_key = SimpleUploadedFile("n.csv", b"name\nAnn\n")
    refused = marketer_api.post("/api/v1/contacts/import/", {"file": no_key})
    assert refused.status_code == 400 and "mapping" in refused.json()
    assert marketer_api.post("/api/v1/contacts/import/", {}).status_code == 400


def test_import_api_takes_a_default_country_for_national_numbers(
    marketer_api: APIClient, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path
    csv_file = SimpleUploadedFile("uk.csv", b"Mobile\n07700 900001\n", content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_api.post("/api/v1/contacts/import/", {"file": csv_file, "default_country": "GB"})
    assert response.status_code == 201, response.json()
    assert response.json()["default_country"] == "GB"
    assert Contact.objects.get().phone == "+447700900001"
    wrong = SimpleUploadedFile("uk.csv", b"Mobile\n07700 900001\n", content_type="text/csv")
    refused = marketer_api.post("/api/v1/contacts/import/", {"file": wrong, "default_country": "Narnia"})
    assert refused.status_code == 400 and "default_country" in refused.json()


def test_an_event_batch_is_stored_with_a_few_statements_whatever_its_size(
    marketer_api: APIClient, django_assert_max_num_queries: Any
) -> None:
    phones = [f"+4477009{n:05d}" for n in range(300)]
    Contact.objects.bulk_create(Contact(phone=phone) for phone in phones)
    events = [{"phone": phone, "name": "signup", "event_id": f"b-{phone}"} for phone in phones]
    # Authentication and the batch's lookups; an insert and a commit per event would be hundreds.
    with django_assert_max_num_queries(25):
        answer = marketer_api.post("/api/v1/events/", {"events": events}, format="json")
    assert answer.status_code == 200
    assert [row["status"] for row in answer.json()["results"]] == ["created"] * 300
    assert Event.objects.filter(name="signup").count() == 300


def test_an_event_stored_meanwhile_by_a_concurrent_twin_is_a_duplicate_and_the_rest_are_stored() -> None:
    from django.utils import timezone

    from contacts.services import EventInput, _events_insert

    ann, bob = Contact.objects.create(phone="+447700900031"), Contact.objects.create(phone="+447700900032")
    now = timezone.now()
    items = [
        (EventInput(index=0, name="signup", properties={}, occurred_at=now, event_id="twin", external_id=None,
                    phone=ann.phone), ann),
        (EventInput(index=1, name="signup", properties={}, occurred_at=now, event_id="solo", external_id=None,
                    phone=bob.phone), bob),
    ]  # fmt: skip
    twin = Event.objects.create(contact=ann, name="signup", occurred_at=now, event_id="twin")  # after the lookup

    stored = _events_insert(items)

    assert [(event.pk == twin.pk, made) for event, made in stored] == [(True, False), (False, True)]
    assert Event.objects.filter(event_id="solo", contact=bob).exists()
