"""Database helpers shared by the hot bulk paths."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection


@contextmanager
def server_side_cursor() -> Iterator[Any]:
    """psycopg's own cursor on Django's connection (PostgreSQL), inside whatever transaction Django has open.

    Parameters travel separately from the SQL text: arrays go as they are, and a statement whose text does not
    change is prepared once per connection. Django's cursor would quote every value into new SQL text in Python,
    which on bulk statements costs more CPU than the statement itself.
    """
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        yield cursor
