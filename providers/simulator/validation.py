"""Hand-checked request shapes of the WhatsApp sends, after Vonage's API reference (links below).

Checked by hand rather than by a JSON-schema engine: a handful of dict look-ups per request keeps the simulator far
from being a benchmark's bottleneck. Each problem is (parameter path, reason), as in Vonage's `invalid_parameters`.
v0.1: https://developer.vonage.com/en/api/messages-olympus (schemas textMessageWhatsApp, templateMessageWhatsApp …)
v1: https://developer.vonage.com/en/api/messages (WhatsApp: text, image, audio, video, file, template, sticker, custom)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

Problems = list[tuple[str, str]]

MEDIA_TYPES = ("image", "video", "audio", "file")
V01_TYPES = ("text", "template", "custom", *MEDIA_TYPES)
V1_TYPES = ("text", "template", "custom", "sticker", *MEDIA_TYPES)
# Templates may be sent outside the 24 h window; everything else is free-form.
TEMPLATE_TYPES = frozenset({"template", "custom"})
TEXT_MAX = 4096
CLIENT_REF_MAX = {"v0.1": 40, "v1": 100}


@dataclass(frozen=True, slots=True)
class Send:
    """What a valid send asked for, in the simulator's own terms."""

    to: str
    from_: str
    message_type: str
    text: str
    template_name: str
    # What the customer can tap: a custom template's quick replies (payload, text), or an interactive message's reply
    # buttons or list rows (id, title) when message_type is "interactive".
    buttons: tuple[tuple[str, str], ...]
    client_ref: str
    webhook_url: str
    webhook_version: str


def _number(value: Any, name: str, problems: Problems) -> str:
    if not isinstance(value, str) or not value:
        problems.append((name, "is required and must be a string"))
        return ""
    if not value.isdigit() or not 7 <= len(value) <= 15:
        problems.append((name, "must be an E.164 number without a leading + or 00, e.g. 447700900000"))
    return value


def _string(value: Any, name: str, problems: Problems, *, required: bool = True, maximum: int = 0) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        problems.append((name, "is required and must be a non-empty string" if required else "must be a string"))
        return ""
    if maximum and len(value) > maximum:
        problems.append((name, f"must be at most {maximum} characters"))
    return value


