"""API tokens: create (the key is returned once), revoke; only a hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction

from accounts.models import ApiToken

PREFIX_LENGTH = 8


def api_token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new key for `user`, replacing any previous one (which stops working at once); returns (token, key)."""
    ApiToken.objects.filter(user=user).delete()
    key = secrets.token_hex(20)
    token = ApiToken.objects.create(
        user=user, key_hash=api_token_hash(key), prefix=key[:PREFIX_LENGTH], expires_at=expires_at
    )
    return token, key


def api_token_revoke(*, user: User) -> bool:
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return bool(deleted)
