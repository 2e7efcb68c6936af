"""The 403 page speaks to the user's own roles: what the page needs, what they already have, whom to ask."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.providers.factories import provider_make

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_marketer_on_a_staff_page_is_told_it_needs_staff(page: Any, login: Any, marketer_user: Any) -> None:
    provider = provider_make()
    login(marketer_user, "pw-teammate-123")

    for path in ("/settings/channels/whatsapp/add/", f"/settings/channels/whatsapp/{provider.pk}/"):
        page.goto(path)
        refused = page.locator("#access-refused")
        assert refused.locator("h1").inner_text() == "You don't have access to this page"
        assert page.locator("#access-needs").inner_text() == "This page needs staff access."
        assert "You have the Marketer role" in page.locator("#access-held").inner_text()
        assert "Ask an administrator for staff access" in page.locator("#access-advice").inner_text()
        # Never asked to request the role they already hold.
        assert "for the Marketer role" not in refused.inner_text()
    page.screenshot(path=str(ARTIFACTS / "403-marketer.png"), full_page=True)
    page.get_by_role("link", name="Back to the dashboard").click()
    page.wait_for_url("**/")


def test_a_user_without_a_role_is_told_to_ask_for_the_marketer_role(page: Any, login: Any, outsider_user: Any) -> None:
    login(outsider_user, "pw-outsider-123")

    page.goto("/contacts/")
    assert page.locator("#access-needs").inner_text() == "This page needs the Marketer role."
    assert page.locator("#access-held").inner_text() == "Your account has no role yet."
    assert "Ask an administrator for the Marketer role" in page.locator("#access-advice").inner_text()
    # The dashboard is a marketer's page too: no link that would only refuse again.
    assert page.get_by_role("link", name="Back to the dashboard").count() == 0

    page.goto("/settings/channels/whatsapp/add/")
    assert page.locator("#access-needs").inner_text() == "This page needs staff access."
    page.screenshot(path=str(ARTIFACTS / "403-outsider.png"), full_page=True)
