from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from contacts.models import Consent, ContactImport, Segment
from tests.contacts.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_in(client: Client, marketer_user: Any) -> Client:
    client.force_login(marketer_user)
    return client


def test_contact_list_searches_filters_and_paginates(client_in: Client) -> None:
    ContactFactory(name="Zed Findme", whatsapp_consent=Consent.SUBSCRIBED)
    ContactFactory.create_batch(55)
    page = client_in.get("/contacts/?q=findme").content.decode()
    assert "Zed Findme" in page and "1 contact" in page
    assert "Page 1 of 2" in client_in.get("/contacts/").content.decode()
    assert "Zed Findme" not in client_in.get("/contacts/?consent=unsubscribed").content.decode()


def test_profile_shows_properties_consent_history_events_and_registered_sections(client_in: Client) -> None:
    contact = ContactFactory.create(properties={"plan": "gold"})
    EventFactory(contact=contact, name="signup")
    from contacts.services import contact_consent_set

    contact_consent_set(contact=contact, consent=Consent.SUBSCRIBED, source="ui")
    page = client_in.get(f"/contacts/{contact.pk}/").content.decode()
    assert "gold" in page and "signup" in page and "via ui" in page and 'id="profile-messages"' in page


def edit_data(**extra: str) -> dict[str, str]:
    data = {
        "name": "Ann",
        "email": "",
        "whatsapp_consent": "untracked",
        "consent_reason": "",
        "props-TOTAL_FORMS": "1",
        "props-INITIAL_FORMS": "0",
        "props-0-key": "",
        "props-0-value": "",
    }
    return data | extra


def test_editing_a_contact_writes_consent_history_through_the_one_service(client_in: Client) -> None:
    contact = ContactFactory.create(properties={"score": 7, "tags": ["a"]})
    response = client_in.post(
        f"/contacts/{contact.pk}/edit/",
        edit_data(
            **{
                "whatsapp_consent": "subscribed",
                "consent_reason": "Signed the form at the shop",
                "props-TOTAL_FORMS": "3",
                "props-0-key": "score",
                "props-0-value": "7",
                "props-1-key": "tags",
                "props-1-value": '["a"]',
                "props-2-key": "plan",
                "props-2-value": "gold",
            }
        ),
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.properties == {"score": 7, "tags": ["a"], "plan": "gold"}
    assert contact.whatsapp_consent == Consent.SUBSCRIBED and contact.consent_source == "ui"
    change = contact.consent_changes.get()
    assert (change.source, change.reason) == ("ui", "Signed the form at the shop")
    # An emptied row removes its property; the same consent again writes no history.
    client_in.post(
        f"/contacts/{contact.pk}/edit/",
        edit_data(**{"whatsapp_consent": "subscribed", "props-0-key": "plan", "props-0-value": "gold"}),
    )
    contact.refresh_from_db()
    assert contact.properties == {"plan": "gold"} and contact.consent_changes.count() == 1


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"email": "not an email"}, "email"),
        ({"whatsapp_consent": "subscribed"}, "consent_reason"),
        ({"whatsapp_consent": "maybe"}, "whatsapp_consent"),
        ({"props-0-key": "bad{key}", "props-0-value": "x"}, None),
        ({"props-TOTAL_FORMS": "x"}, None),
    ],
)
def test_bad_contact_edits_are_form_errors(client_in: Client, extra: dict[str, str], field: str | None) -> None:
    contact = ContactFactory.create(name="Before")
    response = client_in.post(f"/contacts/{contact.pk}/edit/", edit_data(**extra))
    assert response.status_code == 200
    if field:
        assert field in response.context["form"].errors
    contact.refresh_from_db()
    assert contact.name == "Before"


def test_outsider_cannot_see_contacts(client: Client, outsider_user: Any) -> None:
    client.force_login(outsider_user)
    assert client.get("/contacts/").status_code == 403
    assert client.get("/segments/").status_code == 403


