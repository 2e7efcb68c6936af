"""WhatsApp's template rules, written once: the UI form, the API serializer, the admin and the importer all call
`template_problems`.

Limits from WhatsApp's template guidelines
(https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components):
header text and footer ≤ 60 characters, body ≤ 1024, button text ≤ 25; the header text has at most one
variable. Buttons (the same page, "Buttons"): up to 10 in all, of which at most 2 URL and 1 phone number; quick
replies and call-to-action buttons may be combined as long as they are grouped: all the quick replies together,
before or after the call-to-action ones, never interleaved (WhatsApp refuses "an invalid combination" otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from contacts.phones import phone_normalize
from providers.models import ProviderConfig
from templates_app.models import LANGUAGES, MEDIA_HEADERS, Category, HeaderType, Status, Template

HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
BODY_MAX = 1024
BUTTON_TEXT_MAX = 25
NAME_MAX = 512
BUTTONS_MAX = 10
URL_BUTTON_MAX = 2
PHONE_BUTTON_MAX = 1

BUTTON_TYPES = ("quick_reply", "url", "phone_number")
CALL_TO_ACTION = ("url", "phone_number")
LANGUAGE_CODES = frozenset(code for code, _ in LANGUAGES)

NAME_RE = re.compile(r"^[a-z0-9_]+$")
NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# Anything that looks like a placeholder, well-formed or not, so `{{ 1 }}` or `{{name}}` is reported, not sent.
PLACEHOLDER_RE = re.compile(r"\{\{(.*?)\}\}")
VARIABLE_RE = re.compile(r"\{\{(\d+)\}\}")
URL_SUFFIX_VARIABLE = "{{1}}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: the field it belongs to and, for buttons, which button (0-based) and which of its keys."""

    field: str
    message: str
    button: int | None = None
    button_key: str | None = None

    def text(self) -> str:
        return f"Button {self.button + 1}: {self.message}" if self.button is not None else self.message


def variables_in(text: str) -> list[int]:
    """The numbers of the `{{n}}` variables in `text`, in order of appearance."""
    return [int(number) for number in VARIABLE_RE.findall(text or "")]


def _placeholder_problems(field: str, text: str) -> list[Problem]:
    bad = [f"{{{{{inner}}}}}" for inner in PLACEHOLDER_RE.findall(text or "") if not inner.isdigit()]
    if bad:
        return [Problem(field, f"Variables are written {{{{1}}}}, {{{{2}}}} …; fix {', '.join(bad)}.")]
    return []


def _numbering_problems(field: str, text: str) -> list[Problem]:
    numbers = sorted(set(variables_in(text)))
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        expected = ", ".join(f"{{{{{n}}}}}" for n in range(1, len(numbers) + 1))
        return [Problem(field, f"Variables must be numbered from {{{{1}}}} without gaps: expected {expected}.")]
    return []


def _length_problem(field: str, text: str, limit: int, label: str) -> list[Problem]:
    if len(text or "") > limit:
        return [Problem(field, f"{label} can be at most {limit} characters (it has {len(text)}).")]
    return []


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in value


def location_problems(field: str, location: Any) -> list[Problem]:
    """A location header value: latitude and longitude in range; name and address optional text."""
    if not isinstance(location, dict):
        return [Problem(field, 'Give a location as {"latitude": 51.5, "longitude": -0.12, "name", "address"}.')]
    problems = []
    for key, limit in (("latitude", 90), ("longitude", 180)):
        try:
            number = float(location.get(key))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems.append(Problem(field, f"The location needs a numeric {key}."))
            continue
        if not -limit <= number <= limit:
            problems.append(Problem(field, f"The {key} must be between -{limit} and {limit}."))
    for key in ("name", "address"):
        if not isinstance(location.get(key, ""), str):
            problems.append(Problem(field, f"The location's {key} must be text."))
    return problems


