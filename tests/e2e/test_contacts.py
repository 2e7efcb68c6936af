from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from contacts.models import Contact


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
