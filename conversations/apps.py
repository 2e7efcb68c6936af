from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from conversations.services import (
            conversation_holds,
            conversation_inbound_record,
            journey_hold_gate,
            journey_hold_waiting,
        )
        from providers.messaging.inbound import auto_reply_hold_register, inbound_recorder_register
        from providers.messaging.outbox import outbox_gate_register
        from providers.models import Origin

        # Every stored inbound opens (or reopens) its conversation; while a person handles it, the auto-reply stays
        # quiet and journey sends to that contact wait until it is closed or unassigned.
        inbound_recorder_register(lambda inbound: conversation_inbound_record(inbound=inbound))
        auto_reply_hold_register(
            lambda provider_id, contact_id: conversation_holds(provider_id=provider_id, contact_id=contact_id)
        )
        outbox_gate_register(Origin.JOURNEY, journey_hold_gate, waiting=journey_hold_waiting)
