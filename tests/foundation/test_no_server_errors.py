"""Inputs that used to answer 500 (issue 15, point 16): each now gets a 4xx with a message, or is handled."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client

from campaigns.audience_lists import audience_list_upload
from contacts.models import Segment
from journeys.models import Journey
from tests.campaigns.factories import campaign_make, setup_provider
from tests.providers.factories import contact_make, provider_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketer(client: Client, marketer_user: Any) -> Client:
    client.force_login(marketer_user)
    return client


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_nul_in_a_search_is_a_400(marketer: Client) -> None:
    provider, template = setup_provider()
    campaign = campaign_make(provider=provider, template=template)
    assert marketer.get(f"/campaigns/{campaign.pk}/?q=%00").status_code == 400
    assert marketer.get("/contacts/?q=a%00b").status_code == 400


def test_a_nul_in_an_api_query_is_a_400_with_json(marketer_api: Any) -> None:
    response = marketer_api.get("/api/v1/contacts/?search=%00")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


@pytest.mark.parametrize("value", ["²", "abc", "99999999999999999999999", "-1"])
def test_an_id_that_is_not_a_number_is_a_4xx(marketer: Client, value: str) -> None:
    Segment.objects.create(name="s", definition={"match": "all", "groups": []})
    assert marketer.get(f"/contacts/export/?segment={value}").status_code in (400, 404)
    assert marketer.get(f"/templates/export/?provider={value}").status_code in (400, 404)


def test_journey_canvas_json_nested_deeply_is_a_400(marketer: Client) -> None:
    journey = Journey.objects.create(name="x", trigger={"type": "event", "event": "e"})
    answer = marketer.post(f"/journeys/{journey.pk}/canvas/layout/", _nested(2000), content_type="application/json")
    assert answer.status_code == 400
    assert "nested" in answer.json()["errors"][0]


def test_an_audience_file_with_a_nul_after_the_first_64_kib_is_refused() -> None:
    contact_make(phone="+447700900001")
    raw = b"phone\n" + b"+447700900001\n" * 6000 + b"+44770\x0090002\n"
    audience = audience_list_upload(handle=io.BytesIO(raw), name="list.csv", size=len(raw))
    assert audience.matched == 1
    assert any("NUL" in problem["reason"] for problem in audience.problems)


@pytest.mark.parametrize("path", ["/api/v1/contacts/", "/api/v1/segments/", "/api/v1/events/", "/api/v1/campaigns/"])
def test_json_nested_3000_deep_is_a_400_on_any_endpoint(staff_api: Any, path: str) -> None:
    response = staff_api.post(path, _nested(3000), content_type="application/json")
    assert response.status_code == 400 and "nested" in response.json()["detail"]
    response = staff_api.post(path, '{"name": ' + _nested(3000) + "}", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("text", ['"\\ud800"', '"a\\u0000b"'])
def test_a_lone_surrogate_or_nul_in_any_api_field_is_a_400_in_json(staff_api: Any, text: str) -> None:
    body = '{"phone": "+447700900001", "name": ' + text + ', "properties": {"k": ' + text + "}}"
    response = staff_api.post("/api/v1/contacts/", body, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    provider = provider_make()
    response = staff_api.patch(
        f"/api/v1/providers/{provider.pk}/", '{"nickname": ' + text + "}", content_type="application/json"
    )
    assert response.status_code == 400


def test_events_as_a_form_encoded_body_is_a_400(staff_api: Any) -> None:
    response = staff_api.post(
        "/api/v1/events/", "events=null&create_contacts=true", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert "events" in json.dumps(response.json())


# --- found by the schema fuzz (tests/foundation/test_api_fuzz.py) ---------------------------------------------------


def test_a_json_field_sent_as_form_text_null_or_nested_deep_is_a_400(staff_api: Any) -> None:
    refused_null = staff_api.post("/api/v1/journeys/", {"name": "x", "trigger": "null"}, format="multipart")
    assert refused_null.status_code == 400 and "trigger" in refused_null.json()
    deep = staff_api.post("/api/v1/journeys/", {"name": "x", "trigger": _nested(3000)}, format="multipart")
    assert deep.status_code == 400 and "trigger" in deep.json()
    surrogate = staff_api.post("/api/v1/journeys/", {"name": "x", "trigger": '"\\ud800"'}, format="multipart")
    assert surrogate.status_code == 400


def test_a_date_time_filter_with_an_offset_postgresql_refuses_is_turned_to_utc(staff_api: Any) -> None:
    response = staff_api.get("/api/v1/contacts/", {"created_before": "0506-09-20T04:07:53+17:51"})
    assert response.status_code == 200
