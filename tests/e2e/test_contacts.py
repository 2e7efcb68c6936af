from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contacts.models import Contact, Event
from providers.models import Message
from tests.e2e.conftest import ARTIFACTS
from tests.simulated import simulated_provider
from tests.templates_app.factories import template_make


@pytest.mark.django_db(transaction=True)
def test_marketer_imports_a_csv_watches_progress_then_builds_a_segment(
    page: Any, login: Any, marketer_user: Any, settings: Any, tmp_path: Path
) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"
    csv_path = tmp_path / "people.csv"
    csv_path.write_text(
        "Mobile,Name,Plan\n+447700900001,Ann,gold\n+447700900002,Bob,silver\n+447700900003,Cy,gold\nbad,Dee,gold\n"
    )
    login(marketer_user, "pw-teammate-123")

    page.goto("/contacts/")
    page.get_by_role("link", name="Import CSV").click()
    page.set_input_files("input[name=file]", str(csv_path))
    page.get_by_role("button", name="Upload and map columns").click()
    page.get_by_label("Plan").select_option("properties.plan")
    page.get_by_role("button", name="Start import").click()
    page.wait_for_selector("#import-progress[data-finished=true]")
    assert page.locator("#import-percent").inner_text() == "100"
    assert page.locator("#import-bar").get_attribute("aria-valuenow") == "100"
    assert page.locator("#import-created").inner_text() == "3"
    assert page.locator("#import-invalid").inner_text() == "1"
    assert Contact.objects.filter(properties__plan="gold").count() == 2

    page.goto("/segments/")
    page.get_by_role("link", name="New segment").click()
    page.fill("input[name=name]", "Gold plan")
    page.fill("input[name=conditions-0-key]", "plan")
    page.select_option("select[name=conditions-0-property_op]", "eq")
    page.fill("input[name=conditions-0-value]", "gold")
    expect(page.locator("#preview-count")).to_have_text("2")
    assert page.locator("#preview-sample li").count() == 2
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url("**/segments/*/")
    assert page.locator("#segment-count").inner_text() == "2"


