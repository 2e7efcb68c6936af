"""Checks for a Nexmo application's private key: it must parse, be RSA ≥ 2048 bits, and sign a JWT."""

from __future__ import annotations

import hashlib

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError

MIN_RSA_BITS = 2048


def private_key_fingerprint(pem: str) -> str:
    """SHA-256 (hex) of the DER public key: identifies the key without revealing it."""
    key = _load(pem)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def private_key_validate(pem: str) -> str:
    """Raise ValidationError saying what is wrong with the key, or return its fingerprint."""
    key = _load(pem)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValidationError("Nexmo application keys are RSA; this is a different kind of key.", code="not_rsa")
    if key.key_size < MIN_RSA_BITS:
        raise ValidationError(
            f"The key has {key.key_size} bits; Nexmo needs RSA keys of at least {MIN_RSA_BITS} bits.", code="weak"
        )
    try:
        jwt.encode({"application_id": "check", "iat": 0}, pem.strip(), algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise ValidationError(f"The key cannot sign a JWT: {exc}", code="cannot_sign") from None
    return private_key_fingerprint(pem)


def _load(pem: str) -> rsa.RSAPrivateKey:
    text = (pem or "").strip()
    if "PRIVATE KEY-----" not in text:
        raise ValidationError(
            "Paste the whole private key, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----.",
            code="not_pem",
        )
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise ValidationError("The key is protected by a password; paste it unencrypted.", code="encrypted") from None
    except (ValueError, UnicodeError):
        raise ValidationError("This is not a readable PEM private key.", code="invalid") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValidationError("Nexmo application keys are RSA; this is a different kind of key.", code="not_rsa")
    return key