def _object(value: Any, name: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.append((name, "is required and must be an object"))
        return None
    return value


def _parameters(value: Any, name: str, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append((name, "must be an array of strings"))


def _template_settings(value: Any, name: str, problems: Problems) -> None:
    settings = _object(value, name, problems)
    if settings is not None:
        _string(settings.get("locale"), f"{name}.locale", problems)
        # WhatsApp deprecated the `fallback` policy in 2020: Nexmo answers 400 to anything but deterministic.
        policy = settings.get("policy")
        if policy is not None and policy != "deterministic":
            problems.append((f"{name}.policy", "must be `deterministic`"))


def quick_replies(custom: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Quick-reply buttons of a raw WhatsApp template: (payload, text); the text is the payload when none is given."""
    template = custom.get("template") if isinstance(custom.get("template"), dict) else custom
    components = template.get("components") if isinstance(template, dict) else None
    buttons: list[tuple[str, str]] = []
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict) or component.get("type") != "button":
            continue
        if component.get("sub_type") != "quick_reply":
            continue
        for parameter in component.get("parameters") or []:
            if isinstance(parameter, dict) and isinstance(parameter.get("payload"), str):
                payload = parameter["payload"]
                buttons.append((payload, str(parameter.get("text") or payload)))
    return tuple(buttons)


def interactive_choices(interactive: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """What a customer can tap on an interactive message: (id, title) of each reply button, or each list row."""
    action: dict[str, Any] = interactive["action"] if isinstance(interactive.get("action"), dict) else {}
    choices: list[tuple[str, str]] = []
    for button in action.get("buttons") or []:
        reply = button.get("reply") if isinstance(button, dict) else None
        if isinstance(reply, dict):
            choices.append((str(reply.get("id", "")), str(reply.get("title", ""))))
    for section in action.get("sections") or []:
        for row in section.get("rows") or [] if isinstance(section, dict) else []:
            if isinstance(row, dict):
                choices.append((str(row.get("id", "")), str(row.get("title", ""))))
    return tuple(choices)


def _interactive(custom: dict[str, Any], prefix: str, problems: Problems) -> tuple[str, str, Buttons]:
    """WhatsApp's interactive object inside `custom`: reply buttons or a list, as far as Nexmo would refuse it."""
    interactive = _object(custom.get("interactive"), f"{prefix}custom.interactive", problems) or {}
    if not interactive:
        return "", "", ()
    if interactive.get("type") not in ("button", "list"):
        problems.append((f"{prefix}custom.interactive.type", "must be `button` or `list`"))
    body = _object(interactive.get("body"), f"{prefix}custom.interactive.body", problems) or {}
    text = _string(body.get("text"), f"{prefix}custom.interactive.body.text", problems, maximum=1024) if body else ""
    choices = interactive_choices(interactive)
    if not choices or not all(choice_id and title for choice_id, title in choices):
        problems.append((f"{prefix}custom.interactive.action", "needs buttons or list rows, each with an id and title"))
    return text, "", choices


def is_interactive(custom: Any) -> bool:
    return isinstance(custom, dict) and custom.get("type") == "interactive"


def _custom_name(custom: dict[str, Any]) -> str:
    template = custom.get("template")
    return str(template.get("name", "")) if isinstance(template, dict) else ""


Buttons = tuple[tuple[str, str], ...]


def _content(kind: str, source: dict[str, Any], prefix: str, problems: Problems) -> tuple[str, str, Buttons]:
    """Checks the type-specific part; returns (text, template name, quick-reply buttons)."""
    if kind == "text":
        text = _string(source.get("text"), f"{prefix}text", problems, maximum=TEXT_MAX)
        return text, "", ()
    if kind in MEDIA_TYPES or kind == "sticker":
        media = _object(source.get(kind), f"{prefix}{kind}", problems) or {}
        if media and kind != "sticker":
            _string(media.get("url"), f"{prefix}{kind}.url", problems)
        caption = media.get("caption", "")
        return caption if isinstance(caption, str) else "", "", ()
    if kind == "template":
        template = _object(source.get("template"), f"{prefix}template", problems)
        if template is None:
            return "", "", ()
        name = _string(template.get("name"), f"{prefix}template.name", problems)
        _parameters(template.get("parameters"), f"{prefix}template.parameters", problems)
        return "", name, ()
    custom = _object(source.get("custom"), f"{prefix}custom", problems)
    if custom is None:
        return "", "", ()
    if not custom:
        problems.append((f"{prefix}custom", "must not be empty"))
    if is_interactive(custom):
        return _interactive(custom, prefix, problems)
    return "", _custom_name(custom), quick_replies(custom)


def validate_v01(body: Any) -> tuple[Send | None, Problems]:
    """A v0.1 `POST /v0.1/messages` WhatsApp body: `from`/`to` objects, `message.content`, `message.whatsapp`."""
    problems: Problems = []
    if not isinstance(body, dict):
        return None, [("body", "must be a JSON object")]
    ends: dict[str, str] = {}
    for end in ("to", "from"):
        party = _object(body.get(end), end, problems)
        if party is not None:
            if party.get("type") != "whatsapp":
                problems.append((f"{end}.type", "must be `whatsapp`"))
            ends[end] = _number(party.get("number"), f"{end}.number", problems)
    message = _object(body.get("message"), "message", problems)
    content = _object(message.get("content"), "message.content", problems) if message is not None else None
    kind = content.get("type") if content is not None else None
    text, name, buttons = "", "", cast(Buttons, ())
    if content is not None and message is not None:
        if kind not in V01_TYPES:
            problems.append(("message.content.type", f"must be one of {', '.join(V01_TYPES)}"))
        else:
            text, name, buttons = _content(kind, content, "message.content.", problems)
            if kind == "template":
                _template_settings(message.get("whatsapp"), "message.whatsapp", problems)
    client_ref = _string(body.get("client_ref"), "client_ref", problems, required=False, maximum=40)
    if problems:
        return None, problems
    if kind == "custom" and content is not None and is_interactive(content.get("custom")):
        kind = "interactive"  # free-form: only inside the 24-hour window, unlike a custom template
    return Send(
        to=ends["to"],
        from_=ends["from"],
        message_type=str(kind),
        text=text,
        template_name=name,
        buttons=buttons,
        client_ref=client_ref,
        webhook_url="",
        webhook_version="",
    ), problems


def validate_v1(body: Any) -> tuple[Send | None, Problems]:
    """A v1 `POST /v1/messages` WhatsApp body: flat `channel`, `message_type`, `to`, `from` and the typed part."""
    problems: Problems = []
    if not isinstance(body, dict):
        return None, [("body", "must be a JSON object")]
    if body.get("channel") != "whatsapp":
        problems.append(("channel", "must be `whatsapp` (the only channel of this account)"))
    to = _number(body.get("to"), "to", problems)
    from_ = _string(body.get("from"), "from", problems)
    kind = body.get("message_type")
    text, name, buttons = "", "", cast(Buttons, ())
    if kind not in V1_TYPES:
        problems.append(("message_type", f"must be one of {', '.join(V1_TYPES)}"))
    else:
        text, name, buttons = _content(kind, body, "", problems)
        if kind == "template":
            _template_settings(body.get("whatsapp"), "whatsapp", problems)
    client_ref = _string(body.get("client_ref"), "client_ref", problems, required=False, maximum=100)
    webhook_url = _string(body.get("webhook_url"), "webhook_url", problems, required=False)
    webhook_version = body.get("webhook_version") or ""
    if webhook_version not in ("", "v0.1", "v1"):
        problems.append(("webhook_version", "must be `v0.1` or `v1`"))
    context = body.get("context")
    if context is not None and not (isinstance(context, dict) and isinstance(context.get("message_uuid"), str)):
        problems.append(("context.message_uuid", "is required and must be a string"))
    if problems:
        return None, problems
    if kind == "custom" and is_interactive(body.get("custom")):
        kind = "interactive"  # free-form: only inside the 24-hour window, unlike a custom template
    return Send(
        to=to,
        from_=from_,
        message_type=str(kind),
        text=text,
        template_name=name,
        buttons=buttons,
        client_ref=client_ref,
        webhook_url=webhook_url,
        webhook_version=str(webhook_version),
    ), problems
