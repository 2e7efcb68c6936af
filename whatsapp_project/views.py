from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.defaults import page_not_found

from accounts.roles import access_refusal, is_staff, marketer_required
from whatsapp_project.dashboard import dashboard_figures

logger = logging.getLogger(__name__)

WORKER_FRESH_FOR = timedelta(seconds=90)


@marketer_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard.html", {"figures": dashboard_figures()})


def _worker_last_seen() -> str | None:
    from django_q.brokers import get_broker
    from django_q.status import Stat

    stats = Stat.get_all(get_broker()) or []
    seen = [stat.timestamp for stat in stats if getattr(stat, "timestamp", None)]
    return max(seen).isoformat() if seen else None


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 `{"status": "ok"}` or 503 `{"status": "down"}`; staff also see the report behind it."""
    report, healthy = _health_report()
    if not _is_staff_safely(request):
        # What runs where (broker type, worker heartbeats, error class names) is for staff only.
        return JsonResponse({"status": "ok" if healthy else "down"}, status=200 if healthy else 503)
    return JsonResponse(report, status=200 if healthy else 503)


def _is_staff_safely(request: HttpRequest) -> bool:
    try:
        return is_staff(request.user)
    except DatabaseError:  # the session or user could not be read: the bare answer then
        return False


def _health_report() -> tuple[dict[str, object], bool]:
    """Database, broker and worker liveness, and whether the site can serve (database and broker up)."""
    from django_q.brokers import get_broker

    report: dict[str, object] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure, whatever its type
        report["database"] = f"error: {type(exc).__name__}"
    try:
        broker = get_broker()
        report["broker"] = {"name": type(broker).__name__, "status": "ok" if broker.ping() else "error"}
    except Exception as exc:  # noqa: BLE001
        report["broker"] = {"status": f"error: {type(exc).__name__}"}
    try:
        last_seen = _worker_last_seen()
    except Exception:
        logger.warning("Could not read worker heartbeats", exc_info=True)
        last_seen = None
    alive = last_seen is not None and timezone.now() - datetime.fromisoformat(last_seen) < WORKER_FRESH_FOR
    report["worker"] = {"alive": alive, "last_seen": last_seen}
    broker_ok = isinstance(report["broker"], dict) and report["broker"].get("status") == "ok"
    healthy = report["database"] == "ok" and broker_ok
    report["status"] = "ok" if healthy and alive else ("degraded" if healthy else "down")
    return report, healthy


@login_not_required
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/") or request.path.startswith("/callbacks/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception or Exception("Not found"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 403 page, in terms of the user's own roles: what the page needs, what they have, whom to ask."""
    if request.path.startswith("/api/") or request.path.startswith("/callbacks/"):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return render(request, "403.html", access_refusal(request.user, exception), status=403)