def test_upload_map_and_import_through_the_pages(
    client_in: Client, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path
    csv_file = SimpleUploadedFile("people.csv", b"Mobile,Tier\n+447700900001,gold\nnope,silver\n")
    response = client_in.post("/contacts/imports/new/", {"file": csv_file})
    job = ContactImport.objects.get()
    assert response["Location"] == f"/contacts/imports/{job.pk}/"
    mapping = client_in.get(response["Location"]).content.decode()
    assert "Start import" in mapping
    with django_capture_on_commit_callbacks(execute=True):
        client_in.post(f"/contacts/imports/{job.pk}/", {"col_0": "phone", "col_1": "properties.tier"})
    status = client_in.get(f"/contacts/imports/{job.pk}/status/").json()
    assert status["finished"] and status["progress_percent"] == 100
    assert (status["created"], status["invalid"]) == (1, 1)
    errors = client_in.get(f"/contacts/imports/{job.pk}/errors.csv").getvalue().decode()
    assert errors.splitlines()[1].startswith("3,invalid,")
    summary = client_in.get(f"/contacts/imports/{job.pk}/").context["refused"]
    assert summary == [
        {
            "row_number": 3,
            "kind": "invalid",
            "message": "Mobile: 'nope' is not a phone number; use the international format, e.g. +447700900001.",
            "cells": [("Mobile", "nope"), ("Tier", "silver")],
        }
    ]


def test_upload_form_shows_file_level_errors(client_in: Client, settings: Any, tmp_path: Path) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path
    latin = SimpleUploadedFile("l.csv", "Téléphone\n+447700900001\n".encode("latin-1"))
    page = client_in.post("/contacts/imports/new/", {"file": latin}).content.decode()
    assert "not UTF-8" in page and ContactImport.objects.count() == 0


def builder_data(**extra: str) -> dict[str, str]:
    data = {
        "name": "Gold",
        "match": "all",
        "groups-TOTAL_FORMS": "1",
        "groups-INITIAL_FORMS": "0",
        "groups-0-match": "all",
        "conditions-TOTAL_FORMS": "1",
        "conditions-INITIAL_FORMS": "0",
        "conditions-0-group": "1",
        "conditions-0-type": "property",
        "conditions-0-key": "plan",
        "conditions-0-property_op": "eq",
        "conditions-0-value": "gold",
        "conditions-0-min_count": "1",
    }
    return data | extra


def test_segment_builder_saves_a_definition_and_previews_live(client_in: Client) -> None:
    ContactFactory(properties={"plan": "gold"})
    ContactFactory(properties={"plan": "free"})
    preview = client_in.post("/segments/preview/", builder_data()).json()
    assert preview["valid"] and preview["count"] == 1
    response = client_in.post("/segments/new/", builder_data(action="save"))
    segment = Segment.objects.get()
    assert response["Location"] == f"/segments/{segment.pk}/"
    assert segment.definition["groups"][0]["conditions"][0] == {
        "type": "property",
        "key": "plan",
        "op": "eq",
        "value": "gold",
    }
    edit = client_in.get(f"/segments/{segment.pk}/edit/").content.decode()
    assert 'value="gold"' in edit


def test_segment_builder_adds_forms_and_shows_field_errors(client_in: Client) -> None:
    response = client_in.post("/segments/new/", builder_data(action="add_condition:1", name=""))
    assert len(response.context["builder"].conditions.forms) == 2
    assert 'value="remove_condition:1"' in response.content.decode()
    assert "This field is required" not in response.content.decode()  # nothing submitted yet: no errors
    page = client_in.post("/segments/new/", builder_data(action="save", **{"conditions-0-key": ""})).content.decode()
    assert "Name the property" in page and Segment.objects.count() == 0
    bad = client_in.post("/segments/preview/", builder_data(**{"conditions-0-type": "event"})).json()
    assert not bad["valid"] and any("Name the event" in e for e in bad["errors"])


def test_removing_a_group_drops_its_conditions_and_renumbers_the_rest(client_in: Client) -> None:
    data = builder_data(
        **{
            "groups-TOTAL_FORMS": "3",
            "groups-1-match": "any",
            "groups-2-match": "all",
            "conditions-TOTAL_FORMS": "3",
            "conditions-1-group": "2",
            "conditions-1-type": "test_profile",
            "conditions-1-test_profile": "true",
            "conditions-2-group": "3",
            "conditions-2-type": "consent",
            "conditions-2-consent": "eq",
            "conditions-2-consent_value": "subscribed",
        }
    )
    response = client_in.post("/segments/new/", data | {"action": "remove_group:2"})
    builder = response.context["builder"]
    assert [form["match"].value() for form in builder.groups.forms] == ["all", "all"]
    assert [(form["group"].value(), form["type"].value()) for form in builder.conditions.forms] == [
        ("1", "property"),
        ("2", "consent"),
    ]
    saved = client_in.post("/segments/new/", {**builder.conditions.data, "action": "save"})
    assert saved.status_code == 302
    assert [len(g["conditions"]) for g in Segment.objects.get().definition["groups"]] == [1, 1]


@pytest.mark.parametrize("action", ["remove_condition:99", "remove_group:x", "add_condition:-1", "remove_group:1"])
def test_odd_builder_actions_never_fail(client_in: Client, action: str) -> None:
    response = client_in.post("/segments/new/", builder_data(action=action, **{"groups-TOTAL_FORMS": "zz"}))
    assert response.status_code == 200


def test_profile_shows_structured_property_values_as_json(client_in: Client) -> None:
    contact = ContactFactory.create(properties={"tags": ["vip", "spring"], "vip": True})
    page = client_in.get(f"/contacts/{contact.pk}/").content.decode()
    assert "[&quot;vip&quot;, &quot;spring&quot;]" in page and "<dd>true</dd>" in page
