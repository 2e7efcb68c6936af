"""The campaigns API: validation, lifecycle actions and stats."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django_q.models import Schedule

from campaigns.models import Campaign
from providers.nexmo.client import transport_override
from tests.campaigns.factories import VARIABLES, setup_provider, subscribed
from tests.providers.factories import FakeNexmo
from tests.templates_app.factories import template_make

pytestmark = pytest.mark.django_db


def _data(provider: Any, template: Any, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Spring",
        "provider": provider.pk,
        "template": template.pk,
        "audience": "all_subscribed",
        "variables": VARIABLES,
        **changes,
    }


def test_create_refuses_bad_input_with_field_messages(marketer_api: Any) -> None:
    provider, template = setup_provider()
    other, _ = setup_provider()
    pending = template_make(provider=provider, status="pending")
    cases = {
        "template": _data(other, template),
        "variables": _data(provider, template, variables={"1": {"property": "name"}}),
        "throttle_per_second": _data(provider, template, throttle_per_second=5000),
        "segment": _data(provider, template, audience="segment"),
    }
    for field, data in cases.items():
        response = marketer_api.post("/api/v1/campaigns/", data, format="json")
        assert response.status_code == 400, field
        assert field in response.json(), (field, response.json())
    assert marketer_api.post("/api/v1/campaigns/", _data(provider, pending), format="json").status_code == 400
    assert marketer_api.post("/api/v1/campaigns/", {"variables": "x"}, format="json").status_code == 400


def test_outsider_is_refused(outsider_api: Any) -> None:
    assert outsider_api.get("/api/v1/campaigns/").status_code == 403


def test_launch_now_sends_and_stats_add_up(marketer_api: Any, django_capture_on_commit_callbacks: Any) -> None:
    provider, template = setup_provider()
    subscribed(4)
    created = marketer_api.post("/api/v1/campaigns/", _data(provider, template), format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    fake = FakeNexmo()
    with transport_override(fake.transport), django_capture_on_commit_callbacks(execute=True):
        response = marketer_api.post(f"/api/v1/campaigns/{pk}/schedule/", {}, format="json")
    assert response.status_code == 200
    assert len(fake.requests) == 4
    stats = marketer_api.get(f"/api/v1/campaigns/{pk}/stats/").json()
    assert stats["targeted"] == 4 and stats["sent"] == 4 and stats["skipped"] == 0
    assert Campaign.objects.get(pk=pk).status == "completed"
    assert marketer_api.post(f"/api/v1/campaigns/{pk}/pause/").status_code == 400


def test_schedule_later_creates_one_django_q_schedule_and_cancel_removes_it(marketer_api: Any) -> None:
    provider, template = setup_provider()
    pk = marketer_api.post("/api/v1/campaigns/", _data(provider, template), format="json").json()["id"]
    later = {"scheduled_at": "2999-01-01T10:00:00Z"}
    assert marketer_api.post(f"/api/v1/campaigns/{pk}/schedule/", later, format="json").status_code == 200
    assert marketer_api.post(f"/api/v1/campaigns/{pk}/schedule/", later, format="json").status_code == 200
    assert Schedule.objects.filter(name=f"campaign-run-{pk}").count() == 1
    assert marketer_api.post(f"/api/v1/campaigns/{pk}/cancel/").json()["status"] == "cancelled"
    assert not Schedule.objects.filter(name=f"campaign-run-{pk}").exists()


def test_pause_resume_and_retry_failed(marketer_api: Any, django_capture_on_commit_callbacks: Any) -> None:
    provider, template = setup_provider()
    subscribed(3)
    pk = marketer_api.post("/api/v1/campaigns/", _data(provider, template), format="json").json()["id"]
    down = FakeNexmo(lambda r: httpx.Response(503, json={"title": "Down"}))
    with transport_override(down.transport), django_capture_on_commit_callbacks(execute=True):
        marketer_api.post(f"/api/v1/campaigns/{pk}/schedule/", {}, format="json")
    assert marketer_api.get(f"/api/v1/campaigns/{pk}/stats/").json()["failed"] == 3
    fine = FakeNexmo()
    with transport_override(fine.transport), django_capture_on_commit_callbacks(execute=True):
        response = marketer_api.post(f"/api/v1/campaigns/{pk}/retry-failed/")
    assert response.json()["retried"] == 3
    assert len(fine.requests) == 3
    Campaign.objects.filter(pk=pk).update(stats_at=None)
    assert marketer_api.get(f"/api/v1/campaigns/{pk}/stats/").json()["sent"] == 3
    assert marketer_api.post(f"/api/v1/campaigns/{pk}/resume/").status_code == 400
