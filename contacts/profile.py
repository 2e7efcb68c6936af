"""Sections that higher apps add to the contact profile page, without contacts importing them.

An app registers a section in its AppConfig.ready(): a title, a template, and a function that returns the template's
context for one contact (e.g. providers adds the message timeline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contacts.models import Contact


@dataclass(frozen=True, slots=True)
class ProfileSection:
    key: str
    title: str
    template: str
    context: Callable[[Contact], dict[str, Any]]


_sections: dict[str, ProfileSection] = {}


def profile_section_register(
    *, key: str, title: str, template: str, context: Callable[[Contact], dict[str, Any]]
) -> None:
    """Add (or replace, by key) a section of the contact profile page."""
    _sections[key] = ProfileSection(key=key, title=title, template=template, context=context)


def profile_sections(contact: Contact) -> list[dict[str, Any]]:
    """The registered sections, each with its context for this contact, in registration order."""
    return [
        {"key": s.key, "title": s.title, "template": s.template, "context": s.context(contact)}
        for s in _sections.values()
    ]
