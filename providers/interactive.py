"""Interactive WhatsApp messages (reply buttons and lists): built from their JSON shape and checked against
WhatsApp's limits in this one place, used by journeys (save and publish), the inbox and the gateway.

Limits, from Meta's "Interactive reply buttons messages" and "Interactive list messages" pages
(developers.facebook.com/documentation/business-messaging/whatsapp/messages/): body 1,024 characters, header and
footer 60; reply buttons: 1 to 3, title 20, id 256, titles and ids unique; list: button label 20, 1 to 10 sections
holding 10 rows in all, section title 24 (required when there are several sections), row title 24, row id 200,
row description 72, row ids unique. Vonage sends them as the `custom` message type
(developer.vonage.com/messages/concepts/working-with-whatsapp-interactive-messages).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from providers.content import InteractiveContent, ListRow, ListSection

BODY_MAX = 1024
HEADER_MAX = FOOTER_MAX = 60
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
SECTIONS_MAX = 10
ROWS_MAX = 10
SECTION_TITLE_MAX = 24
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72

Problems = list[tuple[str, str]]  # (field, message), the field a path such as "buttons[1].title"


def _text(data: Mapping[str, Any], key: str, field: str, limit: int, problems: Problems, *, required: bool) -> str:
    value = data.get(key)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append((field, "Write it." if required else "Give text or leave it out."))
        return ""
    if len(value) > limit:
        problems.append((field, f"At most {limit} characters (this has {len(value)})."))
    return value


def _choice(
    item: Any, field: str, id_max: int, title_max: int, problems: Problems, seen: dict[str, set[str]]
) -> tuple[str, str] | None:
    if not isinstance(item, Mapping):
        problems.append((field, "Each option is an object with an id and a title."))
        return None
    before = len(problems)
    choice_id = _text(item, "id", f"{field}.id", id_max, problems, required=True)
    title = _text(item, "title", f"{field}.title", title_max, problems, required=True)
    for key, value in (("id", choice_id), ("title", title)):
        if value and value.strip().casefold() in seen[key]:
            problems.append((f"{field}.{key}", f"Two options have the {key} {value!r}; each must be different."))
        seen[key].add(value.strip().casefold())
    return (choice_id, title) if len(problems) == before else None


def _buttons(raw: Any, problems: Problems) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(("buttons", f"Give 1 to {BUTTONS_MAX} buttons, each with an id and a title."))
        return ()
    if len(raw) > BUTTONS_MAX:
        problems.append(("buttons", f"WhatsApp allows at most {BUTTONS_MAX} reply buttons (this has {len(raw)})."))
    seen: dict[str, set[str]] = {"id": set(), "title": set()}
    out = [
        _choice(item, f"buttons[{n}]", BUTTON_ID_MAX, BUTTON_TITLE_MAX, problems, seen) for n, item in enumerate(raw)
    ]
    return tuple(choice for choice in out if choice is not None)


def _row(item: Any, field: str, problems: Problems, seen: dict[str, set[str]]) -> ListRow | None:
    choice = _choice(item, field, ROW_ID_MAX, ROW_TITLE_MAX, problems, seen)
    if choice is None or not isinstance(item, Mapping):
        return None
    description = _text(item, "description", f"{field}.description", ROW_DESCRIPTION_MAX, problems, required=False)
    return ListRow(id=choice[0], title=choice[1], description=description)


def _list(raw: Any, problems: Problems) -> tuple[str, tuple[ListSection, ...]]:
    if not isinstance(raw, Mapping):
        problems.append(("list", "A list is an object with a button label and sections of rows."))
        return "", ()
    button = _text(raw, "button", "list.button", LIST_BUTTON_MAX, problems, required=True)
    sections_raw = raw.get("sections")
    if not isinstance(sections_raw, list) or not sections_raw:
        problems.append(("list.sections", "Give at least one section with rows."))
        return button, ()
    if len(sections_raw) > SECTIONS_MAX:
        problems.append(("list.sections", f"At most {SECTIONS_MAX} sections (this has {len(sections_raw)})."))
    seen: dict[str, set[str]] = {"id": set(), "title": set()}
    sections: list[ListSection] = []
    total = 0
    for s, section in enumerate(sections_raw):
        field = f"list.sections[{s}]"
        if not isinstance(section, Mapping):
            problems.append((field, "Each section is an object with a title and rows."))
            continue
        title = _text(section, "title", f"{field}.title", SECTION_TITLE_MAX, problems, required=len(sections_raw) > 1)
        rows_raw = section.get("rows")
        if not isinstance(rows_raw, list) or not rows_raw:
            problems.append((f"{field}.rows", "Give at least one row, each with an id and a title."))
            continue
        total += len(rows_raw)
        rows = [_row(item, f"{field}.rows[{r}]", problems, seen) for r, item in enumerate(rows_raw)]
        sections.append(ListSection(title=title, rows=tuple(row for row in rows if row is not None)))
    if total > ROWS_MAX:
        problems.append(("list.sections", f"A list holds at most {ROWS_MAX} rows in all (this has {total})."))
    return button, tuple(sections)


def option_id(title: str, n: int) -> str:
    """A reply id made from an option's title (`Not now` → `NOT_NOW`), for options given without one; `n` numbers
    an option whose title has no letters or digits."""
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_").upper()[:64] or f"OPTION_{n + 1}"


def buttons_with_ids(buttons: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Reply buttons as a person gives them (a title, maybe an id): ids made from the titles where none is given,
    buttons with neither left out. What is left is checked by `interactive_parse`."""
    given = [b for b in buttons if str(b.get("title") or "").strip() or str(b.get("id") or "").strip()]
    return [
        {**b, "id": str(b.get("id") or "").strip() or option_id(str(b.get("title") or "").strip(), n)}
        for n, b in enumerate(given)
    ]


