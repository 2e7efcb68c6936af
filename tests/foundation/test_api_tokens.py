"""API tokens: stored as a hash, shown once, a prefix afterwards, optional expiry, rotation (issue 15, point 12)."""

from __future__ import annotations

import hashlib
import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def _create(client: Client, **extra: str) -> str:
    response = client.post("/account/api-token/", {"action": "create", **extra})
    assert response.status_code == 200
    key: str = response.context["key"]
    assert key in response.content.decode()
    return key


def _api(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_the_key_is_stored_only_as_its_hash(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    key = _create(client)
    token = ApiToken.objects.get(user=marketer_user)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert key not in repr(cursor.fetchall())
    assert _api(key).get("/api/v1/").status_code == 200


def test_the_page_shows_the_key_once_then_only_its_prefix(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    key = _create(client)
    page = client.get("/account/api-token/").content.decode()
    assert key not in page
    assert f"{key[:8]}…" in page


def test_the_admin_shows_the_prefix_and_never_the_key(client: Client, staff_user: Any) -> None:
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    key = _create(client)
    token = ApiToken.objects.get(user=staff_user)
    for url in ["/admin/accounts/apitoken/", f"/admin/accounts/apitoken/{token.pk}/change/"]:
        page = client.get(url)
        assert page.status_code == 200, url
        assert key[:8] in page.content.decode() and key not in page.content.decode()


def test_an_expired_token_is_refused_and_one_not_yet_expired_works(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    key = _create(client, expires_in_days="30")
    token = ApiToken.objects.get(user=marketer_user)
    assert token.expires_at is not None
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert _api(key).get("/api/v1/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused = _api(key).get("/api/v1/")
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_an_unknown_lifetime_is_refused_with_a_message(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    response = client.post("/account/api-token/", {"action": "create", "expires_in_days": "99999"}, follow=True)
    assert "Choose one of the offered lifetimes" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_rotation_refuses_the_old_key_and_accepts_the_new(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    old = _create(client)
    response = client.post("/account/api-token/", {"action": "regenerate", "expires_in_days": ""})
    new = response.context["key"]
    assert new != old
    assert _api(old).get("/api/v1/").status_code == 401
    assert _api(new).get("/api/v1/").status_code == 200


def test_the_migration_hashes_existing_plaintext_tokens(marketer_user: Any) -> None:
    migration = importlib.import_module("accounts.migrations.0003_hash_existing_tokens")
    key = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL, user_id int)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [key, marketer_user.pk])
    from django.apps import apps

    with connection.schema_editor() as editor:
        migration.hash_existing_tokens(apps, editor)

    token = ApiToken.objects.get(user=marketer_user)
    assert token.prefix == key[:8] and token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert _api(key).get("/api/v1/").status_code == 200
