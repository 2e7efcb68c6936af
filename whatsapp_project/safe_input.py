"""Input no part of the product can hold, refused at the edge with a message instead of failing deep inside (a 500).

- JSON nested deeper than MAX_JSON_DEPTH: Python's decoder recurses and a few thousand levels raise RecursionError;
  nothing we store is nested more than a handful of levels.
- NUL characters and lone surrogates in text: PostgreSQL text and jsonb cannot hold NUL, and a lone surrogate (which
  JSON's `\\ud800` escape produces) cannot be encoded to UTF-8 on its way to the database or into a response.
- Ids in query strings: only ASCII digits within a bigint (`"²".isdigit()` is true, and int() refuses it).

The DRF parser (whatsapp_project/parsers.py), the request middleware (whatsapp_project/middleware.py) and every form
or command that reads JSON text go through these functions.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64
MAX_ID = 2**63 - 1


class InputRefused(ValueError):
    """The input cannot be taken; the message says why, for the user."""


def text_problem(text: str) -> str | None:
    """Why this text cannot be stored (NUL, lone surrogate), or None."""
    if "\x00" in text:
        return "Text may not contain NUL characters (\\u0000)."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Text may not contain lone surrogates (such as \\ud800): it is not valid Unicode."
    return None


def value_check(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise InputRefused when decoded JSON is nested deeper than `max_depth` or holds text we cannot store."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                raise InputRefused(problem)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise InputRefused(f"The JSON is nested more than {max_depth} levels deep.")
            if isinstance(item, dict):
                for key, child in item.items():
                    stack.append((key, depth))
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def json_loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads that refuses deep nesting, NUL and lone surrogates with InputRefused (a ValueError).

    Malformed JSON raises json.JSONDecodeError as usual (also a ValueError).
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise InputRefused(f"The JSON is nested more than {max_depth} levels deep.") from None
    value_check(value, max_depth=max_depth)
    return value


def storable(text: str) -> str:
    """Text PostgreSQL can store (text and jsonb refuse NUL): each NUL shown as the replacement character."""
    return text.replace("\x00", "\ufffd")


def id_from(raw: str | None) -> int | None:
    """A database id from a query-string value, or None when it is not one (digits only, within a bigint)."""
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None
