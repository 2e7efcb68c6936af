from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from conversations.services import journey_hold_gate
        from providers.messaging.outbox import outbox_gate_register
        from providers.models import Origin

        # Journey sends to a contact a person is talking to wait until the conversation is closed or unassigned.
        outbox_gate_register(Origin.JOURNEY, journey_hold_gate)
