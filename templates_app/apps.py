from django.apps import AppConfig


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = "Templates"

    def ready(self) -> None:
        from templates_app import receivers  # noqa: F401 - connects the signal receivers
