"""What providers announce to higher apps (campaigns, journeys), which connect receivers without us importing them.

Both are sent from a django-q2 task after the callback's transaction committed, never inside the request.

inbound_message_received(sender=InboundMessage, inbound, contact, provider, keyword)
    inbound:  providers.models.InboundMessage (content_type, text, button_payload, button_text, …)
    contact:  contacts.models.Contact | None (None when the sender's number could not be parsed)
    provider: providers.models.ProviderConfig
    keyword:  "opt_out" | "opt_in" | None — whether the text was one of the provider's consent keywords

message_status_changed(sender=Message, message, status, timestamp)
    message:   providers.models.Message, reloaded after the change
    status:    the status the callback reported (the message may already be further along, e.g. read)
    timestamp: datetime of the event according to Nexmo
"""

from django.dispatch import Signal

inbound_message_received = Signal()
message_status_changed = Signal()
