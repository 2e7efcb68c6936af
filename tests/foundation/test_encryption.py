from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core import management
from django.core.management import CommandError
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


def _provider_with_secrets() -> ProviderConfig:
    return ProviderConfig.objects.create(
        nickname="Main",
        phone_number="+447700900000",
        application_id="app",
        private_key="-----BEGIN PRIVATE KEY-----\nkey-body\n-----END PRIVATE KEY-----\n",
        signature_secret="sig-secret-value",
    )


def _dump(capsys: pytest.CaptureFixture[str]) -> str:
    management.call_command("dumpdata", "providers.providerconfig", format="json")
    return capsys.readouterr().out


@pytest.mark.django_db
def test_dumpdata_carries_ciphertext_not_the_secret_text(capsys: pytest.CaptureFixture[str]) -> None:
    _provider_with_secrets()
    dumped = _dump(capsys)
    assert "sig-secret-value" not in dumped and "key-body" not in dumped
    fields = json.loads(dumped)[0]["fields"]
    assert fields["signature_secret"].startswith(encryption.DUMP_PREFIX)
    assert fields["private_key"].startswith(encryption.DUMP_PREFIX)


@pytest.mark.django_db
def test_a_dump_loaded_back_keeps_working_secrets(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    provider = _provider_with_secrets()
    dump = tmp_path / "providers.json"
    dump.write_text(_dump(capsys))
    ProviderConfig.objects.all().delete()

    management.call_command("loaddata", str(dump), verbosity=0)

    restored = ProviderConfig.objects.get(pk=provider.pk)
    assert restored.signature_secret == "sig-secret-value"
    assert restored.private_key == provider.private_key


@pytest.mark.django_db
def test_loading_a_dump_without_its_key_refuses_naming_the_setting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        _provider_with_secrets()
        dump = tmp_path / "providers.json"
        dump.write_text(_dump(capsys))
        ProviderConfig.objects.all().delete()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]), pytest.raises(CommandError) as refused:
        management.call_command("loaddata", str(dump), verbosity=0)
    assert "FIELD_ENCRYPTION_KEYS" in str(refused.value)
    assert not ProviderConfig.objects.exists()


@pytest.mark.django_db
def test_an_old_dump_with_placeholders_is_refused_not_stored(tmp_path: Path) -> None:
    dump = tmp_path / "old.json"
    fields = {"nickname": "Old", "phone_number": "+447700900009", "application_id": "app"}
    fields |= {"private_key": "<encrypted>", "signature_secret": "<encrypted>", "callback_token": "tok"}
    dump.write_text(json.dumps([{"model": "providers.providerconfig", "pk": 7, "fields": fields}]))
    with pytest.raises(CommandError, match="older"):
        management.call_command("loaddata", str(dump), verbosity=0)
