"""A template plus values → the content object the gateway sends, and a plain-text preview for the UI and logs.

Values are keyed by *slot*: `"1"`, `"2"` … for body variables, `"header"` for the header (its text variable, the
media URL of an image/video/document header, or a location), `"button.<index>"` for a button (the dynamic suffix of
a URL button, the payload of a quick reply; `index` is the button's 0-based position, as WhatsApp counts it).

Each slot is filled, in order, from explicit `parameters`, from the `variables` mapping (contact property or field,
event property, constant; each with an optional fallback), then from the template's own default (its example media,
location, or a quick reply's configured payload). A required slot left empty raises `TemplateVariableMissing`:
a message never goes out with an empty variable.

Component shapes follow WhatsApp's template message object
(https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages#template-object).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from contacts.models import Contact
from providers.content import CustomTemplateContent, TemplateContent
from templates_app.models import MEDIA_HEADERS, HeaderType, Template
from templates_app.rules import (
    HEADER_TEXT_MAX,
    URL_SUFFIX_VARIABLE,
    VARIABLE_RE,
    location_problems,
    variables_in,
)

# Contact columns a mapping may name; anything else is looked up in `contact.properties`.
CONTACT_FIELDS = ("name", "phone", "email", "external_id", "language", "timezone")
SOURCES = ("value", "property", "field", "event")
# WhatsApp rejects parameters with new lines, tabs or more than four spaces in a row (error 132018).
_WHITESPACE_RE = re.compile(r"\s+")

SlotKind = Literal["body", "header_text", "header_media", "header_location", "url_suffix", "quick_reply_payload"]


class TemplateRenderError(ValueError):
    """The template cannot be rendered with the values given; the message says which variable and why."""


class TemplateVariableMissing(TemplateRenderError):
    """A variable has no value (and no fallback): raised before anything is sent."""

    def __init__(self, variable: str, label: str) -> None:
        self.variable = variable
        super().__init__(f"No value for {label}: give a parameter, map it to a property or add a fallback.")


@dataclass(frozen=True, slots=True)
class Slot:
    """One value a template needs (or may take) when it is sent."""

    key: str
    label: str
    kind: SlotKind
    required: bool
    default: Any = None


@dataclass(frozen=True, slots=True)
class RenderedTemplate:
    content: TemplateContent | CustomTemplateContent
    preview: str
    values: dict[str, Any] = field(default_factory=dict)


def template_slots(template: Template) -> list[Slot]:
    """What `template` needs filled to be sent, in WhatsApp's component order (header, body, buttons)."""
    slots: list[Slot] = []
    kind = template.header_type
    if kind == HeaderType.TEXT and variables_in(template.header_text):
        slots.append(Slot("header", "the header's {{1}}", "header_text", True))
    elif kind in MEDIA_HEADERS:
        slots.append(Slot("header", f"the header {kind} URL", "header_media", True, template.header_media_url or None))
    elif kind == HeaderType.LOCATION:
        slots.append(Slot("header", "the header location", "header_location", True, template.header_location or None))
    for number in sorted(set(variables_in(template.body))):
        slots.append(Slot(str(number), f"{{{{{number}}}}}", "body", True))
    for index, button in enumerate(template.buttons or []):
        key = f"button.{index}"
        if button.get("type") == "url" and str(button.get("url", "")).endswith(URL_SUFFIX_VARIABLE):
            slots.append(Slot(key, f"button {index + 1}'s URL suffix", "url_suffix", True))
        elif button.get("type") == "quick_reply":
            payload = button.get("payload") or None
            slots.append(Slot(key, f"button {index + 1}'s payload", "quick_reply_payload", False, payload))
    return slots


def _lookup(data: Mapping[str, Any] | None, path: str) -> Any:
    """`data["a"]["b"]` for `"a.b"`, or None when any step is missing."""
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ({}, [])


def _mapped_value(slot: Slot, spec: Any, contact: Contact | None, event_properties: Mapping[str, Any] | None) -> Any:
    if isinstance(spec, bool) or not isinstance(spec, str | int | float | Decimal | dict):
        raise TemplateRenderError(f'The mapping for {slot.label} must be an object such as {{"property": "name"}}.')
    if not isinstance(spec, dict):
        return spec  # a bare constant
    sources = [source for source in SOURCES if source in spec]
    if len(sources) != 1:
        raise TemplateRenderError(f"The mapping for {slot.label} needs exactly one of {', '.join(SOURCES)}.")
    source = sources[0]
    name = spec[source]
    if source == "value":
        value = name
    elif not isinstance(name, str) or not name:
        raise TemplateRenderError(f"The mapping for {slot.label} must name a {source}.")
    elif source == "event":
        value = _lookup(event_properties, name)
    elif source == "field" and name not in CONTACT_FIELDS:
        raise TemplateRenderError(f"The mapping for {slot.label}: {name!r} is not one of {', '.join(CONTACT_FIELDS)}.")
    elif contact is None:
        value = None
    elif name in CONTACT_FIELDS:
        value = getattr(contact, name)
    else:
        value = _lookup(contact.properties, name)
    if _empty(value):
        value = spec.get("fallback")
    return value


