"""Demo contacts: a few hundred people with properties and events, two test profiles and two segments."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from contacts.models import Consent, ConsentChange, Contact, Event, Segment

DEMO_CONTACTS = 300
PLANS = ("free", "silver", "gold")
CITIES = ("London", "Leeds", "Manchester", "Bristol", "Glasgow")
FIRST = ("Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jade")
SEGMENTS = {
    "Gold customers who opted in": {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "conditions": [
                    {"type": "property", "key": "plan", "op": "eq", "value": "gold"},
                    {"type": "consent", "op": "eq", "value": "subscribed"},
                ],
            }
        ],
    },
    "Bought twice in the last 30 days": {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "conditions": [{"type": "event", "op": "did", "name": "purchase", "min_count": 2, "days": 30}],
            }
        ],
    },
}


def seed() -> str:
    if Contact.objects.filter(external_id="demo-0001").exists():
        created = 0
    else:
        created = _contacts()
    for name, definition in SEGMENTS.items():
        Segment.objects.get_or_create(name=name, defaults={"definition": definition})
    return (
        f"Contacts: {'created ' + str(created) if created else 'already there'} ({Segment.objects.count()} segments)."
    )


@transaction.atomic
def _contacts() -> int:
    rng = random.Random(5)  # the same demo every time
    now = timezone.now()
    contacts = []
    for n in range(1, DEMO_CONTACTS + 1):
        consent = rng.choice([Consent.SUBSCRIBED, Consent.SUBSCRIBED, Consent.UNSUBSCRIBED, Consent.UNTRACKED])
        contacts.append(
            Contact(
                external_id=f"demo-{n:04d}",
                phone=f"+447700900{n:03d}" if n < 1000 else f"+4477009{n:05d}",
                name=f"{rng.choice(FIRST)} Demo{n}",
                email=f"demo{n}@example.com",
                timezone="Europe/London",
                language="en_GB",
                properties={
                    "plan": rng.choice(PLANS),
                    "city": rng.choice(CITIES),
                    "lifetime_value": rng.randint(0, 900),
                },
                whatsapp_consent=consent,
                consent_source="demo" if consent != Consent.UNTRACKED else "",
                consent_changed_at=now if consent != Consent.UNTRACKED else None,
                is_test_profile=n <= 2,
            )
        )
    contacts[0].name, contacts[1].name = "Test Profile One", "Test Profile Two"
    contacts[0].whatsapp_consent = contacts[1].whatsapp_consent = Consent.SUBSCRIBED
    Contact.objects.bulk_create(contacts)
    saved = list(Contact.objects.filter(external_id__startswith="demo-"))
    ConsentChange.objects.bulk_create(
        ConsentChange(contact=c, consent=c.whatsapp_consent, source="demo", changed_at=now)
        for c in saved
        if c.whatsapp_consent != Consent.UNTRACKED
    )
    events = []
    for contact in saved:
        for _ in range(rng.randint(0, 4)):
            name = rng.choice(("purchase", "app_open", "app_open", "cart_abandoned"))
            props = {"total": rng.randint(5, 200), "sku": f"SKU-{rng.randint(1, 9)}"} if name == "purchase" else {}
            events.append(
                Event(
                    contact=contact, name=name, properties=props, occurred_at=now - timedelta(days=rng.randint(0, 60))
                )
            )
    Event.objects.bulk_create(events)
    return len(saved)
