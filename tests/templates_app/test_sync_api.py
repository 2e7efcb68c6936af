"""`POST /api/v1/providers/{id}/templates-sync/`, `POST /api/v1/templates/{id}/submit/` and the provider's waba_id."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from templates_app.models import Template
from templates_app.sync import SCHEDULE_NAME
from tests.providers.factories import provider_make
from tests.templates_app.vonage_fake import WABA, FakeVonage, problem, remote

pytestmark = pytest.mark.django_db


def test_sync_answers_what_changed(marketer_api: APIClient, vonage_fake: FakeVonage) -> None:
    provider = provider_make(waba_id=WABA)
    vonage_fake.templates = [remote("a"), remote("b", status="REJECTED", rejected_reason="TAG_CONTENT_MISMATCH")]
    answer = marketer_api.post(f"/api/v1/providers/{provider.pk}/templates-sync/")
    assert answer.status_code == 200
    assert answer.json() == {"created": 2, "updated": 0, "unchanged": 0, "removed": 0}
    listed = marketer_api.get("/api/v1/templates/", {"status": "rejected"}).json()["results"]
    assert [(t["name"], t["rejected_reason"]) for t in listed] == [("b", "TAG_CONTENT_MISMATCH")]


def test_sync_without_waba_id_is_400_saying_what_is_missing(marketer_api: APIClient, vonage_fake: FakeVonage) -> None:
    provider = provider_make(waba_id="")
    answer = marketer_api.post(f"/api/v1/providers/{provider.pk}/templates-sync/")
    assert answer.status_code == 400
    assert "WhatsApp Business Account id" in answer.json()["waba_id"][0]


def test_a_vonage_error_during_sync_is_502_and_changes_nothing(
    marketer_api: APIClient, vonage_fake: FakeVonage
) -> None:
    provider = provider_make(waba_id=WABA)
    vonage_fake.fail = lambda request: problem(401)
    answer = marketer_api.post(f"/api/v1/providers/{provider.pk}/templates-sync/")
    assert answer.status_code == 502
    assert "refused the credentials" in answer.json()["detail"]
    assert not Template.objects.exists()


def test_sync_of_an_unknown_provider_is_404(marketer_api: APIClient) -> None:
    assert marketer_api.post("/api/v1/providers/999999/templates-sync/").status_code == 404


def test_submit_makes_a_draft_pending(marketer_api: APIClient, vonage_fake: FakeVonage) -> None:
    provider = provider_make(waba_id=WABA)
    template = Template.objects.create(
        provider=provider, name="spring", language="en_US", status="draft", body="Hi {{1}}"
    )
    answer = marketer_api.post(f"/api/v1/templates/{template.pk}/submit/", {"examples": {"1": "Ann"}}, format="json")
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["external_id"]) == ("pending", "9001")


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "examples"), ({"examples": "Ann"}, "examples"), ({"examples": {"1": ""}}, "examples")],
)
def test_submit_refusals_are_400_by_field(
    marketer_api: APIClient, vonage_fake: FakeVonage, body: dict[str, Any], field: str
) -> None:
    provider = provider_make(waba_id=WABA)
    template = Template.objects.create(
        provider=provider, name="spring", language="en_US", status="draft", body="Hi {{1}}"
    )
    answer = marketer_api.post(f"/api/v1/templates/{template.pk}/submit/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()
    assert vonage_fake.requests == []


def test_status_and_whatsapps_fields_cannot_be_forged(marketer_api: APIClient) -> None:
    template = Template.objects.create(provider=provider_make(), name="t", language="en_US", status="draft", body="Hi")
    marketer_api.patch(
        f"/api/v1/templates/{template.pk}/", {"rejected_reason": "x", "quality_rating": "green"}, format="json"
    )
    template.refresh_from_db()
    assert (template.rejected_reason, template.quality_rating) == ("", "")


def test_the_provider_api_takes_a_waba_id_of_digits(staff_api: APIClient) -> None:
    provider = provider_make()
    bad = staff_api.patch(f"/api/v1/providers/{provider.pk}/", {"waba_id": "abc"}, format="json")
    assert bad.status_code == 400 and "digits" in bad.json()["waba_id"][0]
    from django_q.models import Schedule

    assert not Schedule.objects.filter(name=SCHEDULE_NAME).exists()
    good = staff_api.patch(f"/api/v1/providers/{provider.pk}/", {"waba_id": WABA}, format="json")
    assert good.status_code == 200 and good.json()["waba_id"] == WABA
    # From now on the number's templates are synced periodically.
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1


def test_submit_takes_the_header_example_as_a_multipart_file(marketer_api: APIClient, vonage_fake: FakeVonage) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    provider = provider_make(waba_id=WABA)
    template = Template.objects.create(
        provider=provider, name="hero", language="en_US", status="draft", body="Hi {{1}}", header_type="image"
    )
    upload = SimpleUploadedFile("hero.jpg", b"jpeg-bytes", content_type="image/jpeg")
    answer = marketer_api.post(
        f"/api/v1/templates/{template.pk}/submit/", {"header_file": upload, "examples.1": "Ann"}, format="multipart"
    )
    assert answer.status_code == 200, answer.json()
    assert [r.url.path.rsplit("/", 1)[-1] for r in vonage_fake.requests] == ["uploads", "templates"]


def test_someone_without_a_role_cannot_sync_or_submit(outsider_api: APIClient, vonage_fake: FakeVonage) -> None:
    provider = provider_make(waba_id=WABA)
    template = Template.objects.create(provider=provider, name="t", language="en_US", status="draft", body="Hi")
    assert outsider_api.post(f"/api/v1/providers/{provider.pk}/templates-sync/").status_code == 403
    assert outsider_api.post(f"/api/v1/templates/{template.pk}/submit/", {}, format="json").status_code == 403
    assert vonage_fake.requests == []


def test_sync_now_in_the_ui_shows_what_is_missing_or_what_vonage_said(
    client: Any, marketer_user: Any, vonage_fake: FakeVonage
) -> None:
    client.force_login(marketer_user)
    without = provider_make(waba_id="")
    page = client.post(f"/templates/sync/{without.pk}/", follow=True).content.decode()
    assert "This number has no WhatsApp Business Account id" in page  # the error, not the card
    refused = provider_make(waba_id=WABA)
    vonage_fake.fail = lambda request: problem(500)
    page = client.post(f"/templates/sync/{refused.pk}/", follow=True).content.decode()
    assert "Vonage answered HTTP 500" in page and "Nothing was changed" in page
    assert client.get(f"/templates/sync/{refused.pk}/").status_code == 405
