from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.seed import seed_all


class Command(BaseCommand):
    help = "Create the local demo: users, a provider wired to the simulator, templates and contacts (idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (it creates the superuser admin with the published demo password).",
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            # The demo's superuser has a password printed in the README: never on a real site by accident.
            raise CommandError(
                "DEBUG is off: demo_data would create the superuser admin / whatsapp-demo on what looks like a real "
                "site. Run it with DEBUG=true (make run does), or add --force if you mean it."
            )
        for line in seed_all():
            self.stdout.write(line)
