import pytest

from contacts import profile
from contacts.models import Contact
from contacts.profile import profile_section_register, profile_sections


@pytest.mark.django_db
def test_registered_sections_get_their_context_per_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("contacts.profile._sections", dict(profile._sections))
    profile_section_register(
        key="test-notes", title="Notes", template="x.html", context=lambda contact: {"phone": contact.phone}
    )
    sections = {s["key"]: s for s in profile_sections(Contact.objects.create(phone="+447700900001"))}
    assert sections["test-notes"]["context"] == {"phone": "+447700900001"}
    assert sections["test-notes"]["title"] == "Notes"
    # Apps above contacts register theirs at start-up, e.g. the message timeline.
    assert sections["messages"]["template"] == "providers/includes/contact_messages.html"
