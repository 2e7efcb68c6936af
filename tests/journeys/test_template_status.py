"""A template WhatsApp stopped after a journey went live: its sends are skipped with the reason, the page warns, and
publishing again is refused with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from journeys import services
from journeys.models import EnrollmentState, Journey, JourneyStep
from journeys.services import JourneyInvalid
from templates_app.models import Template
from tests.journeys.factories import contact_make, journey_live, provider_make, template_make
from tests.providers.factories import FakeNexmo

pytestmark = pytest.mark.django_db

NODES: list[dict[str, Any]] = [
    {"id": "hello", "type": "send_template", "template": 0, "next": "end"},
    {"id": "end", "type": "exit"},
]


def live_journey_with_paused_template() -> tuple[Journey, Template]:
    provider = provider_make()
    template = template_make(provider, name="promo")
    journey = journey_live(nodes=[{**NODES[0], "template": template.pk}, NODES[1]])
    template.status, template.rejected_reason = "paused", "Low quality"
    template.save()
    return journey, template


def test_a_send_with_a_paused_template_is_skipped_with_the_reason(nexmo: FakeNexmo) -> None:
    journey, _ = live_journey_with_paused_template()
    enrollment = services.enrollment_enter(journey=journey, contact=contact_make())
    assert enrollment is not None
    services.enrollments_run(enrollment_ids=[enrollment.pk])
    enrollment.refresh_from_db()
    step = JourneyStep.objects.get(enrollment=enrollment, node="hello")
    assert step.outcome == "skipped"
    assert "is paused by WhatsApp for low quality (Low quality)" in step.detail
    assert enrollment.state == EnrollmentState.COMPLETED and nexmo.requests == []


def test_publishing_again_is_refused_with_the_reason() -> None:
    journey, _ = live_journey_with_paused_template()
    with pytest.raises(JourneyInvalid) as caught:
        services.journey_publish(journey=journey)
    assert any("paused by WhatsApp" in str(problem) for problem in caught.value.problems)


def test_the_journey_page_warns_about_the_stopped_template(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    journey, _ = live_journey_with_paused_template()
    page = client.get(f"/journeys/{journey.pk}/").content.decode()
    assert 'id="template-warnings"' in page
    assert "Template &#x27;promo&#x27; is paused by WhatsApp" in page and "Node(s) hello skip their send" in page
