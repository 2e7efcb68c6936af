"""The simulator reading the project's database: provider configs, their keys and callback URLs, and contact windows."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts.models import Contact
from demo import seed_provider
from providers.models import ProviderConfig
from providers.simulator import SimulatorConfig, run_in_thread
from providers.simulator.directory import channels_from_db, public_key_pem
from tests.simulator.conftest import CUSTOMER, HTTP, Keys, Receiver, text_v01
from tests.simulator.factories import ProviderConfigFactory


def send_as(provider: ProviderConfig, keys: Keys, base_url: str, body: dict[str, Any]) -> int:
    headers = {"Authorization": keys.bearer(provider.application_id)}
    return HTTP.post(f"{base_url}/v0.1/messages", json=body, headers=headers).status_code


def body_from(provider: ProviderConfig) -> dict[str, Any]:
    body = text_v01()
    body["from"]["number"] = provider.phone_number.lstrip("+")
    return body


@pytest.mark.django_db(transaction=True)
def test_provider_created_after_start_is_found_on_its_first_send(keys: Keys, receiver: Receiver) -> None:
    config = SimulatorConfig(load_channels_from_db=True, callback_base=receiver.url, enforce_window=False, seed=1)
    with run_in_thread(config) as handle:
        provider = ProviderConfigFactory.create(private_key=keys.private_pem)
        assert send_as(provider, keys, handle.base_url, body_from(provider)) == 202
        posts = receiver.wait(3)
    assert {p.path for p in posts} == {f"/callbacks/nexmo/{provider.callback_token}/status/"}
    assert all(p.headers["Authorization"].startswith("Bearer ") for p in posts)


@pytest.mark.django_db(transaction=True)
def test_inactive_provider_is_unknown(keys: Keys) -> None:
    provider = ProviderConfigFactory.create(private_key=keys.private_pem, is_active=False)
    with run_in_thread(SimulatorConfig(load_channels_from_db=True, callbacks=False)) as handle:
        assert send_as(provider, keys, handle.base_url, body_from(provider)) == 401


@pytest.mark.django_db
def test_channels_use_the_public_half_of_the_stored_key(keys: Keys, settings: Any) -> None:
    settings.PUBLIC_BASE_URL = "http://example.test"
    provider = ProviderConfigFactory.create(private_key=keys.private_pem, api_version="v1")
    ProviderConfigFactory.create(private_key="not a key")  # skipped with a warning, not fatal
    channels = channels_from_db(callback_base=None)
    assert channels is not None and len(channels) == 1
    channel = channels[0]
    assert channel.public_key_pem == keys.public_pem == public_key_pem(keys.private_pem)
    assert channel.status_url == provider.status_callback_url
    assert channel.number == provider.phone_number[1:]
    assert channel.api_version == "v1"


@pytest.mark.django_db(transaction=True)
def test_window_from_contact_last_inbound(keys: Keys, receiver: Receiver) -> None:
    provider = ProviderConfigFactory.create(private_key=keys.private_pem)
    Contact.objects.create(phone=f"+{CUSTOMER}", last_inbound_at=timezone.now() - timedelta(hours=2))
    Contact.objects.create(phone="+447700900002", last_inbound_at=timezone.now() - timedelta(hours=25))
    config = SimulatorConfig(load_channels_from_db=True, callback_base=receiver.url, window_from_db=True)
    with run_in_thread(config) as handle:
        open_body, closed_body = body_from(provider), body_from(provider)
        closed_body["to"]["number"] = "447700900002"
        send_as(provider, keys, handle.base_url, open_body)
        receiver.wait(3)
        send_as(provider, keys, handle.base_url, closed_body)
        receiver.wait(4)
    assert [p.json["status"] for p in receiver.posts] == ["submitted", "delivered", "read", "rejected"]


@pytest.mark.django_db
def test_demo_provider_is_seeded_once_and_points_at_the_simulator() -> None:
    first, second = seed_provider.seed(), seed_provider.seed()
    assert first.startswith("Provider: created Demo WhatsApp")
    assert second == "Provider: Demo WhatsApp already there."
    provider = ProviderConfig.objects.get(nickname="Demo WhatsApp")
    assert provider.api_base_url == "http://127.0.0.1:8025"
    assert provider.api_version == "v0.1" and provider.has_signature_secret
    assert "BEGIN PRIVATE KEY" in provider.private_key  # PKCS#8, as Nexmo issues keys
    assert channels_from_db(callback_base=None)


def test_command_refuses_a_key_file_without_an_application(tmp_path: Path) -> None:
    key_file = tmp_path / "public.pem"
    key_file.write_text("-----BEGIN PUBLIC KEY-----\n...")
    with pytest.raises(CommandError, match="go together"):
        call_command("nexmo_simulator", "--public-key-file", str(key_file), stdout=StringIO())


def test_command_refuses_a_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--public-key-file"):
        call_command(
            "nexmo_simulator",
            "--public-key-file",
            str(tmp_path / "nope.pem"),
            "--application-id",
            "a",
            stdout=StringIO(),
        )
