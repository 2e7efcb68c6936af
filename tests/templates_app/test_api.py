from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from templates_app.models import Template

from .conftest import RecordingSend
from .factories import contact_make, provider_make, template_data, template_make

pytestmark = pytest.mark.django_db
URL = "/api/v1/templates/"


def post(client: APIClient, url: str, data: Any) -> Any:
    return client.post(url, data, format="json")


def test_marketer_creates_a_template(marketer_api: APIClient) -> None:
    provider = provider_make(whatsapp_namespace="")
    data = template_data(header_type="image", header_media_url="https://x.io/a.png")
    response = post(marketer_api, URL, {**data, "provider": provider.pk, "whatsapp_namespace": "ns_1"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["variables"] == ["header", "1", "2"]
    assert "whatsapp_namespace" not in body
    provider.refresh_from_db()
    assert provider.whatsapp_namespace == "ns_1"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"body": "x" * 1025}, "body"),
        ({"body": "Hi {{2}}"}, "body"),
        ({"footer": "y" * 61}, "footer"),
        ({"header_type": "text", "header_text": "{{1}} {{2}}"}, "header_text"),
        ({"language": "klingon"}, "language"),
        ({"buttons": [{"type": "url", "text": "Go", "url": "nope"}]}, "buttons"),
        ({"buttons": "abc"}, "buttons"),
        ({"header_type": "location", "header_location": [1, 2]}, "header_location"),
        ({"status": "live"}, "status"),
    ],
)
def test_invalid_templates_are_400_with_the_field_named(
    marketer_api: APIClient, overrides: dict[str, Any], field: str
) -> None:
    provider = provider_make()
    response = post(marketer_api, URL, {**template_data(**overrides), "provider": provider.pk})
    assert response.status_code == 400
    assert field in response.json()


def test_first_template_without_namespace_is_400(marketer_api: APIClient) -> None:
    provider = provider_make(whatsapp_namespace="")
    response = post(marketer_api, URL, {**template_data(), "provider": provider.pk})
    assert response.status_code == 400
    assert "no WhatsApp namespace" in response.json()["whatsapp_namespace"][0]


def test_duplicate_name_and_language_is_400_on_name(marketer_api: APIClient) -> None:
    existing = template_make(name="spring_sale")
    response = post(marketer_api, URL, {**template_data(), "provider": existing.provider.pk})
    assert response.status_code == 400
    assert "once per language in each provider config" in response.json()["name"][0]


def test_update_checks_the_rules_against_the_stored_values(marketer_api: APIClient) -> None:
    template = template_make(header_type="text", header_text="Hi")
    response = marketer_api.patch(f"{URL}{template.pk}/", {"header_text": "x" * 61}, format="json")
    assert response.status_code == 400 and "header_text" in response.json()
    response = marketer_api.patch(f"{URL}{template.pk}/", {"status": "rejected"}, format="json")
    assert response.status_code == 200, response.json()
    template.refresh_from_db()
    assert template.status == "rejected"


def test_list_filters_by_provider_status_language_and_category(marketer_api: APIClient) -> None:
    wanted = template_make(status="approved", language="pt_BR", category="utility")
    template_make(status="pending", provider=wanted.provider)
    template_make(status="approved", language="pt_BR", category="utility")
    query = f"?provider={wanted.provider.pk}&status=approved&language=pt_BR&category=utility"
    body = marketer_api.get(URL + query).json()
    assert body["count"] == 1 and body["results"][0]["id"] == wanted.pk


def test_delete(marketer_api: APIClient) -> None:
    template = template_make()
    assert marketer_api.delete(f"{URL}{template.pk}/").status_code == 204
    assert not Template.objects.exists()


def test_test_send_to_a_number_and_contacts(marketer_api: APIClient, fake_send: RecordingSend) -> None:
    template = template_make(status="pending")
    profile = contact_make(is_test_profile=True)
    response = post(
        marketer_api,
        f"{URL}{template.pk}/test-send/",
        {"to": "+447700900444", "contacts": [profile.pk], "parameters": {"1": "Ann", "2": "X"}},
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [(r["to"], r["contact"], r["ok"], r["status_code"]) for r in results] == [
        (profile.phone, profile.pk, True, 202),
        ("+447700900444", None, True, 202),
    ]
    assert results[0]["body"] == {"message_uuid": "uuid-1"}
    assert response.json()["preview"] == "Hi Ann, your code is X."


def test_test_send_takes_numbers_written_with_spaces(marketer_api: APIClient, fake_send: RecordingSend) -> None:
    template = template_make(body="Hi")
    response = post(marketer_api, f"{URL}{template.pk}/test-send/", {"to": "+44 7700 900444, +44 7700 900445"})
    assert response.status_code == 200, response.json()
    assert [r["to"] for r in response.json()["results"]] == ["+447700900444", "+447700900445"]
    listed = post(marketer_api, f"{URL}{template.pk}/test-send/", {"to": ["+44 7700 900446"]})
    assert [r["to"] for r in listed.json()["results"]] == ["+447700900446"]


def test_test_send_shows_refusals(marketer_api: APIClient, fake_send: RecordingSend) -> None:
    template = template_make(body="Hi")
    fake_send.refuse["+447700900444"] = "The contact opted out."
    response = post(marketer_api, f"{URL}{template.pk}/test-send/", {"to": "+447700900444"})
    assert response.status_code == 200
    assert response.json()["results"][0] | {"body": None} == {
        "to": "+447700900444",
        "contact": None,
        "ok": False,
        "status_code": None,
        "body": None,
        "error": "The contact opted out.",
        "message": None,
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "+447700900444", "parameters": {"1": "Ann"}}, "parameters"),
        ({"to": "not a number", "parameters": {"1": "a", "2": "b"}}, "to"),
        ({"contacts": [999999], "parameters": {"1": "a", "2": "b"}}, "contacts"),
        ({"parameters": {"1": "a", "2": "b"}}, "to"),
        ({"to": "+447700900444", "parameters": "Ann"}, "parameters"),
        ({"to": {"x": 1}}, "to"),
    ],
)
def test_test_send_bad_input_is_400(
    marketer_api: APIClient, fake_send: RecordingSend, payload: dict[str, Any], field: str
) -> None:
    template = template_make()
    response = post(marketer_api, f"{URL}{template.pk}/test-send/", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert fake_send.calls == []


def test_export_and_import(marketer_api: APIClient) -> None:
    source = template_make(name="welcome")
    exported = marketer_api.get(f"{URL}export/?provider={source.provider.pk}").json()
    assert [row["name"] for row in exported["templates"]] == ["welcome"]
    target = provider_make()
    response = post(marketer_api, f"{URL}import/", {"provider": target.pk, "templates": exported["templates"]})
    assert response.status_code == 201 and response.json() == {"created": 1, "updated": 0}
    bad = post(marketer_api, f"{URL}import/", {"provider": target.pk, "templates": [template_data(body="")]})
    assert bad.status_code == 400 and "templates" in bad.json()
    assert marketer_api.get(f"{URL}export/").status_code == 400


def test_outsiders_are_refused(outsider_api: APIClient, fake_send: RecordingSend) -> None:
    template = template_make()
    assert outsider_api.get(URL).status_code == 403
    assert post(outsider_api, URL, template_data()).status_code == 403
    assert post(outsider_api, f"{URL}{template.pk}/test-send/", {"to": "+447700900444"}).status_code == 403
    assert fake_send.calls == []


def test_staff_may_use_templates(staff_api: APIClient) -> None:
    template_make()
    assert staff_api.get(URL).json()["count"] == 1
