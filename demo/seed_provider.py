"""The demo provider: a WhatsApp number on the local Nexmo simulator, so `make run` works without a Nexmo account."""

from __future__ import annotations

import hashlib
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers.models import ProviderConfig
from templates_app.sync import templates_sync_schedule_ensure

NICKNAME = "Demo WhatsApp"
PHONE_NUMBER = "+447700900000"
APPLICATION_ID = "0d3e0a99-15a1-4a7e-9c0d-000000008025"
SIMULATOR_URL = "http://127.0.0.1:8025"
# The simulated WhatsApp Business Account: its templates start as the demo's (the simulator reads them), and the
# periodic sync (and "Sync now" on the templates page) pulls their statuses from it.
WABA_ID = "100000000008025"


def private_key_new() -> tuple[str, str]:
    """A fresh RSA-2048 key as Nexmo issues them (PKCS#8 PEM), and the SHA-256 fingerprint of its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, hashlib.sha256(public).hexdigest()


def seed() -> str:
    templates_sync_schedule_ensure()
    if ProviderConfig.objects.filter(nickname=NICKNAME).exists():
        # A demo database from before template management gets its account id.
        ProviderConfig.objects.filter(nickname=NICKNAME, waba_id="").update(waba_id=WABA_ID)
        return f"Provider: {NICKNAME} already there."
    pem, fingerprint = private_key_new()
    ProviderConfig.objects.create(
        nickname=NICKNAME,
        phone_number=PHONE_NUMBER,
        application_id=APPLICATION_ID,
        private_key=pem,
        private_key_fingerprint=fingerprint,
        signature_secret=secrets.token_urlsafe(32),
        api_version="v0.1",
        api_base_url=SIMULATOR_URL,
        whatsapp_namespace="demo_namespace",
        waba_id=WABA_ID,
    )
    return f"Provider: created {NICKNAME} ({PHONE_NUMBER}) on the Nexmo simulator at {SIMULATOR_URL}."