def _button_problems(buttons: Any) -> list[Problem]:
    if buttons in (None, ""):
        return []
    if not isinstance(buttons, list) or not all(isinstance(button, dict) for button in buttons):
        return [Problem("buttons", 'Buttons are a list of objects: [{"type": "quick_reply", "text": "Yes"}].')]
    problems: list[Problem] = []
    if len(buttons) > BUTTONS_MAX:
        problems.append(
            Problem("buttons", f"A template has at most {BUTTONS_MAX} buttons (this one has {len(buttons)}).")
        )
    counts = {"quick_reply": 0, "url": 0, "phone_number": 0}
    groups: list[str] = []  # the kinds in order, one entry per run of buttons of the same group
    for index, button in enumerate(buttons):
        kind = button.get("type")
        if kind not in BUTTON_TYPES:
            problems.append(Problem("buttons", f"Choose a type: {', '.join(BUTTON_TYPES)}.", index, "type"))
            continue
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            problems.append(Problem("buttons", "Enter the button's text.", index, "text"))
        elif len(text) > BUTTON_TEXT_MAX:
            problems.append(
                Problem(
                    "buttons",
                    f"Button text can be at most {BUTTON_TEXT_MAX} characters (it has {len(text)}).",
                    index,
                    "text",
                )
            )
        elif PLACEHOLDER_RE.search(text):
            problems.append(Problem("buttons", "Button text cannot contain variables.", index, "text"))
        counts[kind] += 1
        group = "quick_reply" if kind == "quick_reply" else "call_to_action"
        if not groups or groups[-1] != group:
            groups.append(group)
            if len(groups) > 2:
                problems.append(
                    Problem(
                        "buttons",
                        "Keep the quick replies together, before or after the call-to-action buttons "
                        "(WhatsApp does not allow them interleaved).",
                        index,
                        "type",
                    )
                )
        if kind == "quick_reply":
            payload = button.get("payload", "")
            if not isinstance(payload, str):
                problems.append(Problem("buttons", "The quick reply's payload must be text.", index, "payload"))
        elif kind == "url":
            if counts[kind] > URL_BUTTON_MAX:
                problems.append(Problem("buttons", f"At most {URL_BUTTON_MAX} URL buttons.", index, "type"))
            problems.extend(_url_button_problems(index, button.get("url")))
        else:
            if counts[kind] > PHONE_BUTTON_MAX:
                problems.append(Problem("buttons", f"At most {PHONE_BUTTON_MAX} phone number button.", index, "type"))
            problems.extend(_phone_button_problems(index, button.get("phone_number")))
    return problems


def _url_button_problems(index: int, url: Any) -> list[Problem]:
    if not isinstance(url, str) or not url.strip():
        return [Problem("buttons", "Enter the URL the button opens.", index, "url")]
    # WhatsApp allows one variable, and only as the URL's final part (the "dynamic suffix").
    base = url[: -len(URL_SUFFIX_VARIABLE)] if url.endswith(URL_SUFFIX_VARIABLE) else url
    if PLACEHOLDER_RE.search(base):
        return [Problem("buttons", "A URL may only end with the variable {{1}} (a dynamic suffix).", index, "url")]
    if not _is_web_url(base):
        return [Problem("buttons", "Enter a full http:// or https:// URL.", index, "url")]
    return []


def _phone_button_problems(index: int, phone: Any) -> list[Problem]:
    if not isinstance(phone, str) or not phone.strip():
        return [Problem("buttons", "Enter the phone number the button calls.", index, "phone_number")]
    try:
        normalized = phone_normalize(phone)
    except ValidationError as error:
        return [Problem("buttons", error.messages[0], index, "phone_number")]
    if normalized != phone.strip():
        return [Problem("buttons", f"Write the number in E.164 form: {normalized}.", index, "phone_number")]
    return []


def template_problems(template: Template) -> list[Problem]:
    """Every WhatsApp rule `template` breaks (an unsaved instance is fine); empty when it is valid."""
    problems: list[Problem] = []
    if not template.name:
        problems.append(Problem("name", "Enter the template's name as registered with WhatsApp."))
    elif len(template.name) > NAME_MAX or not NAME_RE.match(template.name):
        problems.append(
            Problem("name", "Use the name registered with WhatsApp: lowercase letters, digits and underscores.")
        )
    if template.language not in LANGUAGE_CODES:
        problems.append(Problem("language", f"{template.language!r} is not a WhatsApp language code (e.g. en_US)."))
    if template.category not in Category.values:
        problems.append(Problem("category", f"Choose one of {', '.join(Category.values)}."))
    if template.status not in Status.values:
        problems.append(Problem("status", f"Choose one of {', '.join(Status.values)}."))
    problems.extend(_header_problems(template))
    body = template.body or ""
    if not body.strip():
        problems.append(Problem("body", "Enter the message body."))
    problems.extend(_length_problem("body", body, BODY_MAX, "The body"))
    problems.extend(_placeholder_problems("body", body))
    problems.extend(_numbering_problems("body", body))
    footer = template.footer or ""
    problems.extend(_length_problem("footer", footer, FOOTER_MAX, "The footer"))
    if PLACEHOLDER_RE.search(footer):
        problems.append(Problem("footer", "The footer cannot contain variables."))
    problems.extend(_button_problems(template.buttons))
    return problems