@pytest.mark.django_db(transaction=True)
def test_import_reads_national_numbers_with_the_chosen_country_and_lists_refused_rows(
    page: Any, login: Any, marketer_user: Any, settings: Any, tmp_path: Path
) -> None:
    settings.CONTACT_IMPORT_DIR = tmp_path / "imports"
    csv_path = tmp_path / "uk.csv"
    csv_path.write_text("Mobile,Name,Plan\n07700 900001,Ann,gold\n+44 7700 900002,Bob,silver\n12,Dee,gold\n")
    login(marketer_user, "pw-teammate-123")

    page.goto("/contacts/imports/new/")
    page.set_input_files("input[name=file]", str(csv_path))
    page.get_by_role("button", name="Upload and map columns").click()
    # The mapping step shows what each column holds.
    expect(page.locator(".field", has=page.locator("#id_col_0"))).to_contain_text("07700 900001; +44 7700 900002; 12")
    expect(page.locator(".field", has=page.locator("#id_col_2"))).to_contain_text("In the file: gold; silver")
    page.screenshot(path=str(ARTIFACTS / "import-mapping.png"), full_page=True)
    page.get_by_label("Country of numbers without a country code").select_option("GB")
    page.get_by_role("button", name="Start import").click()
    page.wait_for_selector("#import-progress[data-finished=true]")

    expect(page.locator("#import-created")).to_have_text("2")
    expect(page.locator("#import-invalid")).to_have_text("1")
    assert set(Contact.objects.values_list("phone", flat=True)) == {"+447700900001", "+447700900002"}
    # The refused row and its reason are on the page, not only in the download.
    refused = page.locator("#import-refused tr[data-row='4']")
    expect(refused).to_contain_text("Mobile: 12")
    expect(refused).to_contain_text("Mobile: '12' is not a phone number")
    page.screenshot(path=str(ARTIFACTS / "import-summary.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_a_test_send_takes_numbers_typed_with_spaces(
    page: Any, login: Any, marketer_user: Any, live_server: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = live_server.url
    with simulated_provider(nickname="Demo WhatsApp") as (provider, simulator):
        template = template_make(provider=provider, name="welcome", body="Welcome!", status="approved")
        login(marketer_user, "pw-teammate-123")
        page.goto(f"/templates/{template.pk}/test/")
        page.get_by_label("Or phone numbers").fill("+44 7700 900001, +44 7700 900002")
        page.get_by_role("button", name="Send test").click()

        results = page.locator("[data-testid=test-result]")
        expect(results).to_have_count(2)
        expect(results.nth(0)).to_contain_text("+447700900001")
        expect(results.nth(0)).to_contain_text("Accepted")
        expect(results.nth(1)).to_contain_text("+447700900002")
        expect(results.nth(1)).to_contain_text("Accepted")
        assert page.locator(".field.has-error").count() == 0
        assert set(Message.objects.values_list("to", flat=True)) == {"+447700900001", "+447700900002"}
        assert len(simulator.messages(to="447700900001")) == 1


def _fits(page: Any, selector: str) -> bool:
    """Whether the element's whole content is inside it and it is inside its card (nothing cut off or spilling)."""
    return bool(
        page.eval_on_selector(
            selector,
            """el => {
                const card = el.closest('.card').getBoundingClientRect();
                const box = el.getBoundingClientRect();
                return el.scrollWidth <= el.clientWidth + 1 && box.left >= card.left && box.right <= card.right + 0.5;
            }""",
        )
    )


@pytest.mark.django_db(transaction=True)
def test_the_profile_card_shows_phone_email_and_last_inbound_in_full(page: Any, login: Any, marketer_user: Any) -> None:
    inbound = timezone.now() - timedelta(hours=2)
    contact = Contact.objects.create(
        phone="+447700900123",
        name="Ann",
        email="ann.marketing-operations.lead@very-long-company-domain.example.com",
        last_inbound_at=inbound,
    )
    login(marketer_user, "pw-teammate-123")
    page.goto(f"/contacts/{contact.pk}/")
    page.screenshot(path=str(ARTIFACTS / "profile.png"), full_page=True)

    expect(page.locator("#profile-phone")).to_have_text("+447700900123")
    expect(page.locator("#profile-email")).to_have_text(contact.email)
    shown = timezone.localtime(inbound).strftime("%Y-%m-%d %H:%M")
    expect(page.locator("#profile-last-inbound")).to_contain_text(shown)
    for selector in ("#profile-phone", "#profile-email", "#profile-last-inbound"):
        assert _fits(page, selector), f"{selector} is cut off"
    # On a phone as well.
    page.set_viewport_size({"width": 390, "height": 800})
    for selector in ("#profile-phone", "#profile-email", "#profile-last-inbound"):
        assert _fits(page, selector), f"{selector} is cut off on a narrow screen"


@pytest.mark.django_db(transaction=True)
def test_a_marketer_edits_a_contact_and_the_consent_change_is_kept_with_its_reason(
    page: Any, login: Any, marketer_user: Any
) -> None:
    contact = Contact.objects.create(
        phone="+447700900321", name="Ann", whatsapp_consent="subscribed", properties={"plan": "gold", "visits": 3}
    )
    login(marketer_user, "pw-teammate-123")
    page.goto(f"/contacts/{contact.pk}/")
    page.get_by_role("link", name="Edit contact").click()

    page.get_by_label("Name").fill("Ann Lee")
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_label("Test profile").check()
    page.fill("input[name=props-0-value]", "platinum")
    page.fill("input[name=props-2-key]", "city")
    page.fill("input[name=props-2-value]", "Leeds")
    page.get_by_label("WhatsApp consent").select_option("unsubscribed")
    page.get_by_role("button", name="Save contact").click()
    # Changing consent without saying why is refused on the form, nothing is saved.
    expect(page.locator(".field.has-error")).to_contain_text("Say why consent changes")
    page.screenshot(path=str(ARTIFACTS / "contact-edit.png"), full_page=True)
    page.get_by_label("Why consent changes").fill("Asked to stop on the phone")
    page.get_by_role("button", name="Save contact").click()

    page.wait_for_url(f"**/contacts/{contact.pk}/")
    expect(page.locator("h1")).to_have_text("Ann Lee")
    expect(page.locator("#profile-email")).to_have_text("ann@example.com")
    expect(page.locator("#profile-test")).to_have_text("yes")
    expect(page.locator("#properties")).to_contain_text("platinum")
    expect(page.locator("#properties")).to_contain_text("Leeds")
    history = page.locator("#consent-history li").first
    expect(history).to_contain_text("Unsubscribed via ui")
    expect(history).to_contain_text("Asked to stop on the phone")
    page.screenshot(path=str(ARTIFACTS / "contact-after-edit.png"), full_page=True)
    contact.refresh_from_db()
    assert contact.properties == {"plan": "platinum", "visits": 3, "city": "Leeds"}
    assert contact.is_test_profile and contact.whatsapp_consent == "unsubscribed"
    assert contact.consent_changes.get().reason == "Asked to stop on the phone"


@pytest.mark.django_db(transaction=True)
def test_the_segment_builder_offers_known_names_and_the_segment_reads_as_words(
    page: Any, login: Any, marketer_user: Any
) -> None:
    ann = Contact.objects.create(phone="+447700900401", name="Ann", properties={"plan": "gold", "city": "Leeds"})
    Contact.objects.create(phone="+447700900402", name="Bob", properties={"plan": "gold"})
    Contact.objects.create(phone="+447700900403", name="Cy", properties={"plan": "silver"})
    Event.objects.create(contact=ann, name="signup")
    login(marketer_user, "pw-teammate-123")

    page.goto("/segments/new/")
    # A blank form is unfinished, not wrong: no error anywhere, a hint in the preview.
    expect(page.locator("#preview-hint")).to_be_visible()
    expect(page.locator("#preview-errors li")).to_have_count(0)
    expect(page.locator(".error:visible")).to_have_count(0)
    # The technical widgets are gone: the group is implied by where a condition sits, no "Delete" box.
    expect(page.locator("input[name=conditions-0-group]")).to_have_attribute("type", "hidden")
    expect(page.get_by_label("Delete")).to_have_count(0)
    expect(page.get_by_label("Group")).to_have_count(0)
    # Names in use are offered.
    assert page.locator("#property-keys option").evaluate_all("els => els.map(e => e.value)") == ["city", "plan"]
    assert page.locator("#event-names option").evaluate_all("els => els.map(e => e.value)") == ["signup"]
    expect(page.locator("input[name=conditions-0-key]")).to_have_attribute("list", "property-keys")

    page.fill("input[name=name]", "New gold customers")
    page.fill("input[name=conditions-0-key]", "plan")
    page.fill("input[name=conditions-0-value]", "gold")
    expect(page.locator("#preview-count")).to_have_text("2")
    page.get_by_role("button", name="Add a condition").click()
    expect(page.locator("[data-condition]")).to_have_count(2)
    expect(page.locator(".error:visible")).to_have_count(0)
    page.select_option("select[name=conditions-1-type]", "event")
    expect(page.locator("input[name=conditions-1-event_name]")).to_have_attribute("list", "event-names")
    page.fill("input[name=conditions-1-event_name]", "signup")
    page.fill("input[name=conditions-1-days]", "30")
    expect(page.locator("#preview-count")).to_have_text("1")
    page.screenshot(path=str(ARTIFACTS / "segment-builder.png"), full_page=True)
    page.get_by_role("button", name="Save segment").click()

    page.wait_for_url("**/segments/*/")
    expect(page.locator("#segment-definition")).to_have_text("Plan is “gold” and did “signup” in the last 30 days")
    assert "'type'" not in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / "segment-detail.png"), full_page=True)
    page.goto("/segments/")
    expect(page.locator("table.list")).to_contain_text("Plan is “gold” and did “signup” in the last 30 days")

    # Removing a condition is a button on that condition.
    page.goto("/segments/")
    page.get_by_role("link", name="Edit").click()
    page.locator("[data-condition]").nth(1).get_by_role("button", name="Remove this condition").click()
    expect(page.locator("[data-condition]")).to_have_count(1)
    expect(page.locator("#preview-count")).to_have_text("2")
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("#segment-definition")).to_have_text("Plan is “gold”")
