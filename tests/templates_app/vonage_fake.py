"""A fake of Vonage's Template Management API at the transport, and template objects as it lists them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

WABA = "345688589250625"
BASE = f"https://api.nexmo.test/v2/whatsapp-manager/wabas/{WABA}/templates"


def remote(name: str, *, status: str = "APPROVED", body: str = "Hi {{1}}", **extra: Any) -> dict[str, Any]:
    """A template object as Vonage lists it."""
    return {
        "id": extra.pop("id", f"id-{name}"),
        "name": name,
        "language": extra.pop("language", "en_US"),
        "status": status,
        "category": extra.pop("category", "MARKETING"),
        "components": extra.pop("components", [{"type": "BODY", "text": body}]),
        **extra,
    }


@dataclass
class FakeVonage:
    """Answers the management API from a list of templates, `page_size` per page; records every request."""

    templates: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    requests: list[httpx.Request] = field(default_factory=list)
    fail: Callable[[httpx.Request], httpx.Response | None] | None = None
    created: dict[str, Any] = field(
        default_factory=lambda: {"id": "9001", "status": "PENDING", "category": "MARKETING"}
    )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail is not None and (answer := self.fail(request)) is not None:
            return answer
        if request.method == "GET":
            after = request.url.params.get("after")
            start = int(after) + 1 if after else 0
            page = self.templates[start : start + self.page_size]
            paging: dict[str, Any] = {}
            if page:
                last = start + len(page) - 1
                paging["cursors"] = {"before": str(start), "after": str(last)}
                if last + 1 < len(self.templates):
                    paging["next"] = f"{BASE}?after={last}"
            return httpx.Response(200, json={"templates": page, "paging": paging})
        if request.method == "POST" and request.url.path.endswith("/media/uploads"):
            return httpx.Response(200, json={"h": "4::aGFuZGxl"})
        if request.method == "POST":
            return httpx.Response(200, json=self.created)
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(405)


def problem(status: int, **extra: Any) -> httpx.Response:
    body = {"type": "https://developer.vonage.com/api-errors#x", "title": "Refused", "detail": "No.", **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})
