"""Shared test setup: named users for permission tests, API clients, and a network guard."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.roles import MARKETER_GROUP
from accounts.services import api_token_create

_real_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address: Any) -> Any:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"Tests may not reach the network ({host}); fake Nexmo at the gateway instead.")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any outbound connection beyond loopback fails loudly: Nexmo is never called for real."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    yield


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("owner", "owner@example.com", "pw-owner-123", is_staff=True)


@pytest.fixture
def marketer_user(django_user_model: Any) -> Any:
    user = django_user_model.objects.create_user("teammate", "teammate@example.com", "pw-teammate-123")
    user.groups.add(Group.objects.get(name=MARKETER_GROUP))
    return user


@pytest.fixture
def outsider_user(django_user_model: Any) -> Any:
    """Signed in, but with no role."""
    return django_user_model.objects.create_user("outsider", "outsider@example.com", "pw-outsider-123")


def _api_client_for(user: Any) -> APIClient:
    client = APIClient()
    _, key = api_token_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def staff_api(staff_user: Any) -> APIClient:
    return _api_client_for(staff_user)


@pytest.fixture
def marketer_api(marketer_user: Any) -> APIClient:
    return _api_client_for(marketer_user)


@pytest.fixture
def outsider_api(outsider_user: Any) -> APIClient:
    return _api_client_for(outsider_user)
