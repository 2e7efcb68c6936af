"""What the simulator knows (applications, numbers, callback URLs) and how it misbehaves (latency, faults)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

LatencyDistribution = Literal["uniform", "exponential"]


@dataclass(frozen=True, slots=True)
class Channel:
    """One WhatsApp number of a Nexmo application: who may send from it and where its callbacks go."""

    application_id: str
    public_key_pem: str  # the application's public key (PEM); sends must be signed with its private key
    number: str  # the business number, digits only (Nexmo's format: no + or 00)
    api_version: Literal["v0.1", "v1"] = "v0.1"  # payload version of the callbacks
    status_url: str = ""  # empty: status callbacks are not sent
    inbound_url: str = ""  # empty: the customer cannot write to this number
    signature_secret: str = field(default="", repr=False)  # empty: callbacks are not signed


@dataclass(slots=True)
class SimulatorConfig:
    """Every knob of the simulator; the management command maps its options onto these fields one to one.

    Rates are probabilities in [0, 1] drawn per request (or per callback) from one seeded generator.
    """

    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port (tests and run_in_thread)
    seed: int | None = None
    # Nexmo behaviour
    verify_jwt: bool = True
    validate: bool = True
    channels: tuple[Channel, ...] = ()
    load_channels_from_db: bool = False  # ProviderConfig rows, loaded at start and on an unknown application id
    callback_base: str | None = None  # replaces settings.PUBLIC_BASE_URL in the callback URLs of DB channels
    enforce_window: bool = True  # free-form content outside the 24 h window is rejected with 1340
    window_from_db: bool = False  # besides the simulator's own inbound messages, trust Contact.last_inbound_at
    per_number_rate: float = 0.0  # messages per second per sender number (0: unlimited); over it: 429
    api_key: str = "5im0la70"  # the account key named in signed callbacks (claim api_key)
    # latency of every API answer: latency_ms plus a jitter drawn from the distribution (mean latency_jitter_ms)
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_distribution: LatencyDistribution = "uniform"
    # faults of the send API
    fault_rate: float = 0.0  # spread evenly over 429, 5xx, timeout and reset, on top of the rates below
    rate_429: float = 0.0
    rate_5xx: float = 0.0  # half 500, half 503
    rate_timeout: float = 0.0  # accepted (callbacks follow) but never answered; the connection closes later
    rate_reset: float = 0.0  # connection reset before the request is read: nothing accepted
    timeout_hold_s: float = 30.0
    # status callbacks
    callbacks: bool = True
    submitted_delay_ms: float = 0.0
    delivered_delay_ms: float = 20.0
    read_delay_ms: float = 40.0
    delivered_rate: float = 1.0
    read_rate: float = 1.0  # of the delivered ones
    undeliverable_numbers: frozenset[str] = frozenset()  # "not on WhatsApp": digits, answered 1300
    duplicate_callback_rate: float = 0.0  # each callback is posted twice
    shuffle_callback_rate: float = 0.0  # a message's callbacks are posted in a random order
    late_callback_rate: float = 0.0  # a callback is held back by late_callback_ms
    late_callback_ms: float = 2000.0
    early_callback_rate: float = 0.0  # the `submitted` callback is posted before the 202 is answered
    callback_timeout_s: float = 5.0
    callback_retries: int = 2  # further attempts after a failed post (non-2xx or no answer)
    # bookkeeping
    recent_limit: int = 1000  # accepted and inbound messages kept for /_sim/messages and the page
    tls_cert_file: str | None = None  # serve HTTPS (clients that insist on https://, such as the vonage SDK)
    tls_key_file: str | None = None

    def with_changes(self, **changes: Any) -> SimulatorConfig:
        """A copy with some fields changed; unknown names are refused with their name."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown simulator setting(s): {', '.join(unknown)}")
        if "undeliverable_numbers" in changes:
            changes["undeliverable_numbers"] = frozenset(digits(n) for n in changes["undeliverable_numbers"])
        if "channels" in changes:
            changes["channels"] = tuple(changes["channels"])
        return replace(self, **changes)


def digits(number: str) -> str:
    """Nexmo's number format from E.164 or digits: '+44 7700 900000' -> '447700900000'."""
    return "".join(ch for ch in number if ch.isdigit())
