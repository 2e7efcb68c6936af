"""Browser tests: the live server driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Screenshots of the screens the browser tests walk through, kept for a person to look at (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARTIFACTS.mkdir(parents=True, exist_ok=True)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API keeps an event loop in this thread; the test's own ORM calls are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def browser() -> Iterator[Any]:
    # Function-scoped on purpose: Playwright's sync API keeps an asyncio loop running in this thread while it is
    # open, which would break later tests in the same worker that call asyncio.run().
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium); browser tests need it.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
            browser.close()
        finally:
            # While Playwright is open, test code runs in a context of its event loop's: the database connections
            # Django opened there are not the ones the test database's teardown sees afterwards, and one left open
            # stopped PostgreSQL from dropping the test database ("being accessed by other users"). Close them here.
            from django.db import connections

            connections.close_all()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    refused: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Whatever the Content-Security-Policy blocks (an inline script, style or handler) is reported on the console.
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not refused, f"Content-Security-Policy refusals on the page: {refused}"


@pytest.fixture
def login(page: Any) -> Any:
    """Log the page in as `user` (password as the shared fixtures set it) through the real login form."""

    def _login(user: Any, password: str) -> Any:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        return page

    return _login
