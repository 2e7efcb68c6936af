from typing import Any

from django.core.management.base import BaseCommand

from demo.seed import seed_all


class Command(BaseCommand):
    help = "Create the local demo: users, a provider wired to the simulator, templates and contacts (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for line in seed_all():
            self.stdout.write(line)
