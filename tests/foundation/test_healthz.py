from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db


def _database_probe_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """healthz's probe fails as if the server were gone (the session lookup of a signed-in user still works)."""
    from django.db.backends.utils import CursorWrapper

    real = CursorWrapper.execute

    def broken(self: CursorWrapper, sql: str, *args: object, **kwargs: object) -> object:
        if sql == "SELECT 1":
            raise ConnectionError("database gone")
        return real(self, sql, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(CursorWrapper, "execute", broken)


@pytest.fixture
def staff_client(client: Client, staff_user: Any) -> Client:
    client.force_login(staff_user)
    return client


def test_anonymous_healthz_says_only_ok(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_anonymous_healthz_is_a_bare_503_when_the_database_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _database_probe_fails(monkeypatch)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "down"}


def test_signed_in_non_staff_get_no_details_either(client: Client, marketer_user: Any) -> None:
    client.force_login(marketer_user)
    assert client.get("/healthz").json() == {"status": "ok"}


def test_healthz_reports_database_and_broker_and_no_worker_to_staff(staff_client: Client) -> None:
    response = staff_client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["database"] == "ok"
    assert body["broker"]["status"] == "ok"
    assert body["worker"] == {"alive": False, "last_seen": None}
    assert body["status"] == "degraded"


def test_healthz_sees_a_worker_heartbeat(staff_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from django_q.status import Stat

    monkeypatch.setattr(Stat, "get_all", staticmethod(lambda broker=None: [SimpleNamespace(timestamp=timezone.now())]))
    body = staff_client.get("/healthz").json()
    assert body["worker"]["alive"] is True
    assert body["status"] == "ok"


def test_healthz_is_503_when_the_database_is_down(staff_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    _database_probe_fails(monkeypatch)
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("error")
