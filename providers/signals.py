"""What providers announce to higher apps (campaigns, journeys), which connect receivers without us importing them.

Both are sent from a django-q2 task after the callback's transaction committed, never inside the request.

inbound_message_received(sender=InboundMessage, inbound, contact, provider, keyword)
    inbound:  providers.models.InboundMessage (content_type, text, button_payload, button_text, …)
    contact:  contacts.models.Contact | None (None when the sender's number could not be parsed)
    provider: providers.models.ProviderConfig
    keyword:  "opt_out" | "opt_in" | None — whether the text was one of the provider's consent keywords

message_status_changed(sender=Message, message, status, timestamp) — for the origins in status_announced_origins
    message:   providers.models.Message, reloaded after the change
    status:    the status the callback reported (the message may already be further along, e.g. read)
    timestamp: datetime of the event according to Nexmo
"""

from django.dispatch import Signal

inbound_message_received = Signal()
message_status_changed = Signal()

# message_status_changed is sent only for messages of these origins. An app listening to it adds the origins it
# reacts to (`status_changes_announce_for`, from its AppConfig.ready()), so the status callbacks of every other
# message (a campaign's, thousands a second) cost no task at all.
status_announced_origins: set[str] = set()


def status_changes_announce_for(*origins: str) -> None:
    status_announced_origins.update(origins)
