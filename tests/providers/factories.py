"""Factories and helpers for provider tests: RSA keys, provider configs, contacts, signed callbacks, fake Nexmo."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any, cast

import factory
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from contacts.models import Contact
from providers.keys import private_key_fingerprint
from providers.models import Message, ProviderConfig


@cache
def rsa_pem(bits: int = 2048, n: int = 0) -> str:
    """A PKCS#8 PEM private key (cached per size and index: generating one takes a while)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private_pem: str) -> bytes:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderConfig

    nickname = factory.Sequence(lambda n: f"Number {n}")
    phone_number = factory.Sequence(lambda n: f"+4477009{n:05d}")
    application_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    private_key = factory.LazyFunction(rsa_pem)
    private_key_fingerprint = factory.LazyAttribute(lambda o: private_key_fingerprint(o.private_key))
    api_base_url = "https://api.nexmo.test"
    whatsapp_namespace = "acme_ns"
    # Numbers at the top tier: a test's own rate decides its pace unless it is about the number's cap.
    max_messages_per_second = 1000


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+4477009{n + 50000:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")


def provider_make(**kwargs: Any) -> ProviderConfig:
    return cast(ProviderConfig, ProviderFactory(**kwargs))


def contact_make(**kwargs: Any) -> Contact:
    return cast(Contact, ContactFactory(**kwargs))


def message_make(*, provider: ProviderConfig, contact: Contact | None = None, **kwargs: Any) -> Message:
    """An outbound message as the log holds it (a queued text to the contact unless told otherwise)."""
    values: dict[str, Any] = {
        "to": contact.phone if contact else "+447700900001",
        "client_ref": f"msg-{uuid.uuid4().hex[:16]}",
        "origin": "test",
        "content_type": "text",
        "request_body": {},
    }
    return cast(Message, Message.objects.create(provider=provider, contact=contact, **{**values, **kwargs}))


def window_open_contact(**kwargs: Any) -> Contact:
    return contact_make(last_inbound_at=timezone.now() - timedelta(hours=1), **kwargs)


def sign(body: bytes, secret: str, *, iat: float | None = None, payload_hash: str | None = None) -> str:
    """The `Authorization` header Nexmo sends with a signed callback."""
    claims = {
        "iat": int(time.time() if iat is None else iat),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "api_key": "abcd1234",
        "payload_hash": payload_hash or hashlib.sha256(body).hexdigest(),
    }
    return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")


class FakeNexmo:
    """An httpx.MockTransport handler that records requests and answers from a script (default: 202 + uuid)."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer(request)
        return httpx.Response(202, json={"message_uuid": str(uuid.uuid4())})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]