def interactive_parse(data: Mapping[str, Any]) -> tuple[InteractiveContent | None, Problems]:
    """`{text, header?, footer?, buttons: [{id, title}] | list: {button, sections: [{title, rows: [{id, title,
    description?}]}]}}` → the content, or None with every problem found."""
    problems: Problems = []
    body = _text(data, "text", "text", BODY_MAX, problems, required=True)
    header = _text(data, "header", "header", HEADER_MAX, problems, required=False)
    footer = _text(data, "footer", "footer", FOOTER_MAX, problems, required=False)
    has_buttons, has_list = data.get("buttons") not in (None, []), data.get("list") not in (None, {})
    buttons: tuple[tuple[str, str], ...] = ()
    list_button, sections = "", cast(tuple[ListSection, ...], ())
    if has_buttons and has_list:
        problems.append(("buttons", "Give reply buttons or a list, not both."))
    elif has_buttons:
        buttons = _buttons(data.get("buttons"), problems)
    elif has_list:
        list_button, sections = _list(data.get("list"), problems)
    else:
        problems.append(("buttons", "Give reply buttons (up to 3) or a list for the customer to choose from."))
    if problems:
        return None, problems
    content = InteractiveContent(
        body=body, header=header, footer=footer, buttons=buttons, list_button=list_button, sections=sections
    )
    return content, []


def interactive_object(content: InteractiveContent) -> dict[str, Any]:
    """WhatsApp's interactive object, as Nexmo's `custom` type carries it."""
    interactive: dict[str, Any] = {"type": "button" if content.buttons else "list", "body": {"text": content.body}}
    if content.header:
        interactive["header"] = {"type": "text", "text": content.header}
    if content.footer:
        interactive["footer"] = {"text": content.footer}
    if content.buttons:
        interactive["action"] = {
            "buttons": [{"type": "reply", "reply": {"id": i, "title": t}} for i, t in content.buttons]
        }
    else:
        interactive["action"] = {
            "button": content.list_button,
            "sections": [
                {
                    **({"title": section.title} if section.title else {}),
                    "rows": [
                        {
                            "id": row.id,
                            "title": row.title,
                            **({"description": row.description} if row.description else {}),
                        }
                        for row in section.rows
                    ],
                }
                for section in content.sections
            ],
        }
    return {"type": "interactive", "interactive": interactive}


def interactive_summary(content: InteractiveContent) -> str:
    """The message as the customer reads it, for the message log: body, then the options in brackets."""
    parts = [content.header, content.body, content.footer]
    options = " ".join(f"[{title}]" for _, title in content.choices())
    if content.sections:
        options = f"{content.list_button}: {options}"
    return "\n".join(part for part in [*parts, options] if part)


def interactive_titles(body: Mapping[str, Any]) -> list[str]:
    """The titles of the buttons or list rows of a sent request body (v0.1 or v1), [] when it is not interactive."""
    message = body.get("message")
    content = message.get("content") if isinstance(message, Mapping) else None
    custom = content.get("custom") if isinstance(content, Mapping) else body.get("custom")
    if not isinstance(custom, Mapping) or custom.get("type") != "interactive":
        return []
    interactive = custom.get("interactive")
    action = interactive.get("action") if isinstance(interactive, Mapping) else None
    if not isinstance(action, Mapping):
        return []
    rows = [row for section in action.get("sections") or [] for row in section.get("rows") or []]
    return [str(item["reply"]["title"]) for item in action.get("buttons") or []] + [str(r["title"]) for r in rows]