def _as_text(slot: Slot, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise TemplateRenderError(f"The value for {slot.label} must be text, not {type(value).__name__}.")
    return _WHITESPACE_RE.sub(" ", str(value)).strip()


def _location(slot: Slot, value: Any) -> dict[str, Any]:
    if isinstance(value, str) and "," in value:
        latitude, _, longitude = value.partition(",")
        value = {"latitude": latitude.strip(), "longitude": longitude.strip()}
    problems = location_problems("header", value)
    if problems:
        raise TemplateRenderError(f"{slot.label.capitalize()}: {problems[0].message}")
    location = {"latitude": float(value["latitude"]), "longitude": float(value["longitude"])}
    for key in ("name", "address"):
        if value.get(key):
            location[key] = value[key]
    return location


def _web_url(slot: Slot, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TemplateRenderError(f"{slot.label.capitalize()} must be a full http:// or https:// URL.")
    return value


def slot_resolve(template: Template, slot: Slot, value: Any, *, header_media_url: str | None = None) -> Any:
    """One slot's final value from what its source gave (`value`): text, a location dict, or None for an optional
    slot left empty. Raises TemplateRenderError / TemplateVariableMissing."""
    if _empty(value) and slot.kind == "header_media" and header_media_url:
        value = header_media_url
    if _empty(value):
        value = slot.default
    if slot.kind == "header_location" and not _empty(value):
        return _location(slot, value)
    text = "" if _empty(value) else _as_text(slot, value)
    if not text:
        if slot.required:
            raise TemplateVariableMissing(slot.key, slot.label)
        return None
    if slot.kind == "header_media":
        text = _web_url(slot, text)
    if slot.kind == "header_text" and len(template.header_text.replace("{{1}}", text)) > HEADER_TEXT_MAX:
        raise TemplateRenderError(f"With {text!r} the header is longer than {HEADER_TEXT_MAX} characters.")
    return text


def mapped_value(slot: Slot, spec: Any, contact: Contact | None) -> Any:
    """What a campaign's or journey's mapping gives for `slot` (its fallback when the contact has no value)."""
    return _mapped_value(slot, spec, contact, None)


def template_values(
    template: Template,
    *,
    contact: Contact | None = None,
    variables: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    event_properties: Mapping[str, Any] | None = None,
    header_media_url: str | None = None,
) -> dict[str, Any]:
    """Every slot's value (text, or a location dict); raises TemplateRenderError / TemplateVariableMissing."""
    parameters = parameters or {}
    variables = variables or {}
    values: dict[str, Any] = {}
    for slot in template_slots(template):
        value: Any = parameters.get(slot.key)
        if _empty(value) and slot.key in variables:
            value = _mapped_value(slot, variables[slot.key], contact, event_properties)
        resolved = slot_resolve(template, slot, value, header_media_url=header_media_url)
        if resolved is not None:
            values[slot.key] = resolved
    return values


def _header_component(template: Template, values: Mapping[str, Any]) -> dict[str, Any] | None:
    kind = template.header_type
    value = values.get("header")
    if value is None:
        return None
    parameter: dict[str, Any]
    if kind == HeaderType.TEXT:
        parameter = {"type": "text", "text": value}
    elif kind == HeaderType.LOCATION:
        parameter = {"type": "location", "location": value}
    elif kind == HeaderType.DOCUMENT:
        document = {"link": value}
        filename = PurePosixPath(urlsplit(value).path).name
        if filename:
            document["filename"] = filename  # what the recipient's phone shows instead of "Untitled"
        parameter = {"type": "document", "document": document}
    else:
        parameter = {"type": kind, kind: {"link": value}}
    return {"type": "header", "parameters": [parameter]}


def _button_components(template: Template, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    components = []
    for index, button in enumerate(template.buttons or []):
        value = values.get(f"button.{index}")
        if value is None:
            continue
        if button.get("type") == "quick_reply":
            sub_type, parameter = "quick_reply", {"type": "payload", "payload": value}
        else:
            sub_type, parameter = "url", {"type": "text", "text": value}
        components.append({"type": "button", "sub_type": sub_type, "index": str(index), "parameters": [parameter]})
    return components


def _fill(text: str, values: Mapping[str, Any], *, header: bool = False) -> str:
    def replace(match: re.Match[str]) -> str:
        key = "header" if header else match.group(1)
        value = values.get(key)
        return str(value) if isinstance(value, str) else match.group(0)

    return VARIABLE_RE.sub(replace, text or "")


def template_preview_parts(template: Template) -> dict[str, Any]:
    """The template's parts as the WhatsApp-style preview script (static/js/wa_preview.js) draws them."""
    return {
        "header_type": template.header_type,
        "header_text": template.header_text,
        "header_detail": template.header_media_url,
        "body": template.body,
        "footer": template.footer,
        "buttons": [{"type": b.get("type", ""), "text": b.get("text", "")} for b in template.buttons or []],
    }


def template_preview_text(template: Template, values: Mapping[str, Any] | None = None) -> str:
    """The message as plain text, values filled in (unfilled variables stay `{{n}}`): for the UI and message logs."""
    values = values or {}
    lines: list[str] = []
    kind = template.header_type
    header = values.get("header")
    if kind in MEDIA_HEADERS:
        lines.append(f"[{kind.capitalize()}: {header or template.header_media_url or 'media'}]")
    elif kind == HeaderType.LOCATION:
        location = header if isinstance(header, dict) else template.header_location or {}
        lines.append(f"[Location: {location.get('name') or 'map pin'}]")
    elif kind == HeaderType.TEXT:
        lines.append(_fill(template.header_text, values, header=True))
    lines.append(_fill(template.body, values))
    if template.footer:
        lines.append(template.footer)
    labels = []
    for index, button in enumerate(template.buttons or []):
        if button.get("type") == "url":
            url = str(button.get("url", ""))
            suffix = values.get(f"button.{index}")
            if suffix is not None and url.endswith(URL_SUFFIX_VARIABLE):
                url = url[: -len(URL_SUFFIX_VARIABLE)] + suffix
            labels.append(f"[{button.get('text', '')} → {url}]")
        elif button.get("type") == "phone_number":
            labels.append(f"[{button.get('text', '')} ☎ {button.get('phone_number', '')}]")
        else:
            labels.append(f"[{button.get('text', '')}]")
    if labels:
        lines.append(" ".join(labels))
    return "\n".join(line for line in lines if line)


def template_rendering(
    template: Template,
    *,
    contact: Contact | None = None,
    variables: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    event_properties: Mapping[str, Any] | None = None,
    header_media_url: str | None = None,
) -> RenderedTemplate:
    """The content to send plus its plain-text preview; see the module docstring for where values come from."""
    values = template_values(
        template,
        contact=contact,
        variables=variables,
        parameters=parameters,
        event_properties=event_properties,
        header_media_url=header_media_url,
    )
    content = template_content(template, values)
    return RenderedTemplate(content=content, preview=template_preview_text(template, values), values=values)


def template_content(template: Template, values: Mapping[str, Any]) -> TemplateContent | CustomTemplateContent:
    """The content object from already resolved slot values (`template_values`' result, e.g. frozen at planning)."""
    body_values = []
    for number in sorted(set(variables_in(template.body))):
        value = values.get(str(number))
        if not isinstance(value, str) or not value:
            raise TemplateVariableMissing(str(number), f"{{{{{number}}}}}")
        body_values.append(value)
    header = _header_component(template, values)
    buttons = _button_components(template, values)
    text = template_preview_text(template, values)
    if header is None and not buttons:
        # Only the body varies: Nexmo's plain `template` content (namespace:name + parameters) carries it.
        return TemplateContent(name=template.name, language=template.language, parameters=tuple(body_values), text=text)
    components: list[dict[str, Any]] = [header] if header else []
    if body_values:
        components.append({"type": "body", "parameters": [{"type": "text", "text": v} for v in body_values]})
    components.extend(buttons)
    return CustomTemplateContent(
        name=template.name, language=template.language, components=tuple(components), text=text
    )


def template_render(
    template: Template,
    *,
    contact: Contact | None = None,
    variables: Mapping[str, Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
    event_properties: Mapping[str, Any] | None = None,
    header_media_url: str | None = None,
) -> TemplateContent | CustomTemplateContent:
    """The content object for `template`; raises TemplateVariableMissing naming the variable left without a value."""
    return template_rendering(
        template,
        contact=contact,
        variables=variables,
        parameters=parameters,
        event_properties=event_properties,
        header_media_url=header_media_url,
    ).content


def template_variables_problems(template: Template, variables: Mapping[str, Any]) -> dict[str, str]:
    """Mapping errors a campaign or journey can show when it is saved: `{slot key: message}` (no contact needed)."""
    problems: dict[str, str] = {}
    keys = {slot.key: slot for slot in template_slots(template)}
    for key, spec in (variables or {}).items():
        slot = keys.get(key)
        if slot is None:
            problems[key] = f"The template has no variable {key!r}; it takes {', '.join(keys) or 'none'}."
            continue
        try:
            _mapped_value(slot, spec, None, None)
        except TemplateRenderError as error:
            problems[key] = str(error)
    return problems
