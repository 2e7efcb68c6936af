"""Demo data for `make run`: idempotent, so running it twice changes nothing.

Each area adds a module `demo/seed_<area>.py` with `seed() -> str` (a one-line summary) and lists it in SEEDERS,
in dependency order.
"""

from __future__ import annotations

from importlib import import_module

SEEDERS = (
    "demo.seed_users",
    "demo.seed_contacts",
    "demo.seed_provider",
    "demo.seed_templates",
    "demo.seed_journeys",
)


def seed_all() -> list[str]:
    return [import_module(name).seed() for name in SEEDERS]
