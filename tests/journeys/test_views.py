"""The builder pages: create, add nodes by forms, see checks and the graph, publish."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from journeys.models import Journey, JourneyStatus
from tests.journeys.factories import provider_make, template_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_marketer(client: Client, marketer_user: Any) -> Client:
    client.force_login(marketer_user)
    return client


def test_build_a_journey_with_forms_and_publish(client_marketer: Client) -> None:
    template = template_make(provider_make())
    c = client_marketer
    answer = c.post(
        "/journeys/new/",
        {"name": "Hello", "trigger_type": "event", "trigger_event": "signup", "reentry": "never", "cap_days": 1},
    )
    journey = Journey.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/journeys/{journey.pk}/"
    assert c.post(f"/journeys/{journey.pk}/nodes/add/", {"type": "exit", "id": "end"}).status_code == 302
    c.post(
        f"/journeys/{journey.pk}/nodes/add/",
        {"type": "send_template", "id": "hi", "template": template.pk, "next": "end"},
    )
    journey.refresh_from_db()
    assert journey.entry_node == "end"  # the first node became the entry; point it at "hi"
    page = c.get(f"/journeys/{journey.pk}/").content.decode()
    assert "Unreachable" in page and "<svg" in page and 'data-node="hi"' in page
    c.post(
        f"/journeys/{journey.pk}/settings/",
        {
            "name": "Hello",
            "trigger_type": "event",
            "trigger_event": "signup",
            "entry_node": "hi",
            "reentry": "never",
            "cap_days": 1,
        },
    )
    page = c.get(f"/journeys/{journey.pk}/").content.decode()
    assert "All checks pass" in page
    c.post(f"/journeys/{journey.pk}/publish/")
    journey.refresh_from_db()
    assert journey.status == JourneyStatus.LIVE and journey.current_version is not None


def test_node_form_errors_name_the_field(client_marketer: Client) -> None:
    journey = Journey.objects.create(name="x", trigger={"type": "event", "event": "e"})
    answer = client_marketer.post(
        f"/journeys/{journey.pk}/nodes/add/", {"type": "split", "id": "s", "branches": "60 a\n30"}
    )
    assert answer.status_code == 200
    assert "The percentages add up to 90, not 100." in answer.content.decode()
    answer = client_marketer.post(f"/journeys/{journey.pk}/nodes/add/", {"type": "wait", "id": "bad id!"})
    assert answer.status_code == 200 and "Enter a valid value" in answer.content.decode()


def test_builder_needs_the_marketer_role(client: Client, outsider_user: Any) -> None:
    client.force_login(outsider_user)
    assert client.get("/journeys/").status_code == 403
