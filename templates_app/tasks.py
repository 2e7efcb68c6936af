"""django-q2 tasks: thin, one service call each."""

from __future__ import annotations

from templates_app.sync import templates_sync_all as templates_sync_all_service


def templates_sync_all() -> dict[str, dict[str, int] | str]:
    return templates_sync_all_service()
