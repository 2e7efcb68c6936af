"""Vonage's WhatsApp Template Management API: list, create and delete the templates of a WhatsApp Business Account.

Reference: https://developer.vonage.com/en/api/whatsapp-template-management (OpenAPI 1.5.2) and the guide
https://developer.vonage.com/en/messages/guides/whatsapp-template-management:
- base `{api host}/v2/whatsapp-manager`, `Authorization: Bearer <JWT>`: the application's RS256 JWT, the one sends use
  (client.jwt_for), so a number that can send can manage its templates once it has its `waba_id`;
- `GET /wabas/{waba_id}/templates?limit=&after=&category=&language=&name=&status=&quality_score=&content=`: 200
  `{"templates": [...], "paging": {"cursors": {"before", "after"}, "next"?}}` (`limit` 1 to 500, default 25; `next`
  present only while there are more pages; each language variant is its own template object);
- `POST /wabas/{waba_id}/templates` `{"name", "language", "category", "allow_category_change"?, "components"}`:
  200 `{"id", "status", "category"}` (the shape of WhatsApp's own answer, which Vonage passes on);
- `DELETE /wabas/{waba_id}/templates?name=` (or `hsm_id=`): 200/204, no body;
- template object: `id, name, language, status, category, previous_category, components`, and, as WhatsApp returns
  them, `rejected_reason` and `quality_score` (`{"score": "GREEN"}` or a bare string; filter values GREEN, YELLOW,
  RED, UNKNOWN); statuses APPROVED, PENDING, REJECTED, PAUSED, DISABLED (and a few transitional ones);
- `POST /media/uploads?file_type=` multipart with the file in `mediafile` (file types image/jpeg, image/jpg, image/png,
  video/mp4): 200 `{"h": "<handle>"}`, the handle a media header's `example.header_handle` names;
- errors are RFC 7807 problem+json, as the Messages API's: read by NexmoError.from_response;
- the rate limit is 40 requests/s (the guide): the caller paces (templates_app.sync, under TEMPLATES_API_RATE).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from providers.nexmo.client import Credentials, _client, _unusable_url, answer_checked, request_parts
from providers.nexmo.errors import NexmoError

# Vonage allows up to 500 per page but advises smaller pages against timeouts on large accounts.
PAGE_SIZE = 250


@dataclass(frozen=True, slots=True)
class TemplatePage:
    """One page of a list: the templates as Vonage sent them and the cursor of the next page (None: last page)."""

    templates: list[dict[str, Any]]
    after: str | None


def _base(credentials: Credentials) -> str:
    return f"{credentials.base_url.rstrip('/')}/v2/whatsapp-manager"


def _call(
    credentials: Credentials,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    upload: tuple[str, bytes, str] | None = None,
) -> Any:
    """One request; the decoded JSON answer (None for an empty body), or NexmoError for any failure."""
    # The same checks and JWT as a send: a refused base URL or an unusable key fails here, before any request.
    _, headers = request_parts(credentials)
    url = f"{_base(credentials)}{path}"
    if upload is not None:
        headers.pop("Content-Type")  # multipart: httpx writes it with the boundary
    try:
        response = _client().request(
            method,
            url,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            content=json.dumps(body).encode() if body is not None else None,
            files={"mediafile": upload} if upload is not None else None,
            headers=headers,
        )
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise NexmoError(status=None, title="Could not reach Vonage", detail=type(exc).__name__) from exc
    except httpx.TimeoutException as exc:
        # Sent, no answer: a read changed nothing, a create may have gone (the next list shows it).
        raise NexmoError(
            status=None, title="No answer from Vonage in time", detail=type(exc).__name__, code="timeout"
        ) from exc
    except httpx.HTTPError as exc:
        raise NexmoError(status=None, title="Could not reach Vonage", detail=f"{type(exc).__name__}: {exc}") from exc
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise _unusable_url(exc) from exc
    return answer_checked(response)


def templates_list_page(
    *,
    credentials: Credentials,
    waba_id: str,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    filters: dict[str, str] | None = None,
) -> TemplatePage:
    """One page of the account's templates (filters: category, language, name, status, quality_score, content)."""
    answer = _call(
        credentials,
        "GET",
        f"/wabas/{quote(waba_id, safe='')}/templates",
        params={"limit": limit, "after": after, **(filters or {})},
    )
    if not isinstance(answer, dict) or not isinstance(answer.get("templates"), list):
        raise NexmoError(
            status=200, title="Unexpected answer from Vonage", detail="A template list without `templates`."
        )
    paging: dict[str, Any] = answer["paging"] if isinstance(answer.get("paging"), dict) else {}
    cursors: dict[str, Any] = paging["cursors"] if isinstance(paging.get("cursors"), dict) else {}
    # Only a `next` link means there is a further page; the `after` cursor is there on the last page too.
    following = cursors.get("after") if paging.get("next") else None
    templates = [t for t in answer["templates"] if isinstance(t, dict)]
    return TemplatePage(templates=templates, after=str(following) if following else None)


def template_create(*, credentials: Credentials, waba_id: str, template: dict[str, Any]) -> dict[str, Any]:
    """Submit a template for review; Vonage's answer (`id`, `status`, `category`)."""
    answer = _call(credentials, "POST", f"/wabas/{quote(waba_id, safe='')}/templates", body=template)
    return answer if isinstance(answer, dict) else {}


# The media upload's file types (Vonage's list: no documents).
UPLOAD_TYPES = ("image/jpeg", "image/jpg", "image/png", "video/mp4")


def media_upload(*, credentials: Credentials, filename: str, content: bytes, file_type: str) -> str:
    """Upload a media header's example; the handle to name in `example.header_handle`."""
    answer = _call(
        credentials, "POST", "/media/uploads", params={"file_type": file_type}, upload=(filename, content, file_type)
    )
    handle = answer.get("h") if isinstance(answer, dict) else None
    if not handle:
        raise NexmoError(status=200, title="Unexpected answer from Vonage", detail="A media upload without `h`.")
    return str(handle)


def template_delete(*, credentials: Credentials, waba_id: str, name: str, hsm_id: str = "") -> None:
    """Delete the template `hsm_id` (one language) or, without it, every language variant called `name`."""
    params = {"name": name, "hsm_id": hsm_id}
    _call(credentials, "DELETE", f"/wabas/{quote(waba_id, safe='')}/templates", params=params)
