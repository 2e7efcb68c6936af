"""`make run`: prepare a local site and run the web server, the worker and the Nexmo simulator together."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_LOCAL = ROOT / ".env.local"
HOST, PORT = "127.0.0.1", 8000


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def local_env_ensure() -> None:
    """Generate an untracked .env.local with an encryption key unless one is configured."""
    existing = ENV_LOCAL.read_text() if ENV_LOCAL.exists() else ""
    if os.environ.get("FIELD_ENCRYPTION_KEYS") or "FIELD_ENCRYPTION_KEYS=" in existing:
        return
    from cryptography.fernet import Fernet

    lines = [existing.rstrip("\n")] if existing.strip() else []
    lines.append(f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}")
    if "SECRET_KEY=" not in existing and not os.environ.get("SECRET_KEY"):
        lines.append(f"SECRET_KEY={secrets.token_urlsafe(50)}")
    ENV_LOCAL.write_text("\n".join(lines) + "\n")
    ENV_LOCAL.chmod(0o600)
    say(f"Generated a field-encryption key into {ENV_LOCAL.name} (untracked; keep it: it decrypts stored secrets).")


SIMULATOR_ORIGIN = "http://127.0.0.1:8025"


def simulator_allow() -> None:
    """The demo provider sends to the local simulator: allow its origin for every process started here."""
    listed = [item.strip() for item in os.environ.get("NEXMO_ALLOWED_BASE_URLS", "").split(",") if item.strip()]
    if SIMULATOR_ORIGIN not in listed:
        os.environ["NEXMO_ALLOWED_BASE_URLS"] = ",".join([*listed, SIMULATOR_ORIGIN])


def port_busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    if port_busy(PORT):
        print(f"Port {PORT} is already in use: is `make run` already running? Stop it (Ctrl-C) and try again.")
        return 1
    local_env_ensure()
    # Development mode is something this command asks for: the settings default to DEBUG off. Every child below
    # (migrate, demo_data, runserver, qcluster, the simulator) inherits it.
    os.environ.setdefault("DEBUG", "true")
    simulator_allow()
    (ROOT / "var").mkdir(exist_ok=True)
    say("Applying migrations")
    manage("migrate", "--no-input", "-v", "0")
    say("Loading demo data")
    manage("demo_data")
    commands = [
        ["manage.py", "runserver", f"{HOST}:{PORT}", "--noreload", "--skip-checks"],
        ["manage.py", "qcluster"],
    ]
    simulator = ROOT / "providers" / "management" / "commands" / "nexmo_simulator.py"
    if simulator.exists():
        commands.append(["manage.py", "nexmo_simulator", "--port", "8025"])
    children = [subprocess.Popen([sys.executable, *cmd], cwd=ROOT, start_new_session=True) for cmd in commands]

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)

    def terminate(*_: object) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminate)
    for _ in range(100):
        if port_busy(PORT):
            break
        time.sleep(0.2)
    print(
        f"\n  WhatsApp Engage is running at http://{HOST}:{PORT}/\n"
        "  Log in as admin / whatsapp-demo (staff) or marketer / whatsapp-demo (Marketer role).\n"
        "  Background worker (qcluster) is running. Press Ctrl-C to stop everything.\n",
        flush=True,
    )
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = next(child for child in children if child.poll() is not None)
        print(f"A process stopped unexpectedly ({failed.args!r}); stopping the others.")
        return 1
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
