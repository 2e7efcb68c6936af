"""What we send, independent of Nexmo's payload versions: `providers/nexmo/payloads.py` turns these into JSON.

Higher apps (templates, campaigns, journeys) build these values and hand them to `providers.services`; they never
build provider JSON themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

MediaKind = Literal["image", "video", "file", "audio"]


@dataclass(frozen=True, slots=True)
class TextContent:
    """Free-form text: only allowed inside the contact's 24-hour window."""

    text: str


@dataclass(frozen=True, slots=True)
class MediaContent:
    kind: MediaKind
    url: str
    caption: str = ""


@dataclass(frozen=True, slots=True)
class TemplateContent:
    """An approved template whose only variables are in the body (`namespace:name` + parameters in v0.1)."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()
    # The message as the customer reads it (values filled in), for the message log; not part of what is sent.
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class CustomTemplateContent:
    """An approved template sent as WhatsApp's raw object: media headers, header text or button parameters."""

    name: str
    language: str
    components: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # As TemplateContent.text: the rendered message for the log.
    text: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class ListRow:
    id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ListSection:
    title: str
    rows: tuple[ListRow, ...]


@dataclass(frozen=True, slots=True)
class InteractiveContent:
    """Reply buttons or a list (`providers/interactive.py` builds and checks it); free-form, so only inside the
    24-hour window. Exactly one of `buttons` (id, title) and `sections` is set; `list_button` opens the list."""

    body: str
    header: str = ""
    footer: str = ""
    buttons: tuple[tuple[str, str], ...] = ()
    list_button: str = ""
    sections: tuple[ListSection, ...] = ()

    def choices(self) -> list[tuple[str, str]]:
        """(id, title) of every button, or every list row in order: what a customer can tap."""
        if self.buttons:
            return list(self.buttons)
        return [(row.id, row.title) for section in self.sections for row in section.rows]


Content = TextContent | MediaContent | TemplateContent | CustomTemplateContent | InteractiveContent
