"""Provider screens, API and admin: staff manage, marketers only read, secrets never leave the server."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from providers.models import Message, ProviderConfig
from tests.providers.factories import FakeNexmo, provider_make, rsa_pem, window_open_contact
from tests.vonage_fixtures import load

pytestmark = pytest.mark.django_db
SECRET = "top-secret-signature-0123456789-abcdef"


def _logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(**overrides: Any) -> dict[str, Any]:
    return {
        "phone_number": "+44 7700 900000",
        "application_id": "app-1",
        "private_key": rsa_pem(),
        "nickname": "Main",
        "api_version": "v0.1",
        "auto_reply_enabled": "on",
        "auto_reply_text": "Thanks!",
        "is_active": "on",
        "signature_secret": SECRET,
        **overrides,
    }


def test_staff_adds_a_provider_through_the_form(staff_user: Any) -> None:
    response = _logged_in(staff_user).post("/settings/channels/whatsapp/add/nexmo/", _form())
    provider = ProviderConfig.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/settings/channels/whatsapp/{provider.pk}/"
    assert provider.phone_number == "+447700900000" and provider.private_key_fingerprint
    page = _logged_in(staff_user).get(response["Location"]).content.decode()
    assert provider.inbound_callback_url in page and provider.status_callback_url in page
    assert "payload version 0.1" in page and provider.private_key_fingerprint in page
    assert "PRIVATE KEY" not in page and SECRET not in page


def test_uploaded_key_file_is_accepted(staff_user: Any) -> None:
    upload = io.BytesIO(rsa_pem().encode())
    upload.name = "private.key"
    _logged_in(staff_user).post(
        "/settings/channels/whatsapp/add/nexmo/", _form(private_key="", private_key_file=upload)
    )
    assert ProviderConfig.objects.get().private_key.startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not a key", "whole private key"),
        (rsa_pem(1024, 0), "at least 2048 bits"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not a readable PEM"),
    ],
)
def test_bad_keys_get_a_field_error(staff_user: Any, key: str, message: str) -> None:
    response = _logged_in(staff_user).post("/settings/channels/whatsapp/add/nexmo/", _form(private_key=key))
    assert response.status_code == 200 and message in response.content.decode()
    assert not ProviderConfig.objects.exists()


def test_edit_keeps_the_key_when_left_empty_and_replaces_it_when_given(staff_user: Any) -> None:
    provider = provider_make()
    before = provider.private_key_fingerprint
    client = _logged_in(staff_user)
    client.post(
        f"/settings/channels/whatsapp/{provider.pk}/edit/",
        _form(private_key="", nickname="Renamed", phone_number=provider.phone_number),
    )
    provider.refresh_from_db()
    assert provider.nickname == "Renamed" and provider.private_key_fingerprint == before
    client.post(
        f"/settings/channels/whatsapp/{provider.pk}/edit/",
        _form(private_key=rsa_pem(2048, 1), phone_number=provider.phone_number),
    )
    provider.refresh_from_db()
    assert provider.private_key_fingerprint != before


def test_regenerating_the_token_changes_the_callback_urls(staff_user: Any) -> None:
    provider = provider_make()
    old = provider.status_callback_url
    _logged_in(staff_user).post(f"/settings/channels/whatsapp/{provider.pk}/callback-token/")
    provider.refresh_from_db()
    assert provider.status_callback_url != old


def test_marketer_sees_the_list_without_secrets_but_cannot_create_or_edit(marketer_user: Any) -> None:
    provider = provider_make(signature_secret=SECRET)
    client = _logged_in(marketer_user)
    listing = client.get("/settings/channels/whatsapp/")
    assert listing.status_code == 200 and provider.nickname in listing.content.decode()
    assert provider.callback_token not in listing.content.decode()
    assert client.get("/settings/channels/whatsapp/add/nexmo/").status_code == 403
    assert client.post("/settings/channels/whatsapp/add/nexmo/", _form()).status_code == 403
    assert client.post(f"/settings/channels/whatsapp/{provider.pk}/edit/", _form()).status_code == 403
    assert client.get(f"/settings/channels/whatsapp/{provider.pk}/test/").status_code == 403


def test_test_page_shows_the_wa_me_link_and_the_full_response(staff_user: Any, nexmo: FakeNexmo) -> None:
    provider = provider_make(phone_number="+447700900000")
    contact = window_open_contact(phone="+447700900123")
    client = _logged_in(staff_user)
    assert (
        "https://wa.me/447700900000" in client.get(f"/settings/channels/whatsapp/{provider.pk}/test/").content.decode()
    )
    page = client.post(
        f"/settings/channels/whatsapp/{provider.pk}/test/",
        {"country_code": "+44", "number": "7700900123", "text": "Hi"},
    ).content.decode()
    message = Message.objects.get(contact=contact)
    assert "Sent: Nexmo accepted the message" in page and (message.message_uuid or "-") in page and "202" in page


def test_message_log_filters(marketer_user: Any, nexmo: FakeNexmo) -> None:
    provider = provider_make()
    Message.objects.create(
        provider=provider,
        to="+447700900001",
        status="read",
        client_ref="a",
        origin="campaign",
        content_type="text",
        content_summary="alpha",
    )
    Message.objects.create(
        provider=provider,
        to="+447700900002",
        status="failed",
        client_ref="b",
        origin="test",
        content_type="text",
        content_summary="beta",
    )
    client = _logged_in(marketer_user)
    page = client.get("/messages/", {"status": "read"}).content.decode()
    assert "alpha" in page and "beta" not in page
    page = client.get("/messages/", {"q": "900002"}).content.decode()
    assert "beta" in page and "alpha" not in page


def test_api_secrets_are_write_only_and_marketers_read_only(staff_api: Any, marketer_api: Any) -> None:
    payload = {
        "nickname": "Main",
        "phone_number": "+447700900000",
        "application_id": "app",
        "private_key": rsa_pem(),
        "signature_secret": SECRET,
    }
    created = staff_api.post("/api/v1/providers/", payload, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert "private_key" not in body and "signature_secret" not in body
    assert body["has_signature_secret"] is True and body["private_key_fingerprint"]
    assert body["inbound_callback_url"].endswith("/inbound/") and body["api_version"] == "v0.1"
    listing = marketer_api.get("/api/v1/providers/")
    assert listing.status_code == 200 and SECRET not in listing.content.decode()
    assert "PRIVATE KEY" not in listing.content.decode()
    assert marketer_api.post("/api/v1/providers/", payload | {"nickname": "x"}, format="json").status_code == 403
    assert marketer_api.patch(f"/api/v1/providers/{body['id']}/", {"nickname": "y"}, format="json").status_code == 403


def test_api_validation_errors_are_per_field(staff_api: Any) -> None:
    response = staff_api.post(
        "/api/v1/providers/",
        {"nickname": "x", "phone_number": "12", "application_id": "a", "private_key": "nope"},
        format="json",
    )
    assert response.status_code == 400
    assert "phone_number" in response.json() or "private_key" in response.json()


def test_api_test_message_answers(staff_api: Any, nexmo: FakeNexmo) -> None:
    import httpx

    provider = provider_make()
    contact = window_open_contact()
    url = f"/api/v1/providers/{provider.pk}/test-message/"
    ok = staff_api.post(url, {"to": contact.phone, "text": "hi"}, format="json")
    assert ok.status_code == 201 and ok.json()["response"]["status_code"] == 202
    assert ok.json()["message"]["status"] == "submitted"
    refused = staff_api.post(url, {"to": "+447700900999", "text": "hi"}, format="json")
    assert refused.status_code == 400 and "wa.me" in refused.json()["detail"]
    nexmo.answer = lambda request: httpx.Response(422, json=load("error-422.json"))
    failed = staff_api.post(url, {"to": contact.phone, "text": "again"}, format="json")
    assert failed.status_code == 502 and failed.json()["response"]["body"] == load("error-422.json")


def test_messages_api_is_read_only_and_filterable(marketer_api: Any) -> None:
    provider = provider_make()
    Message.objects.create(
        provider=provider, to="+447700900001", status="read", client_ref="a", origin="campaign", content_type="text"
    )
    assert marketer_api.get("/api/v1/messages/?status=read").json()["count"] == 1
    assert marketer_api.get("/api/v1/messages/?status=failed").json()["count"] == 0
    assert marketer_api.post("/api/v1/messages/", {}, format="json").status_code == 405
    assert marketer_api.get("/api/v1/inbound-messages/").status_code == 200


def test_admin_pages_show_no_secrets(staff_user: Any) -> None:
    staff_user.is_superuser = True
    staff_user.save()
    provider = provider_make(signature_secret=SECRET)
    client = _logged_in(staff_user)
    for url in [
        f"/admin/providers/providerconfig/{provider.pk}/change/",
        "/admin/providers/providerconfig/",
        "/admin/providers/message/?status=read&q=447",
        "/admin/providers/inboundmessage/",
        "/admin/providers/callbacklog/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "PRIVATE KEY" not in response.content.decode() and SECRET not in response.content.decode()


def test_database_dump_holds_no_private_key_or_secret() -> None:
    provider = provider_make(signature_secret=SECRET)
    key_body = provider.private_key.splitlines()[1]
    out = io.StringIO()
    call_command("dumpdata", "providers", stdout=out)
    dump = out.getvalue()
    assert json.loads(dump) and key_body not in dump and SECRET not in dump
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM providers_providerconfig")
        raw = repr(cursor.fetchall())
    assert key_body not in raw and SECRET not in raw and "PRIVATE KEY" not in raw


def test_the_sending_cap_is_set_in_the_form_shown_and_bounded(staff_user: Any) -> None:
    client = _logged_in(staff_user)
    client.post("/settings/channels/whatsapp/add/nexmo/", _form())
    provider = ProviderConfig.objects.get()
    assert provider.max_messages_per_second == 80  # left empty: WhatsApp's default tier

    refused = client.post(f"/settings/channels/whatsapp/{provider.pk}/edit/", _form(max_messages_per_second="1001"))
    assert refused.status_code == 200 and "less than or equal to 1000" in refused.content.decode()
    client.post(f"/settings/channels/whatsapp/{provider.pk}/edit/", _form(max_messages_per_second="250"))
    provider.refresh_from_db()
    assert provider.max_messages_per_second == 250
    page = client.get(f"/settings/channels/whatsapp/{provider.pk}/").content.decode()
    assert "250 messages per second" in page


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (1000, True), (1001, False), ("fast", False)])
def test_the_sending_cap_over_the_api(staff_api: Any, value: Any, ok: bool) -> None:
    provider = provider_make()
    response = staff_api.patch(f"/api/v1/providers/{provider.pk}/", {"max_messages_per_second": value}, format="json")
    if ok:
        assert response.status_code == 200 and response.json()["max_messages_per_second"] == value
    else:
        assert response.status_code == 400 and "max_messages_per_second" in response.json()


def test_the_sending_cap_is_in_the_admin(staff_user: Any) -> None:
    staff_user.is_superuser = True
    staff_user.save()
    provider = provider_make()
    page = _logged_in(staff_user).get(f"/admin/providers/providerconfig/{provider.pk}/change/").content.decode()
    assert 'name="max_messages_per_second"' in page


def test_api_patch_with_a_blank_signature_secret_keeps_it_like_the_ui(staff_api: Any) -> None:
    provider = provider_make(signature_secret=SECRET)
    response = staff_api.patch(f"/api/v1/providers/{provider.pk}/", {"signature_secret": ""}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["has_signature_secret"] is True
    provider.refresh_from_db()
    assert provider.signature_secret == SECRET


def test_api_clears_the_signature_secret_only_when_asked_explicitly(staff_api: Any) -> None:
    provider = provider_make(signature_secret=SECRET)
    url = f"/api/v1/providers/{provider.pk}/"
    both = staff_api.patch(url, {"signature_secret": "new-one", "signature_secret_clear": True}, format="json")
    assert both.status_code == 400 and "signature_secret_clear" in both.json()
    cleared = staff_api.patch(url, {"signature_secret_clear": True}, format="json")
    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["has_signature_secret"] is False
    provider.refresh_from_db()
    assert provider.signature_secret == ""


def test_ui_edit_clears_the_signature_secret_only_with_the_box_ticked(staff_user: Any) -> None:
    provider = provider_make(signature_secret=SECRET)
    client = _logged_in(staff_user)
    url = f"/settings/channels/whatsapp/{provider.pk}/edit/"
    fields = _form(private_key="", signature_secret="", phone_number=provider.phone_number, nickname=provider.nickname)
    assert client.post(url, fields).status_code == 302
    provider.refresh_from_db()
    assert provider.signature_secret == SECRET
    assert client.post(url, fields | {"signature_secret_clear": "on"}).status_code == 302
    provider.refresh_from_db()
    assert provider.signature_secret == ""


def test_api_shows_callback_urls_to_staff_only(staff_api: Any, marketer_api: Any) -> None:
    provider = provider_make()
    for path in ["/api/v1/providers/", f"/api/v1/providers/{provider.pk}/"]:
        for_marketer = marketer_api.get(path)
        assert for_marketer.status_code == 200
        assert provider.callback_token not in for_marketer.content.decode(), path
        assert "inbound_callback_url" not in for_marketer.content.decode()
        for_staff = staff_api.get(path)
        assert provider.callback_token in for_staff.content.decode(), path


def test_provider_page_warns_when_callbacks_are_not_signed(staff_user: Any) -> None:
    client = _logged_in(staff_user)
    unsigned = provider_make()
    signed = provider_make(signature_secret=SECRET)
    warning = "Callbacks to this number are not verified"
    assert warning in client.get(f"/settings/channels/whatsapp/{unsigned.pk}/").content.decode()
    assert warning not in client.get(f"/settings/channels/whatsapp/{signed.pk}/").content.decode()


def test_deploy_checks_warn_about_each_provider_without_a_signature_secret() -> None:
    from django.core.checks import run_checks

    provider_make(nickname="Unsigned one")
    provider_make(nickname="Signed one", signature_secret=SECRET)
    warnings = [m for m in run_checks(include_deployment_checks=True) if m.id == "providers.W001"]
    assert len(warnings) == 1
    assert "Unsigned one" in warnings[0].msg and "Signed one" not in warnings[0].msg
    assert not [m for m in run_checks(include_deployment_checks=False) if m.id == "providers.W001"]
