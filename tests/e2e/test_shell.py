from typing import Any

import pytest

NAV = [
    ("Dashboard", "/", "Dashboard"),
    ("Templates", "/templates/", "Templates"),
    ("Contacts", "/contacts/", "Contacts"),
    ("Segments", "/segments/", "Segments"),
    ("Campaigns", "/campaigns/", "Campaigns"),
    ("Journeys", "/journeys/", "Journeys"),
    ("Messages", "/messages/", "Messages"),
    ("Settings › Channels › WhatsApp", "/settings/channels/whatsapp/", "WhatsApp"),
]


@pytest.mark.django_db(transaction=True)
def test_marketer_logs_in_and_visits_every_navigation_entry(page: Any, login: Any, marketer_user: Any) -> None:
    login(marketer_user, "pw-teammate-123")
    for link_text, path, heading in NAV:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=link_text, exact=True).click()
        page.wait_for_url(f"**{path}")
        assert heading in page.locator("h1").first.inner_text()
        assert page.locator("text=Page not found").count() == 0
        assert page.locator("text=Server error").count() == 0


@pytest.mark.django_db(transaction=True)
def test_login_with_a_wrong_password_shows_a_form_error(page: Any, marketer_user: Any) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", marketer_user.username)
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".form-errors").inner_text().startswith("Please enter a correct username")


@pytest.mark.django_db(transaction=True)
def test_navigation_is_usable_on_a_phone(browser: Any, live_server: Any, marketer_user: Any) -> None:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", marketer_user.username)
    page.fill("input[name=password]", "pw-teammate-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    nav_link = page.get_by_role("link", name="Contacts", exact=True)
    assert not nav_link.is_visible()
    page.click("label.nav-toggle-label")
    nav_link.click()
    page.wait_for_url("**/contacts/")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


@pytest.mark.django_db(transaction=True)
def test_account_menu_leads_to_the_api_token_page_and_logs_out(page: Any, login: Any, staff_user: Any) -> None:
    login(staff_user, "pw-owner-123")
    page.locator(".account-menu summary").click()
    assert page.get_by_role("link", name="Admin").is_visible()
    page.get_by_role("link", name="API token").click()
    page.wait_for_url("**/account/api-token/")
    page.get_by_role("button", name="Create token").click()
    assert len(page.locator("#api-token-key").inner_text().strip()) == 40
    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
