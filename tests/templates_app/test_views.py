from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from templates_app.models import Template

from .conftest import RecordingSend
from .factories import contact_make, provider_make, template_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer_client(client: Client, marketer_user: Any) -> Client:
    client.force_login(marketer_user)
    return client


def form_data(provider_pk: int, **overrides: Any) -> dict[str, Any]:
    data = {
        "provider": provider_pk,
        "name": "spring_sale",
        "language": "en_US",
        "category": "marketing",
        "status": "approved",
        "header_type": "image",
        "header_media_url": "https://x.io/a.png",
        "body": "Hi {{1}}",
        "button_1_type": "quick_reply",
        "button_1_text": "Yes",
        "button_2_type": "quick_reply",
        "button_2_text": "No",
        "button_2_value": "NO",
    }
    data.update(overrides)
    return data


def test_list_shows_templates_filtered(marketer_client: Client) -> None:
    shown = template_make(name="shown_one", status="approved")
    template_make(name="pending_one", status="pending", provider=shown.provider)
    page = marketer_client.get(f"/templates/?provider={shown.provider.pk}&status=approved").content.decode()
    assert "shown_one" in page and "pending_one" not in page
    assert "Send Test" in page and f"Export {shown.provider.nickname}" in page


def test_create_from_the_form_stores_buttons(marketer_client: Client) -> None:
    provider = provider_make()
    response = marketer_client.post("/templates/new/", form_data(provider.pk))
    assert response.status_code == 302
    template = Template.objects.get()
    assert template.buttons == [
        {"type": "quick_reply", "text": "Yes"},
        {"type": "quick_reply", "text": "No", "payload": "NO"},
    ]


def test_form_errors_land_on_the_button_that_is_wrong(marketer_client: Client) -> None:
    provider = provider_make()
    data = form_data(provider.pk, button_2_type="url", button_2_text="x" * 26, button_2_value="https://x.io")
    data.update(button_3_type="quick_reply", button_3_text="Maybe")
    response = marketer_client.post("/templates/new/", data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    # Too long; and a quick reply after a call-to-action that follows a quick reply (not grouped).
    assert "button_2_text" in errors and "button_3_type" in errors
    assert not Template.objects.exists()


def test_form_asks_for_the_namespace_with_the_providers_first_template(marketer_client: Client) -> None:
    provider = provider_make(whatsapp_namespace="")
    response = marketer_client.post("/templates/new/", form_data(provider.pk))
    assert "whatsapp_namespace" in response.context["form"].errors
    response = marketer_client.post("/templates/new/", form_data(provider.pk, whatsapp_namespace="ns_9"))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.whatsapp_namespace == "ns_9"


def test_duplicate_name_is_a_form_error_on_name(marketer_client: Client) -> None:
    existing = template_make(name="spring_sale")
    response = marketer_client.post("/templates/new/", form_data(existing.provider.pk))
    assert "once per language" in response.context["form"].errors["name"][0]


def test_copy_to_another_language(marketer_client: Client) -> None:
    template = template_make(name="welcome")
    response = marketer_client.post(f"/templates/{template.pk}/copy/", {"language": "pt_BR", "name": "welcome"})
    assert response.status_code == 302
    assert Template.objects.filter(name="welcome", language="pt_BR", status="draft").exists()


def test_send_test_page_shows_each_result_with_its_payload(marketer_client: Client, fake_send: RecordingSend) -> None:
    template = template_make()
    profile = contact_make(is_test_profile=True, name="Tess")
    fake_send.refuse["+447700900555"] = "Outside the 24-hour window."
    page = marketer_client.get(f"/templates/{template.pk}/test/").content.decode()
    assert "Tess" in page and "Value for {{2}}" in page

    response = marketer_client.post(
        f"/templates/{template.pk}/test/",
        {"contacts": [profile.pk], "to": "+447700900555", "param_1": "Ann", "param_2": "X"},
    )
    page = response.content.decode()
    assert "Accepted" in page and "uuid-1" in page and "HTTP 202" in page
    assert "Outside the 24-hour window." in page
    assert [call["to"] for call in fake_send.calls] == [profile.phone, "+447700900555"]


def test_send_test_names_the_missing_value(marketer_client: Client, fake_send: RecordingSend) -> None:
    template = template_make()
    response = marketer_client.post(f"/templates/{template.pk}/test/", {"to": "+447700900555", "param_1": "Ann"})
    assert "{{2}}" in response.context["form"].errors["param_2"][0]
    assert fake_send.calls == []


def test_export_and_import_files(marketer_client: Client) -> None:
    source = template_make(name="welcome")
    exported = marketer_client.get(f"/templates/export/?provider={source.provider.pk}")
    assert exported["Content-Disposition"].startswith("attachment")
    target = provider_make()
    upload = SimpleUploadedFile("t.json", exported.content, content_type="application/json")
    response = marketer_client.post("/templates/import/", {"provider": target.pk, "file": upload})
    assert response.status_code == 302
    assert Template.objects.filter(provider=target, name="welcome").exists()
    junk = SimpleUploadedFile("t.json", b"{not json", content_type="application/json")
    response = marketer_client.post("/templates/import/", {"provider": target.pk, "file": junk})
    assert "not a JSON export" in response.context["form"].errors["file"][0]
    bad = json.dumps({"templates": [{"name": "x", "body": ""}]}).encode()
    response = marketer_client.post(
        "/templates/import/", {"provider": target.pk, "file": SimpleUploadedFile("t.json", bad)}
    )
    assert "Template 1 (x" in response.context["form"].errors["file"][0]


def test_outsiders_cannot_see_templates(client: Client, outsider_user: Any) -> None:
    template = template_make()
    client.force_login(outsider_user)
    for url in ("/templates/", "/templates/new/", f"/templates/{template.pk}/test/", f"/templates/{template.pk}/edit/"):
        assert client.get(url).status_code == 403


def test_admin_uses_the_same_rules(client: Client, staff_user: Any) -> None:
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    provider = provider_make()
    data = {
        "provider": provider.pk,
        "name": "adm",
        "language": "en_US",
        "category": "marketing",
        "status": "approved",
        "header_type": "none",
        "body": "Hi {{2}}",
        "buttons": "[]",
        "header_location": "{}",
    }
    response = client.post("/admin/templates_app/template/add/", data)
    assert response.status_code == 200 and "without gaps" in response.content.decode()
    response = client.post("/admin/templates_app/template/add/", {**data, "body": "Hi {{1}}"})
    assert response.status_code == 302
    assert Template.objects.filter(name="adm").exists()


def test_delete_from_the_edit_page(marketer_client: Client) -> None:
    template = template_make()
    assert marketer_client.post(f"/templates/{template.pk}/delete/").status_code == 302
    assert not Template.objects.exists()


def test_send_test_takes_numbers_written_with_spaces(marketer_client: Client, fake_send: RecordingSend) -> None:
    template = template_make(body="Hi")
    response = marketer_client.post(f"/templates/{template.pk}/test/", {"to": "+44 7700 900555, +44 7700 900556"})
    assert response.context["form"].errors == {}
    assert [call["to"] for call in fake_send.calls] == ["+447700900555", "+447700900556"]
