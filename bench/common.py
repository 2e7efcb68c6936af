"""Pieces every server benchmark needs: a throwaway PostgreSQL database, production-like settings, a free port."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit, urlunsplit


def _server_url() -> str:
    """The server every benchmark database is made on: BENCH_DATABASE_URL's, else the one `make bench` started."""
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432"
    return urlunsplit(urlsplit(raw)._replace(path="", query="", fragment=""))


PG_URL = _server_url()


def psql(sql: str, database: str = "postgres") -> None:
    """One statement in autocommit (CREATE/DROP DATABASE, VACUUM, CHECKPOINT) on `database` of the bench server."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/{database}", autocommit=True) as conn:
        conn.execute(sql)


def production_env(database: str, **extra: str) -> dict[str, str]:
    """The environment of a server under test: DEBUG off, a real key, its own database."""
    from cryptography.fernet import Fernet

    return os.environ | {
        "DATABASE_URL": f"{PG_URL}/{database}",
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "x" * 60,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "FIELD_ENCRYPTION_KEYS": os.environ.get("BENCH_FERNET_KEY") or Fernet.generate_key().decode(),
        "LOG_LEVEL": "ERROR",
        "TESTING": "false",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
