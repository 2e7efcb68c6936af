from typing import Any

from django.core.management.base import BaseCommand

from demo import seed


class Command(BaseCommand):
    help = "Create the local demo: users, a provider wired to the simulator, templates and contacts (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = seed.demo_users_ensure()
        self.stdout.write(f"Demo users ready ({'created ' + ', '.join(created) if created else 'already there'}).")
