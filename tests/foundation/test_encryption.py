from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.core import management
from django.db import connection
from django.test import override_settings

from providers.models import ProviderConfig
from whatsapp_project import encryption

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_round_trip_returns_the_plaintext() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        token = encryption.encrypt("-----BEGIN PRIVATE KEY----- secret")
        assert "secret" not in token
        assert encryption.decrypt(token) == "-----BEGIN PRIVATE KEY----- secret"


def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        old_token = encryption.encrypt("s3cret")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert encryption.decrypt(old_token) == "s3cret"
        rotated = encryption.rotate(old_token)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert encryption.decrypt(rotated) == "s3cret"
        with pytest.raises(encryption.DecryptionError):
            encryption.decrypt(old_token)


def test_tampered_token_raises_a_clear_error_not_garbage() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        token = encryption.encrypt("s3cret")
        tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
        with pytest.raises(encryption.DecryptionError, match="altered"):
            encryption.decrypt(tampered)
        with pytest.raises(encryption.DecryptionError):
            encryption.decrypt("not even base64 !!!")


@pytest.mark.django_db
def test_encrypted_field_stores_ciphertext_and_loads_plaintext() -> None:
    provider = ProviderConfig.objects.create(
        nickname="Main",
        phone_number="+447700900000",
        application_id="app",
        signature_secret="sig-secret-value",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT signature_secret FROM providers_providerconfig WHERE id = %s", [provider.pk])
        stored = cursor.fetchone()[0]
    assert "sig-secret-value" not in stored
    assert ProviderConfig.objects.get(pk=provider.pk).signature_secret == "sig-secret-value"


@pytest.mark.django_db
def test_a_row_encrypted_with_an_unknown_key_fails_loudly_on_load() -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        provider = ProviderConfig.objects.create(
            nickname="Main", phone_number="+447700900000", application_id="app", signature_secret="x"
        )
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]), pytest.raises(encryption.DecryptionError):
        ProviderConfig.objects.get(pk=provider.pk)


@pytest.mark.django_db
def test_dumpdata_carries_no_secret_text(capsys: pytest.CaptureFixture[str]) -> None:
    ProviderConfig.objects.create(
        nickname="Main",
        phone_number="+447700900000",
        application_id="app",
        signature_secret="sig-secret-value",
    )
    management.call_command("dumpdata", "providers", format="json")
    dumped = capsys.readouterr().out
    assert "sig-secret-value" not in dumped
    assert json.loads(dumped)[0]["fields"]["signature_secret"] == "<encrypted>"
