"""Content + provider → the JSON body Nexmo expects, for payload version v0.1 (the default) and v1.

v0.1: https://developer.vonage.com/en/api/messages-olympus (WhatsApp: message.content, message.whatsapp)
v1:   https://developer.vonage.com/en/api/messages (WhatsApp: message_type and one field named after it)
"""

from __future__ import annotations

import hashlib
from typing import Any

from providers.content import (
    Content,
    CustomTemplateContent,
    InteractiveContent,
    MediaContent,
    TemplateContent,
    TextContent,
)
from providers.interactive import interactive_object, interactive_summary

# v0.1 documents client_ref as "up to 40 characters"; we keep every version within that so a provider can switch.
CLIENT_REF_MAX = 40
# The log keeps a whole template (header 60 + body 1,024 + footer 60 + buttons) and a long free-form text.
SUMMARY_MAX = 4096
_ORIGIN_PREFIX = {"test": "tst", "campaign": "cmp", "journey": "jny", "auto_reply": "arp"}


def client_ref_for(*, origin: str, origin_ref: str, recipient: str) -> str:
    """The deterministic reference for (origin, origin_ref, recipient): a retry can never make a second message."""
    digest = hashlib.sha256(f"{origin}\x1f{origin_ref}\x1f{recipient}".encode()).hexdigest()
    ref = f"{_ORIGIN_PREFIX.get(origin, 'msg')}-{digest[:32]}"
    assert len(ref) <= CLIENT_REF_MAX
    return ref


def template_name(*, namespace: str, name: str) -> str:
    """v0.1 names a WhatsApp template `namespace:name`; a name that already carries a namespace is kept."""
    if ":" in name or not namespace:
        return name
    return f"{namespace}:{name}"


def content_describe(content: Content) -> tuple[str, str]:
    """(content type, one-line summary) for the message log."""
    match content:
        case TextContent(text=text):
            return "text", text[:SUMMARY_MAX]
        case MediaContent(kind=kind, url=url, caption=caption):
            return kind, f"{caption} {url}".strip()[:SUMMARY_MAX]
        case TemplateContent(name=name, parameters=parameters, text=text):
            return "template", _template_summary(name, text or f"({', '.join(parameters)})")
        case CustomTemplateContent(name=name, text=text):
            return "custom", _template_summary(name, text or "(custom template)")
        case InteractiveContent():
            return "interactive", interactive_summary(content)[:SUMMARY_MAX]
    raise TypeError(f"Unknown content {content!r}")


def _template_summary(name: str, text: str) -> str:
    # The template's name on the first line, then the message as the customer reads it.
    return f"{name}\n{text}"[:SUMMARY_MAX]


def _custom_object(content: CustomTemplateContent, namespace: str) -> dict[str, Any]:
    # WhatsApp's own template object, passed through by Nexmo's `custom` type (media headers, button parameters).
    template: dict[str, Any] = {
        "name": content.name.split(":", 1)[-1],
        "language": {"policy": "deterministic", "code": content.language},
        "components": [dict(component) for component in content.components],
    }
    if namespace:
        template["namespace"] = namespace
    return {"type": "template", "template": template}


def _v01_content(content: Content, namespace: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    match content:
        case TextContent(text=text):
            return {"type": "text", "text": text}, None
        case MediaContent(kind=kind, url=url, caption=caption):
            media: dict[str, Any] = {"url": url}
            if caption and kind in ("image", "file", "video"):
                media["caption"] = caption
            return {"type": kind, kind: media}, None
        case TemplateContent(name=name, language=language, parameters=parameters):
            template: dict[str, Any] = {"name": template_name(namespace=namespace, name=name)}
            if parameters:
                # The v0.1 spec types parameters as a plain string array ({{1}} first).
                template["parameters"] = list(parameters)
            return {"type": "template", "template": template}, {"policy": "deterministic", "locale": language}
        case CustomTemplateContent():
            return {"type": "custom", "custom": _custom_object(content, namespace)}, None
        case InteractiveContent():
            # v0.1's `custom` passes WhatsApp's object through as v1's does.
            return {"type": "custom", "custom": interactive_object(content)}, None
    raise TypeError(f"Unknown content {content!r}")


def body_v01(*, content: Content, from_number: str, to: str, client_ref: str, namespace: str = "") -> dict[str, Any]:
    """The v0.1 body: `from`/`to` objects with bare digits, `message.content`, optional `message.whatsapp`."""
    message_content, whatsapp = _v01_content(content, namespace)
    message: dict[str, Any] = {"content": message_content}
    if whatsapp is not None:
        message["whatsapp"] = whatsapp
    return {
        "from": {"type": "whatsapp", "number": _digits(from_number)},
        "to": {"type": "whatsapp", "number": _digits(to)},
        "message": message,
        "client_ref": client_ref,
    }


def body_v1(*, content: Content, from_number: str, to: str, client_ref: str, namespace: str = "") -> dict[str, Any]:
    """The v1 body: flat `channel`, `message_type`, `to`, `from` and one field named after the type."""
    body: dict[str, Any] = {
        "channel": "whatsapp",
        "from": _digits(from_number),
        "to": _digits(to),
        "client_ref": client_ref,
    }
    match content:
        case TextContent(text=text):
            body |= {"message_type": "text", "text": text}
        case MediaContent(kind=kind, url=url, caption=caption):
            media: dict[str, Any] = {"url": url}
            if caption and kind in ("image", "file", "video"):
                media["caption"] = caption
            body |= {"message_type": kind, kind: media}
        case TemplateContent(name=name, language=language, parameters=parameters):
            body |= {
                "message_type": "template",
                "template": {"name": template_name(namespace=namespace, name=name), "parameters": list(parameters)},
                "whatsapp": {"policy": "deterministic", "locale": language},
            }
        case CustomTemplateContent():
            body |= {"message_type": "custom", "custom": _custom_object(content, namespace)}
        case InteractiveContent():
            body |= {"message_type": "custom", "custom": interactive_object(content)}
        case _:
            raise TypeError(f"Unknown content {content!r}")
    return body


def body_build(
    *, api_version: str, content: Content, from_number: str, to: str, client_ref: str, namespace: str = ""
) -> dict[str, Any]:
    """The send body for the provider's payload version."""
    builder = body_v1 if api_version == "v1" else body_v01
    return builder(content=content, from_number=from_number, to=to, client_ref=client_ref, namespace=namespace)


def _digits(number: str) -> str:
    # Nexmo wants international digits without "+" or "00".
    return number.strip().lstrip("+")
