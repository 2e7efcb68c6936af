from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "Providers"

    def ready(self) -> None:
        from contacts.profile import profile_section_register
        from providers import checks  # noqa: F401 - registers the system checks
        from providers.selectors import contact_timeline

        profile_section_register(
            key="messages",
            title="Messages",
            template="providers/includes/contact_messages.html",
            context=contact_timeline,
        )
