from __future__ import annotations

import factory
from django.utils import timezone

from contacts.models import Contact, Event, Segment


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+4477009{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    properties = factory.LazyFunction(dict)


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event

    contact = factory.SubFactory(ContactFactory)
    name = "purchase"
    properties = factory.LazyFunction(dict)
    occurred_at = factory.LazyFunction(timezone.now)


class SegmentFactory(factory.django.DjangoModelFactory[Segment]):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    definition = factory.LazyFunction(
        lambda: {"match": "all", "groups": [{"match": "all", "conditions": [{"type": "test_profile", "value": True}]}]}
    )