def _header_problems(template: Template) -> list[Problem]:
    kind = template.header_type
    if kind not in HeaderType.values:
        return [Problem("header_type", f"Choose one of {', '.join(HeaderType.values)}.")]
    problems: list[Problem] = []
    text = template.header_text or ""
    if kind == HeaderType.TEXT:
        if not text.strip():
            problems.append(Problem("header_text", "Enter the header text (or choose no header)."))
        problems.extend(_length_problem("header_text", text, HEADER_TEXT_MAX, "The header"))
        problems.extend(_placeholder_problems("header_text", text))
        numbers = variables_in(text)
        if len(numbers) > 1:
            problems.append(Problem("header_text", "The header can have at most one variable, {{1}}."))
        elif numbers and numbers != [1]:
            problems.append(Problem("header_text", "The header's variable must be {{1}}."))
    elif text:
        problems.append(Problem("header_text", "Header text is only used with a text header."))
    if template.header_media_url:
        if kind not in MEDIA_HEADERS:
            problems.append(Problem("header_media_url", "A media URL is only used with an image, video or document."))
        elif not _is_web_url(template.header_media_url):
            problems.append(Problem("header_media_url", "Enter a full http:// or https:// URL."))
    if template.header_location:
        if kind != HeaderType.LOCATION:
            problems.append(Problem("header_location", "A location is only used with a location header."))
        else:
            problems.extend(location_problems("header_location", template.header_location))
    return problems


UNSENDABLE_WORDS = {
    Status.DRAFT: "is a draft: submit it for approval first",
    Status.PENDING: "is waiting for WhatsApp's review",
    Status.REJECTED: "was rejected by WhatsApp",
    Status.PAUSED: "is paused by WhatsApp for low quality",
    Status.DISABLED: "is disabled by WhatsApp",
}


def template_send_refusal(template: Template) -> str | None:
    """Why `template` cannot be sent by a campaign or journey now (with WhatsApp's reason), or None when it can.

    The one place that says which templates are sendable: campaign launch, journey publish and the journey walk ask it.
    """
    if template.removed_at is not None:
        return f"Template {template.name!r} was deleted in WhatsApp; only approved templates can be sent."
    if template.status == Status.APPROVED:
        return None
    words = UNSENDABLE_WORDS.get(Status(template.status), f"is {template.status}")
    reason = f" ({template.rejected_reason})" if template.rejected_reason else ""
    return f"Template {template.name!r} {words}{reason}; only approved templates can be sent."


def problems_by_field(problems: Iterable[Problem]) -> dict[str, list[str]]:
    """`{field: [messages]}`; button problems are named by their button ("Button 2: …")."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        errors.setdefault(problem.field, []).append(problem.text())
    return errors


def template_validate(template: Template) -> None:
    """Raise ValidationError with every broken rule on its field."""
    problems = template_problems(template)
    if problems:
        raise ValidationError(problems_by_field(problems))


def namespace_problems(namespace: str) -> list[str]:
    if not NAMESPACE_RE.match(namespace or ""):
        return ["Paste the WhatsApp namespace from WhatsApp Manager (letters, digits, _ and -)."]
    return []


def template_errors(template: Template) -> dict[str, list[str]]:
    """WhatsApp's rules plus the columns' own checks and the name + language clash, each on its field."""
    errors = problems_by_field(template_problems(template))
    checked = set(errors)
    try:
        template.clean_fields(exclude=checked)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if not ({"provider", "name", "language"} & set(errors)):
        try:
            template.validate_constraints()
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    return errors


NAMESPACE_NEEDED = (
    "This provider has no WhatsApp namespace yet: paste it from WhatsApp Manager with its first template."
)


def namespace_problem(*, provider: ProviderConfig, namespace: str) -> str:
    """Why `namespace` cannot go with this provider's template, or "" when it is fine (or not needed)."""
    if provider.whatsapp_namespace:
        if namespace and namespace != provider.whatsapp_namespace:
            return (
                f"This provider's namespace is already {provider.whatsapp_namespace}; "
                "change it in the provider's settings."
            )
        return ""
    if not namespace:
        return NAMESPACE_NEEDED
    problems = namespace_problems(namespace)
    return problems[0] if problems else ""
