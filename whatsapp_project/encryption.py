"""Secrets at rest: MultiFernet over FIELD_ENCRYPTION_KEYS (the first key encrypts, all decrypt)."""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

# How dumpdata writes an encrypted value: a marker, then the Fernet token (under the current key).
DUMP_PREFIX = "fernet:"
# What dumps of earlier versions wrote instead of the value.
LEGACY_DUMP_PLACEHOLDER = "<encrypted>"


class DecryptionError(Exception):
    """A stored secret could not be decrypted: tampered, truncated, or written with a key we no longer hold."""


@cache
def _fernet() -> MultiFernet:
    keys: list[str] = settings.FIELD_ENCRYPTION_KEYS
    return MultiFernet([Fernet(key.encode()) for key in keys])


@receiver(setting_changed)
def _reset_keys(*, setting: str, **kwargs: Any) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise DecryptionError(
            "Stored secret cannot be decrypted: it was altered, or was encrypted with a key that is not in "
            "FIELD_ENCRYPTION_KEYS."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (current) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("Stored secret cannot be rotated: no configured key decrypts it.") from None


class EncryptedTextField(models.TextField):
    """Text kept encrypted in the database; Python code only ever sees plaintext ("" for no value)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        if not value:
            return ""
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str:
        value = super().get_prep_value(value)
        if not value:
            return ""
        return encrypt(str(value))

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata) carries the ciphertext, never plaintext, so a restored backup keeps working
        # secrets; loaddata needs a key of FIELD_ENCRYPTION_KEYS, like the database itself.
        value = self.value_from_object(obj)
        return f"{DUMP_PREFIX}{encrypt(str(value))}" if value else ""

    def to_python(self, value: Any) -> Any:
        # Only loaddata hands this field serialised text (forms and services set plaintext on the attribute).
        if isinstance(value, str) and value.startswith(DUMP_PREFIX):
            try:
                return decrypt(value.removeprefix(DUMP_PREFIX))
            except DecryptionError as exc:
                raise ValidationError(str(exc)) from None
        if value == LEGACY_DUMP_PLACEHOLDER:
            raise ValidationError(
                f"{self.name}: this dump holds {LEGACY_DUMP_PLACEHOLDER}, not the secret (it was written by an older "
                "version): dump the data again with this version, or set the secret again after loading."
            )
        return super().to_python(value)
