"""Demo journey: on signup → welcome → a day later the spring sale → wait for "Show me" → tag the contact."""

from __future__ import annotations

from journeys import services
from journeys.models import Journey
from providers.models import ProviderConfig
from templates_app.models import Template

DEMO_PROVIDER = "Demo WhatsApp"
DEMO_JOURNEY = "Welcome and spring sale"


def seed() -> str:
    if Journey.objects.filter(name=DEMO_JOURNEY).exists():
        return "journeys: demo journey already there"
    provider = ProviderConfig.objects.filter(nickname=DEMO_PROVIDER).first()
    templates = {t.name: t.pk for t in Template.objects.filter(provider=provider, name__in=["welcome", "spring_sale"])}
    if provider is None or len(templates) < 2:
        return "journeys: skipped (demo provider or templates missing)"
    name = {"property": "name", "fallback": "there"}
    journey = services.journey_create(
        data={
            "name": DEMO_JOURNEY,
            "trigger": {"type": "event", "event": "signup", "filters": {}},
            "goal_event": "purchase",
            "entry_node": "welcome",
            "nodes": [
                {"id": "welcome", "type": "send_template", "template": templates["welcome"], "variables": {"1": name},
                 "next": "one_day"},
                {"id": "one_day", "type": "wait", "seconds": 86400, "next": "sale"},
                {"id": "sale", "type": "send_template", "template": templates["spring_sale"],
                 "variables": {"1": name, "2": {"value": "SPRING20"}}, "next": "answer"},
                {"id": "answer", "type": "wait_for_reply", "message_node": "sale", "payload": "SALE_YES",
                 "timeout_seconds": 172800, "next": "interested", "timeout_next": "end"},
                {"id": "interested", "type": "update_property", "property": "sale_interest", "value": True,
                 "next": "end"},
                {"id": "end", "type": "exit"},
            ],
        }
    )  # fmt: skip
    services.journey_publish(journey=journey)
    return f"journeys: {DEMO_JOURNEY!r} live (trigger: signup event)"
