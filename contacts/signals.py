"""What contacts announce; higher apps (journeys) connect receivers, contacts never imports them.

`event_recorded` is sent once per newly stored event (never for a retried duplicate), after the transaction that
stored it has committed; `events_recorded` follows once with every event of that commit (`events`: a list of
(event, contact)), for receivers that work in batches. Keyword arguments of `event_recorded`:

- `sender`: the `Event` model class
- `event`: the stored `contacts.models.Event` (with `event.contact_id`, `name`, `properties`, `occurred_at`)
- `contact`: the `contacts.models.Contact` it belongs to
- `created_contact`: True when the contact was created by this event (unknown phone, creation allowed)
"""

from __future__ import annotations

from django.dispatch import Signal

event_recorded = Signal()
events_recorded = Signal()
