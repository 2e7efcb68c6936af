from typing import Any

import pytest
from playwright.sync_api import expect

NAV = [
    ("Dashboard", "/", "Dashboard"),
    ("Templates", "/templates/", "Templates"),
    ("Contacts", "/contacts/", "Contacts"),
    ("Segments", "/segments/", "Segments"),
    ("Campaigns", "/campaigns/", "Campaigns"),
    ("Journeys", "/journeys/", "Journeys"),
    ("Messages", "/messages/", "Messages"),
    ("WhatsApp numbers", "/settings/channels/whatsapp/", "WhatsApp"),
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


@pytest.mark.django_db(transaction=True)
def test_api_docs_admin_and_a_provider_page_work_under_the_content_security_policy(
    page: Any, login: Any, staff_user: Any
) -> None:
    from tests.providers.factories import provider_make

    staff_user.is_superuser = True
    staff_user.save()
    provider = provider_make()
    login(staff_user, "pw-owner-123")
    # Swagger UI builds the page from its init script, served as a file: operations appear only if it ran.
    page.goto("/api/docs/")
    page.wait_for_selector(".opblock", timeout=30_000)
    page.goto("/admin/")
    page.wait_for_selector("#content")
    # The callback-URL reset asks first (data-confirm, handled by app.js): dismissing keeps the URLs.
    page.goto(f"/settings/channels/whatsapp/{provider.pk}/")
    before = page.locator("#inbound-url").inner_text()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Regenerate callback URLs").click()
    page.wait_for_timeout(300)
    assert page.locator("#inbound-url").inner_text() == before
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Regenerate callback URLs").click()
    expect(page.locator("#inbound-url")).not_to_have_text(before)
