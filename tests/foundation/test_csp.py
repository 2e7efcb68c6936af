"""Content-Security-Policy: Django's own, with no inline script or style to allow (issue 15, point 18)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)

# An inline <script> (one without src; JSON data blocks are not run), an on* handler, a style attribute or block,
# or a javascript: URL: what a policy without 'unsafe-inline' refuses.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"
    r"|\son[a-z]+\s*=|\sstyle\s*=|<style\b|javascript:",
    re.IGNORECASE,
)


def _templates() -> list[Path]:
    skip = {".venv", "node_modules", "static_root", "bench"}
    return [p for p in ROOT.rglob("*.html") if not skip.intersection(p.relative_to(ROOT).parts)]


def test_no_template_needs_inline_script_or_style() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for path in _templates()
        for match in INLINE.finditer(path.read_text())
    ]
    assert _templates() and not found, found


def test_pages_carry_a_policy_without_unsafe_inline(client: Client, staff_user: Any) -> None:
    client.force_login(staff_user)
    for path in ["/", "/accounts/login/", "/settings/channels/whatsapp/", "/api/docs/"]:
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        assert directives["default-src"] == "'self'", path
        assert directives["script-src"] == "'self'", path
        assert directives["style-src"] == "'self'", path
        assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'", path
        assert "unsafe" not in policy, path


def test_the_api_docs_page_loads_its_script_and_styles_from_files(client: Client, staff_user: Any) -> None:
    client.force_login(staff_user)
    page = client.get("/api/docs/").content.decode()
    assert not INLINE.search(page), INLINE.search(page)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
