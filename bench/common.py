"""Pieces every server benchmark needs: a throwaway PostgreSQL database, production-like settings, a free port."""

from __future__ import annotations

import os
import socket
import subprocess

PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_URL}/postgres", "-qc", sql], check=True, capture_output=True)


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
