from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker_and_no_worker(client: Client) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["database"] == "ok"
    assert body["broker"]["status"] == "ok"
    assert body["worker"] == {"alive": False, "last_seen": None}
    assert body["status"] == "degraded"


def test_healthz_sees_a_worker_heartbeat(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from django_q.status import Stat

    monkeypatch.setattr(Stat, "get_all", staticmethod(lambda broker=None: [SimpleNamespace(timestamp=timezone.now())]))
    body = client.get("/healthz").json()
    assert body["worker"]["alive"] is True
    assert body["status"] == "ok"


def test_healthz_is_503_when_the_database_is_down(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db.backends.utils import CursorWrapper

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("database gone")

    monkeypatch.setattr(CursorWrapper, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("error")
