from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from journeys import receivers  # noqa: F401 - connects the signal receivers
        from journeys.services import outbox_gate
        from providers.messaging.outbox import outbox_gate_register
        from providers.models import Origin
        from providers.signals import status_changes_announce_for

        status_changes_announce_for(Origin.JOURNEY)
        outbox_gate_register(Origin.JOURNEY, outbox_gate)
