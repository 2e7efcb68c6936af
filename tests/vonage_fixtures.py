"""The project's own Vonage Messages API payloads (tests/fixtures/vonage) and JSON Schemas (tests/fixtures/schemas).

Shapes after Vonage's public documentation, values ours: see tests/fixtures/vonage/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "vonage"
SCHEMAS_DIR = Path(__file__).resolve().parent / "fixtures" / "schemas"


def load(name: str) -> Any:
    """A fixture by file name, e.g. load("v0.1-status-delivered.json")."""
    return json.loads((FIXTURES_DIR / name).read_text())


def raw(name: str) -> bytes:
    return (FIXTURES_DIR / name).read_bytes()


def schema(name: str) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) by file name, e.g. schema("problem.schema.json")."""
    document: dict[str, Any] = json.loads((SCHEMAS_DIR / name).read_text())
    return document
