from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from accounts.roles import MARKETER_GROUP

pytestmark = pytest.mark.django_db


def test_marketer_group_is_created_with_marketing_permissions() -> None:
    group = Group.objects.get(name=MARKETER_GROUP)
    codenames = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert ("contacts", "add_contact") in codenames
    assert ("providers", "view_providerconfig") in codenames
    assert ("providers", "change_providerconfig") not in codenames


def test_anonymous_browser_is_sent_to_login(client: Client) -> None:
    response = client.get("/contacts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/contacts/")


def test_anonymous_api_call_is_401_with_json() -> None:
    response = APIClient().get("/api/v1/")
    assert response.status_code == 401
    assert "credentials" in response.json()["detail"]


def test_user_without_a_role_is_refused_in_ui_and_api(
    client: Client, outsider_user: Any, outsider_api: APIClient
) -> None:
    client.force_login(outsider_user)
    assert client.get("/").status_code == 403
    assert client.get("/campaigns/").status_code == 403
    assert outsider_api.get("/api/v1/").status_code == 403


def test_marketer_is_refused_in_the_admin(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_reaches_the_admin(client: Client, staff_user: Any) -> None:
    client.force_login(staff_user)
    assert client.get("/admin/").status_code == 200


def test_marketer_sees_the_dashboard_and_api_root(client: Client, marketer_user: Any, marketer_api: APIClient) -> None:
    client.force_login(marketer_user)
    assert client.get("/").status_code == 200
    assert marketer_api.get("/api/v1/").status_code == 200


def test_api_token_page_creates_and_revokes_a_working_token(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    response = client.post("/account/api-token/", {"action": "create"})
    key = response.context["key"]
    assert key in response.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/").status_code == 200

    client.post("/account/api-token/", {"action": "revoke"})
    assert api.get("/api/v1/").status_code == 401


def test_unknown_api_path_is_a_json_404(marketer_api: APIClient) -> None:
    response = marketer_api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_schema_and_docs_render_offline(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    # Swagger UI comes from the sidecar package served by us, not from a CDN.
    assert b"drf_spectacular_sidecar" in docs.content
    assert b"cdn.jsdelivr" not in docs.content


def test_non_json_body_is_a_clear_400(marketer_api: APIClient) -> None:
    # Any POST endpoint parses its body the same way; the token page is not an API, so use DRF's own parser path
    # through an endpoint that every later app reuses: the API root refuses POST with a JSON 405.
    response = marketer_api.post("/api/v1/", data="{not json", content_type="application/json")
    assert response.status_code in {400, 405}
    assert "detail" in response.json()


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_require_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in {401, 403}
    assert b"openapi" not in response.content and b"swagger" not in response.content.lower()


def test_api_docs_public_opens_the_schema_and_docs_to_anonymous_readers(client: Client, settings: Any) -> None:
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
