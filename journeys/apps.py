from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Journeys"

    def ready(self) -> None:
        from journeys import receivers  # noqa: F401 - connects the signal receivers
