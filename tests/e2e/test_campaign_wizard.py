"""The campaign wizard as a marketer meets it: who the audience reaches before anything is sent, personalisation
first beside a live WhatsApp-style preview, the rest folded with defaults, and errors in words beside their field."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from contacts.models import Consent
from tests.contacts.factories import SegmentFactory
from tests.providers.factories import contact_make, provider_make
from tests.templates_app.factories import template_make

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-teammate-123"


def _test_profiles() -> None:
    contact_make(is_test_profile=True, whatsapp_consent=Consent.SUBSCRIBED, name="Ann", properties={"city": "Leeds"})
    contact_make(is_test_profile=True, whatsapp_consent=Consent.SUBSCRIBED, name="Bob")
    contact_make(is_test_profile=True, whatsapp_consent=Consent.UNSUBSCRIBED, name="Cat")
    contact_make(is_test_profile=True, whatsapp_consent=Consent.UNTRACKED, name="Dan")


def test_step_one_and_two_show_who_the_audience_reaches(page: Any, login: Any, marketer_user: Any) -> None:
    template = template_make(provider=provider_make(), name="spring_sale", body="Hi {{1}}")
    _test_profiles()
    segment = SegmentFactory.create(name="Test people")  # its definition: the test profiles
    login(marketer_user, PASSWORD)
    page.goto("/campaigns/new/")
    page.fill("input[name=name]", "Spring sale")
    page.select_option("select[name=template]", str(template.pk))
    page.select_option("select[name=audience]", "segment")
    page.select_option("select[name=segment]", str(segment.pk))

    expect(page.locator("#audience-reach")).to_have_text("4 match · 2 reachable (1 opted out, 1 not subscribed)")

    page.select_option("select[name=audience]", "test_profiles")  # test profiles need no opt-in, only no opt-out
    expect(page.locator("#audience-reach")).to_have_text("4 match · 3 reachable (1 opted out)")
    page.click("#step-audience button[type=submit]")
    expect(page.locator("#audience-reach")).to_have_text("4 match · 3 reachable (1 opted out)")

    page.goto(f"/segments/{segment.pk}/")
    expect(page.locator("#segment-reach")).to_have_text("4 match · 2 reachable (1 opted out, 1 not subscribed)")


def test_personalisation_comes_first_beside_a_live_preview(page: Any, login: Any, marketer_user: Any) -> None:
    template = template_make(
        provider=provider_make(),
        name="spring_sale",
        header_type="text",
        header_text="Spring offers",
        body="Hi {{1}} in {{2}}, use code {{3}}.",
        footer="Reply STOP to opt out",
    )
    _test_profiles()
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/new/details/?name=Spring&template={template.pk}&audience=test_profiles")

    personalisation, preview = page.locator("#personalisation"), page.locator("#wa-preview")
    first, beside = personalisation.bounding_box(), preview.bounding_box()
    assert first and beside and beside["x"] > first["x"] + first["width"] - 1  # side by side
    assert beside["y"] < first["y"] + first["height"]
    schedule = page.locator("#section-schedule").bounding_box()
    assert schedule and schedule["y"] > first["y"] + first["height"] - 1  # the rest comes after
    # The schedule, limits and goal start folded, saying their defaults.
    for section in ("schedule", "limits", "goal"):
        assert page.locator(f"#section-{section}").get_attribute("open") is None
    expect(page.locator("#section-limits summary")).to_contain_text("80 messages/s · no quiet hours · no frequency cap")
    expect(page.locator("#section-schedule summary")).to_contain_text("when you launch")
    expect(page.locator("input[name=throttle_per_second]")).to_be_hidden()
    # A text header takes no media URL.
    expect(page.locator("input[name=header_media_url]")).to_have_count(0)

    page.fill("input[name=var_1_name]", "name")
    page.fill("input[name=var_2_name]", "city")
    page.fill("input[name=var_2_fallback]", "your town")
    page.select_option("select[name=var_3_source]", "value")
    expect(page.locator("[data-field=var_3_fallback]")).to_be_hidden()  # a text for everyone has no fallback
    page.fill("input[name=var_3_name]", "SPRING")

    # Drawn as it is typed, with the first test profile's values, in the template editor's WhatsApp bubble.
    expect(preview).to_contain_text("Hi Ann in Leeds, use code SPRING.")
    expect(preview.locator(".wa-header")).to_have_text("Spring offers")
    expect(preview.locator(".wa-footer")).to_have_text("Reply STOP to opt out")


def test_errors_show_beside_their_field_in_words(page: Any, login: Any, marketer_user: Any) -> None:
    template = template_make(
        provider=provider_make(),
        name="spring_sale",
        body="Hi {{1}}",
        buttons=[{"type": "url", "text": "Shop", "url": "https://shop.example/{{1}}"}],
    )
    login(marketer_user, PASSWORD)
    page.goto(f"/campaigns/new/details/?name=Spring&template={template.pk}&audience=test_profiles")
    page.fill("input[name=var_1_name]", "name")
    page.click("#section-limits summary")
    page.fill("input[name=quiet_start_hour]", "22")  # without an end
    page.click("#step-details button.btn-primary")

    button_error = page.locator("[data-field='var_button.0_name'] .error")
    expect(button_error).to_have_text("Say where button 1's URL suffix comes from: a property, a value or a fallback.")
    expect(page.locator("#section-limits")).to_have_attribute("open", "")
    expect(page.locator("[data-field=quiet_end_hour] .error")).to_contain_text("Give both the start and the end")
    assert "button.0" not in page.inner_text("main")
