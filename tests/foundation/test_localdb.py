"""The project's own PostgreSQL server: started when DATABASE_URL is unset, stopped when the command ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from whatsapp_project import localdb

ROOT = Path(__file__).resolve().parents[2]
# The command run under the server: it proves DATABASE_URL reaches a live PostgreSQL and can keep a row.
KEEP_A_ROW = (
    "import os, psycopg\n"
    "with psycopg.connect(os.environ['DATABASE_URL'], autocommit=True) as c:\n"
    "    c.execute('CREATE TABLE IF NOT EXISTS kept (n int)')\n"
    "    c.execute('INSERT INTO kept VALUES (1)')\n"
    "    print('rows', c.execute('SELECT count(*) FROM kept').fetchone()[0])\n"
)


def _clean_env() -> dict[str, str]:
    """No DATABASE_URL, and a free port of its own: a kept cluster's default port may be a `make run` of yours."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LOCAL_DATABASE_PORT"}}
    return clean | {"LOCAL_DATABASE_PORT": str(localdb.free_port())}


def _wrapper(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    clean = _clean_env() | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "whatsapp_project.localdb", *args],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, **kwargs,  # type: ignore[call-overload]
    )  # fmt: skip


def test_a_throwaway_server_serves_the_command_and_is_gone_afterwards() -> None:
    result = _wrapper("--throwaway", "--", sys.executable, "-c", KEEP_A_ROW + "print(os.environ['DATABASE_URL'])")
    assert result.returncode == 0, result.stderr
    assert "rows 1" in result.stdout
    url = result.stdout.strip().splitlines()[-1]
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    assert not localdb.port_taken(port)


def test_a_kept_cluster_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "postgres"
    first = _wrapper("--data", str(data), "--database", "whatsapp", "--", sys.executable, "-c", KEEP_A_ROW)
    second = _wrapper("--data", str(data), "--database", "whatsapp", "--", sys.executable, "-c", KEEP_A_ROW)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "rows 1" in first.stdout and "rows 2" in second.stdout
    assert (data / "PG_VERSION").exists() and not (data / "postmaster.pid").exists()


def test_the_command_exit_code_is_passed_on() -> None:
    result = _wrapper("--throwaway", "--", sys.executable, "-c", "raise SystemExit(7)")
    assert result.returncode == 7


def test_with_database_url_set_no_server_is_started() -> None:
    given = "postgres://someone@127.0.0.1:1/elsewhere"
    code = "import os; print(os.environ['DATABASE_URL'])"
    result = _wrapper("--throwaway", "--", sys.executable, "-c", code, env={"DATABASE_URL": given})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == given
    assert "embedded" not in result.stderr


def test_data_of_another_major_version_is_refused_with_the_way_out(tmp_path: Path) -> None:
    data = tmp_path / "postgres"
    data.mkdir()
    (data / "PG_VERSION").write_text("17\n")
    result = _wrapper("--data", str(data), "--", sys.executable, "-c", "print('ran')")
    assert result.returncode == 2
    assert "ran" not in result.stdout
    assert "PostgreSQL 17" in result.stderr and "mv " in result.stderr and "DATABASE_URL" in result.stderr


def test_a_taken_port_is_refused_at_once_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = _wrapper(
            "--data", str(tmp_path / "pg"), "--", sys.executable, "-c", "print('ran')",
            env={"LOCAL_DATABASE_PORT": str(port)},
        )  # fmt: skip
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert f"Port {port}" in result.stderr and "LOCAL_DATABASE_PORT" in result.stderr


def test_a_missing_command_is_a_usage_error() -> None:
    result = _wrapper("--throwaway")
    assert result.returncode == 2
    assert "command" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_server_stops_when_the_command_is_interrupted(tmp_path: Path, sig: signal.Signals) -> None:
    data = tmp_path / "postgres"
    ready = tmp_path / "ready"
    waits = f"import pathlib, time; pathlib.Path({str(ready)!r}).write_text('x'); time.sleep(60)"
    clean = _clean_env()
    # As from a terminal: Ctrl-C at its default. A test runner's worker may ignore SIGINT, and the ignore would be
    # inherited by the wrapper and its command (which then never stops on Ctrl-C, as Unix intends).
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "whatsapp_project.localdb", "--data", str(data), "--", sys.executable, "-c", waits],
        cwd=ROOT, env=clean, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (data / "postmaster.pid").exists()
        # Ctrl-C reaches the whole foreground group; SIGTERM (a supervisor) reaches the wrapper alone.
        if sig == signal.SIGINT:
            os.killpg(wrapper.pid, sig)
        else:
            wrapper.send_signal(sig)
        wrapper.wait(timeout=60)
    finally:
        if wrapper.poll() is None:
            os.killpg(wrapper.pid, signal.SIGKILL)
    assert not (data / "postmaster.pid").exists()
