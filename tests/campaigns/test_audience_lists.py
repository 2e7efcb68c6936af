"""Uploaded-list audiences: rows matched to contacts, the rest reported, bad files refused, planning from the list."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from campaigns import audience_lists
from campaigns.audience_lists import audience_list_upload
from campaigns.models import AudienceList, AudienceListMember, Campaign, CampaignRecipient, SkipReason
from campaigns.selectors import campaign_audience
from campaigns.services import campaign_plan
from contacts.models import Consent
from tests.campaigns.factories import VARIABLES, campaign_make, setup_provider
from tests.providers.factories import contact_make

pytestmark = pytest.mark.django_db


def _upload(text: str | bytes, name: str = "list.csv") -> AudienceList:
    raw = text.encode() if isinstance(text, str) else text
    return audience_list_upload(handle=io.BytesIO(raw), name=name, size=len(raw))


def test_headerless_rows_match_by_external_id_or_normalised_phone_and_the_rest_is_reported() -> None:
    ann = contact_make(phone="+447700900001")
    bob = contact_make(phone="+447700900002", external_id="crm-42")
    cat = contact_make(phone="+14155550100")
    contact_make(phone="+447700900099")  # not in the file
    text = "\ufeff+44 7700 900001\ncrm-42\n\n14155550100\n447700900001\nnot-a-number\n+447700900555\n"

    result = _upload(text)

    assert set(result.members.values_list("contact_id", flat=True)) == {ann.pk, bob.pk, cat.pk}
    assert (result.rows, result.matched, result.duplicates, result.unmatched) == (6, 3, 1, 2)
    by_line = {p["line"]: p for p in result.problems}
    assert by_line[6]["value"] == "not-a-number" and "not a phone number" in by_line[6]["reason"]
    assert by_line[7]["reason"] == "No contact has this phone number or external id."


def test_a_header_names_the_columns_and_external_id_wins_over_phone() -> None:
    ann = contact_make(phone="+447700900001", external_id="A-1")
    bob = contact_make(phone="+447700900002")
    text = "Mobile,Customer ID,Tier\n+447700900002,A-1,gold\n+447700900002,,silver\n,,bronze\n"

    result = _upload(text)

    assert set(result.members.values_list("contact_id", flat=True)) == {ann.pk, bob.pk}
    assert result.unmatched == 1
    assert result.problems[0]["line"] == 4
    assert "neither a phone number nor an external id" in result.problems[0]["reason"]


def test_large_lists_are_matched_batch_by_batch_with_repeats_across_batches(monkeypatch: Any) -> None:
    monkeypatch.setattr(audience_lists, "BATCH", 3)
    contacts = [contact_make(phone=f"+4477009{n:05d}") for n in range(7)]
    rows = [c.phone for c in contacts] + [contacts[0].phone, "+447700988888"]

    result = _upload("phone\n" + "\n".join(rows))

    assert result.members.count() == 7
    assert (result.rows, result.matched, result.duplicates, result.unmatched) == (9, 7, 1, 1)


def test_only_the_first_problems_are_kept_but_every_one_is_counted(monkeypatch: Any) -> None:
    monkeypatch.setattr(audience_lists, "PROBLEMS_KEPT", 2)
    contact_make(phone="+447700900001")
    result = _upload("+447700900001\nx1\nx2\nx3\n")
    assert result.unmatched == 3 and [p["value"] for p in result.problems] == ["x1", "x2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"PK\x03\x04\x00\x00binary", "not a CSV text file"),
        ("phone\n+447700900001\n".encode("utf-16"), "not a CSV text file"),
        (b"phone\n\xff\xfe\xfa+44770090\n", "not UTF-8"),
        (b"phone\n", "no rows"),
        (b"+447700900001,Ann\n+447700900002,Bob\n", "no header"),
        (b"+447700900777\nnobody\n", "None of the 2 rows matches a contact"),
    ],
)
def test_unusable_files_are_refused_with_a_reason_and_leave_nothing(content: bytes, message: str) -> None:
    contact_make(phone="+447700900001")
    with pytest.raises(ValidationError) as caught:
        _upload(content)
    assert message in caught.value.messages[0]
    assert not AudienceList.objects.exists() and not AudienceListMember.objects.exists()


def test_oversized_upload_is_refused_before_reading(settings: Any) -> None:
    settings.AUDIENCE_LIST_MAX_BYTES = 10
    with pytest.raises(ValidationError, match="MB"):
        audience_list_upload(handle=io.BytesIO(b"+447700900001\n" * 2), name="x.csv", size=50 * 1024 * 1024)


def test_planning_targets_the_list_members_and_skips_the_unsubscribed_with_a_reason() -> None:
    provider, template = setup_provider()
    yes = contact_make(phone="+447700900001", whatsapp_consent=Consent.SUBSCRIBED)
    no = contact_make(phone="+447700900002", whatsapp_consent=Consent.UNSUBSCRIBED)
    contact_make(phone="+447700900003", whatsapp_consent=Consent.SUBSCRIBED)  # subscribed, not on the list
    listed = _upload(f"{yes.phone}\n{no.phone}\n{yes.phone}\n")
    campaign = campaign_make(provider=provider, template=template, audience="uploaded_list", audience_list=listed)

    assert sorted(campaign_audience(campaign=campaign).values_list("id", flat=True)) == sorted([yes.pk, no.pk])
    campaign_plan(campaign=campaign)

    rows = {r.contact_id: r for r in CampaignRecipient.objects.filter(campaign=campaign)}
    assert set(rows) == {yes.pk, no.pk}
    assert rows[yes.pk].state == "planned"
    assert rows[no.pk].skip_reason == SkipReason.OPTED_OUT


def test_an_uploaded_list_audience_needs_a_list() -> None:
    provider, template = setup_provider()
    with pytest.raises(ValidationError) as caught:
        campaign_make(provider=provider, template=template, audience="uploaded_list")
    assert "audience_list" in caught.value.message_dict


# --- API -------------------------------------------------------------------------------------------------------


def _multipart(provider: Any, template: Any, content: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Listed",
        "provider": provider.pk,
        "template": template.pk,
        "variables": json.dumps(VARIABLES),
        "audience_file": SimpleUploadedFile("vip.csv", content, content_type="text/csv"),
        **extra,
    }


def test_api_creates_a_campaign_from_an_uploaded_file_and_reports_unmatched_rows(marketer_api: Any) -> None:
    provider, template = setup_provider()
    ann = contact_make(phone="+447700900001")
    response = marketer_api.post(
        "/api/v1/campaigns/", _multipart(provider, template, b"phone\n+447700900001\n+447700900999\n")
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["audience"] == "uploaded_list" and "audience_file" not in body
    upload = body["audience_upload"]
    assert (upload["name"], upload["matched"], upload["unmatched"]) == ("vip.csv", 1, 1)
    assert upload["problems"][0]["value"] == "+447700900999"
    campaign = Campaign.objects.get(pk=body["id"])
    assert list(campaign_audience(campaign=campaign).values_list("id", flat=True)) == [ann.pk]

    # Another campaign reuses the same list by id, over JSON.
    again = marketer_api.post(
        "/api/v1/campaigns/",
        {"name": "Again", "provider": provider.pk, "template": template.pk, "variables": VARIABLES,
         "audience_list": upload["id"]},
        format="json",
    )  # fmt: skip
    assert again.status_code == 201 and again.json()["audience"] == "uploaded_list"


def test_api_refuses_a_bad_file_or_a_missing_list_with_field_messages(marketer_api: Any) -> None:
    provider, template = setup_provider()
    contact_make(phone="+447700900001")
    bad = marketer_api.post("/api/v1/campaigns/", _multipart(provider, template, b"\x00\x01binary"))
    assert bad.status_code == 400 and "audience_file" in bad.json()
    nobody = marketer_api.post("/api/v1/campaigns/", _multipart(provider, template, b"+447700900777\n"))
    assert nobody.status_code == 400 and "matches a contact" in nobody.json()["audience_file"][0]
    mixed = marketer_api.post(
        "/api/v1/campaigns/", _multipart(provider, template, b"+447700900001\n", audience="all_subscribed")
    )
    assert mixed.status_code == 400 and "audience_file" in mixed.json()
    missing = marketer_api.post(
        "/api/v1/campaigns/",
        {"name": "x", "provider": provider.pk, "template": template.pk, "variables": VARIABLES,
         "audience": "uploaded_list"},
        format="json",
    )  # fmt: skip
    assert missing.status_code == 400 and "audience_list" in missing.json()
    # A list read for a campaign that is then refused is not kept.
    invalid = marketer_api.post(
        "/api/v1/campaigns/", _multipart(provider, template, b"+447700900001\n", throttle_per_second=5000)
    )
    assert invalid.status_code == 400 and "throttle_per_second" in invalid.json()
    assert not AudienceList.objects.exists()


def test_openapi_schema_documents_the_upload_field(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    request_props = components["CampaignRequest"]["properties"]
    assert request_props["audience_file"]["format"] == "binary"
    assert "audience_upload" in components["Campaign"]["properties"]
    operation = schema["paths"]["/api/v1/campaigns/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in operation


# --- wizard and admin -----------------------------------------------------------------------------------------


def test_wizard_reads_the_list_on_step_one_and_shows_what_matched(client: Client, marketer_user: Any) -> None:
    _, template = setup_provider()
    ann = contact_make(phone="+447700900001")
    client.force_login(marketer_user)
    step1 = {"name": "VIP", "template": template.pk, "audience": "uploaded_list"}

    refused = client.post("/campaigns/new/", {**step1, "audience_file": SimpleUploadedFile("a.csv", b"")})
    assert refused.status_code == 200 and "file is empty" in refused.content.decode()
    missing = client.post("/campaigns/new/", step1)
    assert missing.status_code == 200 and "Choose the CSV file" in missing.content.decode()

    upload = SimpleUploadedFile("vip.csv", b"+447700900001\nnobody\n", content_type="text/csv")
    response = client.post("/campaigns/new/", {**step1, "audience_file": upload})
    assert response.status_code == 302
    listed = AudienceList.objects.get()
    assert f"audience_list={listed.pk}" in response["Location"]

    details = client.get(response["Location"])
    page = details.content.decode()
    assert "vip.csv" in page and "nobody" in page and "is not a phone number" in page
    form = {"var_1_source": "property", "var_1_name": "name", "var_2_source": "value", "var_2_name": "X"}
    saved = client.post(
        response["Location"], {**form, "throttle_per_second": 80, "quiet_action": "delay", "control_group_percent": 0,
                               "conversion_window_hours": 72},
    )  # fmt: skip
    assert saved.status_code == 302, saved.content.decode()[:2000]
    campaign = Campaign.objects.get(name="VIP")
    assert campaign.audience_list == listed
    assert list(campaign_audience(campaign=campaign).values_list("id", flat=True)) == [ann.pk]
    assert "vip.csv" in client.get(f"/campaigns/{campaign.pk}/").content.decode()


def test_admin_shows_lists_and_the_campaign_using_one(client: Client, staff_user: Any) -> None:
    provider, template = setup_provider()
    contact_make(phone="+447700900001")
    listed = _upload("+447700900001\nnobody\n", name="admin.csv")
    campaign = campaign_make(provider=provider, template=template, audience="uploaded_list", audience_list=listed)
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    assert "admin.csv" in client.get("/admin/campaigns/audiencelist/").content.decode()
    detail = client.get(f"/admin/campaigns/audiencelist/{listed.pk}/change/").content.decode()
    assert "nobody" in detail
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").status_code == 200
