"""`make bench`: run every bench/bench_*.py, print one table, write each module's figures to bench/results/.

A benchmark module exposes `run() -> list[dict]`; each row has `name`, `value`, `unit` and optionally `baseline`
(the same measurement of the naive approach, taken in the same run), `goal` (a string such as ">= 1000") and `note`.
Select modules with `make bench BENCH=callbacks,simulator`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_project.settings")
    # The harness only creates and drops bench databases: development mode with a throwaway key is enough (each
    # server under test gets a production environment of its own).
    from cryptography.fernet import Fernet

    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    import django

    django.setup()


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value) if value is not None else "–"


def main() -> int:
    _setup_django()
    wanted = {name.strip() for name in os.environ.get("BENCH", "").split(",") if name.strip()}
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if wanted:
        modules = [m for m in modules if m.removeprefix("bench_") in wanted]
    if not modules:
        print("No benchmarks selected.")
        return 0
    RESULTS.mkdir(exist_ok=True)
    table: list[tuple[str, dict[str, object]]] = []
    for module_name in modules:
        print(f"== {module_name}", flush=True)
        started = time.monotonic()
        rows = importlib.import_module(module_name).run()
        elapsed = time.monotonic() - started
        (RESULTS / f"{module_name.removeprefix('bench_')}.json").write_text(
            json.dumps(
                {
                    "benchmark": module_name,
                    "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                    "seconds": round(elapsed, 1),
                    "rows": rows,
                },
                indent=2,
            )
            + "\n"
        )
        table.extend((module_name.removeprefix("bench_"), row) for row in rows)
    headers = ("benchmark", "measure", "value", "unit", "baseline", "goal", "note")
    lines = [
        (
            bench,
            str(r["name"]),
            _fmt(r["value"]),
            str(r.get("unit", "")),
            _fmt(r.get("baseline")),
            str(r.get("goal", "")),
            str(r.get("note", "")),
        )
        for bench, r in table
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
    print(f"\nFigures written to {RESULTS.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
