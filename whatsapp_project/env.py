"""Typed reading of settings from the environment: a bad value stops start-up and names the variable."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

# The URL schemes that name a PostgreSQL server (django-environ maps each to the postgresql backend).
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


class Env:
    """A thin, strict wrapper over django-environ that reports the variable behind every error."""

    def __init__(self, *env_files: Path) -> None:
        self._env = environ.Env()
        for path in env_files:
            if path.is_file():
                # Later files only fill what earlier ones (and the real environment) left unset.
                environ.Env.read_env(str(path), overwrite=False)

    def is_set(self, name: str) -> bool:
        return bool(self._env.str(name, default="").strip())

    def text(self, name: str, default: str | None = None) -> str:
        value = self._env.str(name, default=default)
        if value is None:
            raise ImproperlyConfigured(f"{name} is required but not set.")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._env.str(name, default="").strip().lower()
        if not raw:
            return default
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no), got {raw!r}.")

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self._env.str(name, default="").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}.") from None
        if minimum is not None and value < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._env.str(name, default="").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}.") from None
        if value < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
        return value

    def items(self, name: str, default: list[str]) -> list[str]:
        raw = self._env.str(name, default="").strip()
        if not raw:
            return default
        return [item.strip() for item in raw.split(",") if item.strip()]

    def url(self, name: str, default: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
        raw = self._env.str(name, default="").strip() or default
        parts = urlsplit(raw)
        if parts.scheme not in schemes or not parts.netloc:
            raise ImproperlyConfigured(
                f"{name} must be an absolute URL starting with {' or '.join(schemes)}://, got {raw!r}."
            )
        return raw.rstrip("/")

    def origins(self, name: str, default: list[str]) -> list[str]:
        """Comma-separated `scheme://host[:port]` origins (http or https, nothing after the host), lower-cased."""
        origins = []
        for item in self.items(name, default):
            try:
                parts = urlsplit(item)
                port = parts.port
            except ValueError:
                parts, port = None, None
            if (
                parts is None
                or parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.username is not None
                or parts.password is not None
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
            ):
                raise ImproperlyConfigured(
                    f"{name}: {item!r} is not an origin such as https://host or http://host:8025."
                )
            origin = f"{parts.scheme}://{parts.hostname.lower()}"
            origins.append(f"{origin}:{port}" if port is not None else origin)
        return origins

    def database(self, name: str, default: str) -> dict[str, object]:
        """A PostgreSQL URL, the only database the project runs on."""
        raw = self._env.str(name, default="").strip() or default
        scheme = urlsplit(raw).scheme
        if scheme not in POSTGRES_SCHEMES:
            raise ImproperlyConfigured(
                f"{name} must be a PostgreSQL URL such as postgres://user@host:5432/name (PostgreSQL is required), "
                f"got scheme {scheme!r}."
            )
        try:
            config = environ.Env.db_url_config(raw)
        except (ImproperlyConfigured, KeyError, ValueError) as exc:
            raise ImproperlyConfigured(f"{name} is not a database URL we understand: {exc}") from None
        return config

    def fernet_keys(self, name: str) -> list[str]:
        keys = self.items(name, [])
        for index, key in enumerate(keys, start=1):
            try:
                decoded = base64.urlsafe_b64decode(key.encode())
            except (binascii.Error, ValueError):
                decoded = b""
            if len(decoded) != 32:
                raise ImproperlyConfigured(
                    f"{name}: key #{index} is not a Fernet key (32 url-safe base64-encoded bytes). "
                    "Generate one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'"
                )
        return keys
