"""Journey test helpers: a provider with a real key, approved templates, and a published journey in one call."""

from __future__ import annotations

from typing import Any, cast

from journeys import services
from journeys.models import Journey
from providers.models import ProviderConfig
from templates_app.models import Template
from tests.providers.factories import contact_make, provider_make, window_open_contact

__all__ = [
    "TABLE_QUESTION",
    "contact_make",
    "journey_live",
    "provider_make",
    "template_make",
    "window_open_contact",
]

# A journey that asks with reply buttons and follows the one tapped: yes → kept, no → released, any other reply →
# "asked again", no reply within the hour → done. Each path stores its answer in the contact property "table".
TABLE_QUESTION: list[dict[str, Any]] = [
    {
        "id": "ask",
        "type": "send_interactive",
        "text": "Shall we keep your table for tonight?",
        "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}, {"id": "later", "title": "Later"}],
        "next": "answer",
    },
    {
        "id": "answer",
        "type": "wait_for_reply",
        "message_node": "ask",
        "timeout_seconds": 3600,
        "branches": [{"reply_id": "yes", "next": "kept"}, {"reply_id": "no", "next": "released"}],
        "next": "other",
        "timeout_next": "done",
    },
    {"id": "kept", "type": "update_property", "property": "table", "value": "kept", "next": "done"},
    {"id": "released", "type": "update_property", "property": "table", "value": "released", "next": "done"},
    {"id": "other", "type": "update_property", "property": "table", "value": "asked again", "next": "done"},
    {"id": "done", "type": "exit"},
]


def template_make(provider: ProviderConfig, name: str = "welcome", **kwargs: Any) -> Template:
    values: dict[str, Any] = {"language": "en_GB", "category": "marketing", "status": "approved", "body": "Hi!"}
    values.update(kwargs)
    return cast(Template, Template.objects.create(provider=provider, name=name, **values))


def journey_live(
    *, nodes: list[dict[str, Any]], entry_node: str | None = None, trigger: dict[str, Any] | None = None, **extra: Any
) -> Journey:
    journey = services.journey_create(
        data={
            "name": extra.pop("name", "Test journey"),
            "trigger": trigger or {"type": "event", "event": "signup"},
            "entry_node": entry_node or nodes[0]["id"],
            "nodes": nodes,
            **extra,
        }
    )
    return services.journey_publish(journey=journey)
