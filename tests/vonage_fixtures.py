"""Vonage's published example payloads (shared/fixtures/vonage), found beside the repository or via an env var."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def fixtures_dir() -> Path:
    candidates: list[str | Path] = [
        os.environ.get("VONAGE_FIXTURES_DIR", ""),
        ROOT.parent / "shared" / "fixtures" / "vonage",
        "/work/shared/fixtures/vonage",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    raise FileNotFoundError("Vonage fixtures not found: set VONAGE_FIXTURES_DIR to shared/fixtures/vonage")


def specs_dir() -> Path:
    return fixtures_dir().parent.parent / "specs"


def load(name: str) -> Any:
    """A fixture by file name, e.g. load("v0.1-status-delivered.json")."""
    return json.loads((fixtures_dir() / name).read_text())


def raw(name: str) -> bytes:
    return (fixtures_dir() / name).read_bytes()
