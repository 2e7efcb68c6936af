"""The simulated WhatsApp Template Management API (Vonage's `/v2/whatsapp-manager`) and its control endpoints.

Shapes follow https://developer.vonage.com/en/api/whatsapp-template-management (see providers/nexmo/templates.py for
the fields we rely on). The review is configurable: a submitted template stays PENDING for `review_delay_s`, then
becomes APPROVED, or REJECTED with `reject_reason` when its name or body matches `reject_pattern`. The review is
settled lazily, when the template is next read, so it needs no timers.

Control endpoints (the cross-origin check of every /_sim/ POST applies):
- `POST /_sim/templates/status` `{"name", "language", "status", "reason"?, "waba_id"?}`: WhatsApp changes a template's
  status (pause one during a campaign);
- `GET|POST /_sim/templates/config` `{"review_delay_s", "reject_pattern", "reject_reason", "rate_limit"}`;
- `POST /_sim/templates/seed` `{"waba_id", "count", "status"?, "prefix"?}`: many templates at once (benchmarks, demo);
- `GET /_sim/templates` : the settings, counters (requests, the busiest second, throttled) and templates per account.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from providers.simulator import problems
from providers.simulator.http import Outcome, Request, Response, json_response

if TYPE_CHECKING:
    from providers.simulator.core import Simulator

log = logging.getLogger("providers.simulator")

API_PREFIX = "/v2/whatsapp-manager/"
PREFIX = f"{API_PREFIX}wabas/"
MEDIA_PATH = f"{API_PREFIX}media/uploads"
UPLOAD_TYPES = ("image/jpeg", "image/jpg", "image/png", "video/mp4")
STATUSES = ("PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED")
SETTABLE_STATUSES = ("APPROVED", "REJECTED", "PAUSED", "DISABLED", "PENDING")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
LIMIT_MAX = 500
LIMIT_DEFAULT = 25
ERRORS = "https://developer.vonage.com/api-errors/whatsapp-template-management"


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    review_delay_s: float = 2.0
    reject_pattern: str = ""  # a regular expression searched in the name and the body; empty: none rejected
    reject_reason: str = "INVALID_FORMAT"
    rate_limit: float = 40.0  # requests per second per account, Vonage's documented limit; over it: 429


@dataclass(slots=True)
class StoredTemplate:
    id: str
    name: str
    language: str
    category: str
    components: list[dict[str, Any]]
    status: str
    submitted_at: float
    rejected_reason: str = ""
    quality_score: str = "UNKNOWN"

    def body_text(self) -> str:
        return " ".join(str(c.get("text", "")) for c in self.components if str(c.get("type", "")).upper() == "BODY")

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "components": self.components,
            "quality_score": {"score": self.quality_score},
        }
        if self.rejected_reason:
            data["rejected_reason"] = self.rejected_reason
        return data


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def _uncursor(value: str) -> int | None:
    try:
        return int(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        return None


def invalid(detail: str, params: list[tuple[str, str]] | None = None) -> Response:
    return problems.problem(400, f"{ERRORS}#invalid-params", "Invalid parameters", detail, invalid=params)


class TemplateManager:
    """Every simulated WhatsApp Business Account's templates; lives on the simulator's event loop."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.config = ReviewConfig()
        self.clock = clock
        self.accounts: dict[str, dict[str, StoredTemplate]] = {}  # waba id -> template id -> template (in order)
        self.next_id = 1_000_000_000_000
        self.counters: dict[str, Any] = {"requests": 0, "throttled": 0, "busiest_second": 0}
        self._second = (0, 0)  # (epoch second, requests in it), over every account
        self._buckets: dict[str, tuple[float, float]] = {}
        self.loaded: set[str] = set()  # accounts whose registered templates were read from the database

    # ---- state

    def _id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def _review(self, template: StoredTemplate) -> None:
        """Settle a pending review whose delay has passed."""
        if template.status != "PENDING" or self.clock() < template.submitted_at + self.config.review_delay_s:
            return
        pattern = self.config.reject_pattern
        if pattern and (re.search(pattern, template.name) or re.search(pattern, template.body_text())):
            template.status, template.rejected_reason = "REJECTED", self.config.reject_reason
        else:
            template.status, template.quality_score = "APPROVED", "UNKNOWN"

    def add(
        self, *, waba_id: str, name: str, language: str, category: str, components: list[Any], status: str
    ) -> StoredTemplate:
        template = StoredTemplate(
            id=self._id(),
            name=name,
            language=language,
            category=category,
            components=components,
            status=status,
            submitted_at=self.clock(),
        )
        self.accounts.setdefault(waba_id, {})[template.id] = template
        return template

    def find(self, *, name: str, language: str, waba_id: str = "") -> StoredTemplate | None:
        accounts = [self.accounts.get(waba_id, {})] if waba_id else list(self.accounts.values())
        for templates in accounts:
            for template in templates.values():
                if template.name == name and template.language == language:
                    return template
        return None

    def reset(self) -> None:
        self.accounts.clear()
        self.loaded.clear()
        self.counters = {"requests": 0, "throttled": 0, "busiest_second": 0}
        self._second = (0, 0)
        self._buckets.clear()

    # ---- the management API

    def _count(self, waba_id: str) -> bool:
        """Count a request; False when it goes over the account's rate limit (a token bucket of one second)."""
        now = self.clock()
        self.counters["requests"] += 1
        second, seen = self._second
        self._second = (int(now), seen + 1 if int(now) == second else 1)
        self.counters["busiest_second"] = max(self.counters["busiest_second"], self._second[1])
        rate = self.config.rate_limit
        if rate <= 0:
            return True
        tokens, at = self._buckets.get(waba_id, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)
        if tokens < 1:
            self._buckets[waba_id] = (tokens, now)
            self.counters["throttled"] += 1
            return False
        self._buckets[waba_id] = (tokens - 1, now)
        return True

    def api(self, request: Request, authorized: bool) -> Outcome:
        """`/v2/whatsapp-manager/wabas/{id}/templates[...]`, after the caller checked the bearer JWT."""
        if not authorized:
            return problems.unauthorized()
        if request.path == MEDIA_PATH:
            return self.media_upload(request)
        rest = request.path.removeprefix(PREFIX).strip("/").split("/")
        if len(rest) < 2 or rest[1] != "templates" or not rest[0]:
            return problems.not_found(f"No {request.method} {request.path} here")
        waba_id = rest[0]
        if not self._count(waba_id):
            return problems.throttled()
        if len(rest) == 3 and request.method == "GET":
            found = self.accounts.get(waba_id, {}).get(rest[2])
            if found is None:
                return problems.not_found(f"No template {rest[2]} in account {waba_id}.")
            self._review(found)
            return json_response(200, found.as_json())
        if len(rest) != 2:
            return problems.not_found(f"No {request.method} {request.path} here")
        if request.method == "GET":
            return self.listing(waba_id, request.query)
        if request.method == "POST":
            return self.create(waba_id, request.body)
        if request.method == "DELETE":
            return self.delete(waba_id, request.query)
        return problems.method_not_allowed("GET, POST, DELETE")

    def listing(self, waba_id: str, query: dict[str, list[str]]) -> Response:
        def arg(name: str) -> str:
            return query.get(name, [""])[0]

        try:
            limit = int(arg("limit") or LIMIT_DEFAULT)
        except ValueError:
            limit = 0
        if not 1 <= limit <= LIMIT_MAX:
            return invalid(f"limit must be a number from 1 to {LIMIT_MAX}.", [("limit", "out of range")])
        start = 0
        if arg("after"):
            position = _uncursor(arg("after"))
            if position is None:
                return invalid("The `after` cursor is not one this API gave.", [("after", "unknown cursor")])
            start = position + 1
        rows = list(self.accounts.get(waba_id, {}).values())
        for row in rows:
            self._review(row)
        wanted = {
            "category": arg("category").upper(),
            "language": arg("language"),
            "status": arg("status").upper(),
            "quality_score": arg("quality_score").upper(),
        }
        name, content, either = arg("name").lower(), arg("content").lower(), arg("name_or_content").lower()
        selected: list[tuple[int, StoredTemplate]] = []
        for index, row in enumerate(rows):
            if index < start:
                continue
            if wanted["category"] and row.category != wanted["category"]:
                continue
            if wanted["language"] and row.language != wanted["language"]:
                continue
            if wanted["status"] and row.status != wanted["status"]:
                continue
            if wanted["quality_score"] and row.quality_score != wanted["quality_score"]:
                continue
            if name and name not in row.name.lower():
                continue
            if content and content not in row.body_text().lower():
                continue
            if either and either not in row.name.lower() and either not in row.body_text().lower():
                continue
            selected.append((index, row))
            if len(selected) > limit:
                break
        page, more = selected[:limit], len(selected) > limit
        paging: dict[str, Any] = {}
        if page:
            paging["cursors"] = {"before": _cursor(page[0][0]), "after": _cursor(page[-1][0])}
            if more:
                paging["next"] = f"{PREFIX}{waba_id}/templates?limit={limit}&after={_cursor(page[-1][0])}"
        return json_response(200, {"templates": [row.as_json() for _, row in page], "paging": paging})

    def create(self, waba_id: str, raw: bytes) -> Response:
        try:
            body = json.loads(raw or b"null")
        except ValueError as error:
            return invalid(f"The body is not JSON: {error}")
        if not isinstance(body, dict):
            return invalid("The body must be a template object.")
        params: list[tuple[str, str]] = []
        name, language, category = body.get("name"), body.get("language"), body.get("category")
        components = body.get("components")
        if not isinstance(name, str) or not NAME_RE.match(name):
            params.append(("name", "lowercase letters, digits and underscores, at most 512"))
        if not isinstance(language, str) or not language:
            params.append(("language", "required"))
        if category not in CATEGORIES:
            params.append(("category", f"one of {', '.join(CATEGORIES)}"))
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            params.append(("components", "a list of component objects"))
        elif not any(str(c.get("type", "")).upper() == "BODY" and c.get("text") for c in components):
            params.append(("components", "a BODY component with text is required"))
        if params:
            return invalid("The template did not validate.", params)
        if self.find(name=str(name), language=str(language), waba_id=waba_id) is not None:
            return invalid(
                f"A template called {name} already exists in {language}.", [("name", "already exists in language")]
            )
        template = self.add(
            waba_id=waba_id,
            name=str(name),
            language=str(language),
            category=str(category),
            components=list(components),  # type: ignore[arg-type]
            status="PENDING",
        )
        self._review(template)  # a review delay of 0 decides at once
        return json_response(200, {"id": template.id, "status": template.status, "category": template.category})

    def media_upload(self, request: Request) -> Response:
        """A media header's example: any multipart body with a `mediafile` part of an allowed type gets a handle."""
        if request.method != "POST":
            return problems.method_not_allowed("POST")
        file_type = request.query.get("file_type", [""])[0]
        if file_type not in UPLOAD_TYPES:
            return invalid(f"file_type must be one of {', '.join(UPLOAD_TYPES)}.", [("file_type", "not allowed")])
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        if not multipart or b'name="mediafile"' not in request.body:
            return invalid("Send the file as multipart/form-data in `mediafile`.", [("mediafile", "required")])
        self.counters["uploads"] = self.counters.get("uploads", 0) + 1
        handle = base64.urlsafe_b64encode(f"upload:{self.counters['uploads']}".encode()).decode()
        return json_response(200, {"h": f"4::{handle}"})

    def delete(self, waba_id: str, query: dict[str, list[str]]) -> Response:
        name, hsm_id = query.get("name", [""])[0], query.get("hsm_id", [""])[0]
        if not name and not hsm_id:
            return invalid("Give the template's name (or hsm_id).", [("name", "required")])
        templates = self.accounts.get(waba_id, {})
        doomed = [t.id for t in templates.values() if (hsm_id and t.id == hsm_id) or (not hsm_id and t.name == name)]
        if not doomed:
            return problems.not_found(f"No template {name or hsm_id} in account {waba_id}.")
        for template_id in doomed:
            del templates[template_id]
        return Response(200, b"")

    # ---- control endpoints

    def control(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/_sim/templates" and method == "GET":
            return json_response(200, self.summary())
        try:
            data = json.loads(request.body or b"{}") if method == "POST" else {}
        except ValueError as error:
            return json_response(400, {"detail": f"The body is not JSON: {error}"})
        if not isinstance(data, dict):
            return json_response(400, {"detail": "The body must be a JSON object."})
        if path == "/_sim/templates/status" and method == "POST":
            return self.status_set(data)
        if path == "/_sim/templates/config":
            if method == "POST":
                try:
                    self.configure(**data)
                except (TypeError, ValueError, re.error) as error:
                    return json_response(400, {"detail": str(error)})
            return json_response(200, asdict(self.config))
        if path == "/_sim/templates/seed" and method == "POST":
            return self.seed(data)
        return problems.not_found(f"No {method} {path} here")

    def configure(self, **changes: Any) -> None:
        unknown = sorted(set(changes) - set(ReviewConfig.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown template setting(s): {', '.join(unknown)}")
        if "reject_pattern" in changes:
            re.compile(str(changes["reject_pattern"]))
        typed: dict[str, Any] = {
            k: (str(v) if k in ("reject_pattern", "reject_reason") else float(v)) for k, v in changes.items()
        }
        self.config = replace(self.config, **typed)

    def status_set(self, data: dict[str, Any]) -> Response:
        name, language, status = str(data.get("name", "")), str(data.get("language", "")), str(data.get("status", ""))
        if status.upper() not in SETTABLE_STATUSES:
            return json_response(400, {"detail": f"status must be one of {', '.join(SETTABLE_STATUSES)}."})
        if not name or not language:
            return json_response(400, {"detail": "Give the template's name and language."})
        template = self.find(name=name, language=language, waba_id=str(data.get("waba_id", "")))
        if template is None:
            return json_response(404, {"detail": f"No template {name} ({language}) at the simulated WhatsApp."})
        template.status = status.upper()
        template.rejected_reason = str(data.get("reason", "")) if template.status != "APPROVED" else ""
        if template.status == "PAUSED":
            template.quality_score = "RED"  # WhatsApp pauses for low quality
        return json_response(200, template.as_json())

    def seed(self, data: dict[str, Any]) -> Response:
        waba_id, prefix = str(data.get("waba_id", "")), str(data.get("prefix", "seeded"))
        status = str(data.get("status", "APPROVED")).upper()
        try:
            count = int(data.get("count", 0))
        except (TypeError, ValueError):
            count = -1
        if not waba_id.isdigit() or not 0 < count <= 100_000 or status not in STATUSES or not NAME_RE.match(prefix):
            return json_response(
                400, {"detail": "Give waba_id (digits), count (1 to 100000), a status and a name prefix (a-z0-9_)."}
            )
        for number in range(count):
            body = f"Hello {{{{1}}}}, this is message {number} of {prefix}."
            self.add(
                waba_id=waba_id,
                name=f"{prefix}_{number:06d}",
                language="en_US",
                category="MARKETING",
                components=[{"type": "BODY", "text": body, "example": {"body_text": [["Ann"]]}}],
                status=status,
            )
        return json_response(200, {"created": count, "total": len(self.accounts[waba_id])})

    def endpoint(self, simulator: Simulator, request: Request) -> Outcome | Awaitable[Outcome]:
        """Route a request of the simulator's to the management API (bearer JWT checked as for sends) or a control.

        With provider configs read from the database (`make run`), an account's templates start as the ones the
        project registered for its numbers, as WhatsApp Manager would hold them: read once, on its first request.
        """
        from providers.simulator.core import UnknownApplication

        if request.path.startswith("/_sim/"):
            return self.control(request)
        header = request.headers.get("authorization", "")
        found = simulator.authorize(header) if simulator.config.verify_jwt else "anyone"
        from_db = simulator.config.load_channels_from_db
        waba_id = request.path.removeprefix(PREFIX).split("/")[0]
        load = from_db and waba_id.isdigit() and waba_id not in self.loaded
        if not load and not (from_db and isinstance(found, UnknownApplication)):
            return self.api(request, isinstance(found, str))

        async def after_reading_the_database() -> Outcome:
            granted = found
            if isinstance(granted, UnknownApplication):
                await simulator.refresh_channels(unknown=granted.application_id)
                granted = simulator.authorize(header)
            if load and waba_id not in self.loaded and isinstance(granted, str):
                rows = await simulator.in_db_thread(partial(registered_templates, waba_id))
                self.loaded.add(waba_id)
                for row in rows:
                    if self.find(name=row["name"], language=row["language"], waba_id=waba_id) is None:
                        self.add(waba_id=waba_id, **row)
            return self.api(request, isinstance(granted, str))

        return after_reading_the_database()

    def summary(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "counters": dict(self.counters),
            "accounts": {waba_id: len(templates) for waba_id, templates in self.accounts.items()},
        }


def registered_templates(waba_id: str) -> list[dict[str, Any]]:
    """The templates the project registered (not drafts, not deleted in WhatsApp) for the numbers of this account,
    in the create call's shape; run in the simulator's database thread. Empty when the database cannot be read."""
    from django.apps import apps
    from django.db import DatabaseError, close_old_connections

    # The simulator plays WhatsApp, which sits outside every layer: it reads templates_app's rows and writes them in
    # the shape the project submits, by that one function.
    from templates_app.sync import submit_examples_needed, template_components

    template_model = apps.get_model("templates_app", "Template")
    rows = []
    try:
        for template in template_model.objects.filter(provider__waba_id=waba_id, removed_at=None).exclude(
            status="draft"
        ):
            examples = {key: "example" for key, _ in submit_examples_needed(template)}
            try:
                components = template_components(template, examples=examples)
            except (KeyError, TypeError, ValueError):
                continue  # a hand-registered row too broken to have passed WhatsApp's review
            rows.append(
                {
                    "name": template.name,
                    "language": template.language,
                    "category": template.category.upper(),
                    "components": components,
                    "status": template.status.upper(),
                }
            )
    except DatabaseError as error:
        log.warning("Cannot read the registered templates (%s): account %s starts empty", error, waba_id)
        return []
    finally:
        close_old_connections()
    return rows
