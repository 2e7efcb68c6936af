"""The simulated Nexmo: authenticates and checks sends, injects faults, posts callbacks and plays the customer."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import aiohttp
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from providers.simulator import page, payloads, problems
from providers.simulator.config import Channel, SimulatorConfig, digits
from providers.simulator.http import Delayed, Hold, Outcome, Request, Reset, Response, json_response
from providers.simulator.templates import API_PREFIX as TEMPLATES_PREFIX
from providers.simulator.templates import TemplateManager
from providers.simulator.validation import TEMPLATE_TYPES, Send, validate_v01, validate_v1

log = logging.getLogger("providers.simulator")
T = TypeVar("T")

WINDOW_SECONDS = 24 * 3600
DEFAULT_TOKEN_LIFETIME = 15 * 60  # Nexmo's default when a JWT has no exp
DB_REFRESH_MIN_INTERVAL = 1.0  # each unknown application id re-reads the database at most this often
# The messages it keeps are long-lived: when it keeps many, every this many accepted are set aside from the cyclic
# collector. A full collection over 100,000 kept messages paused the server for about 100 ms, after which it took
# the requests that had queued meanwhile all at once: their times of arrival bunched, and even pacing looked bursty.
FREEZE_EVERY = 5000
REFUSALS = ("unauthorized", "invalid", "unknown_sender", "rate_limited", "fault_429", "fault_5xx", "reset")


class CustomerError(ValueError):
    """The customer action cannot be played (unknown number, message or button); the message says why."""


@dataclass(frozen=True, slots=True)
class UnknownApplication:
    """The JWT names an application the simulator has no key for (yet)."""

    application_id: str


def counters_new() -> dict[str, Any]:
    return {
        "received": 0,  # send requests (POST /v0.1|v1/messages)
        "accepted": 0,  # given a message_uuid (answered 202, or held when a timeout was injected)
        "timeouts": 0,  # accepted but never answered
        "refused": dict.fromkeys(REFUSALS, 0),
        "patched": 0,  # PATCH /v1/messages/{uuid}
        "callbacks": {
            "sent": 0,  # answered 2xx by the receiver (duplicates included)
            "failed": 0,  # no 2xx after every retry
            "retried": 0,
            "duplicated": 0,
            "shuffled": 0,  # messages whose callbacks went out in a random order
            "late": 0,
            "early": 0,  # posted before the 202
            "by_status": {},
        },
        "inbound": {"sent": 0, "failed": 0},
    }


@dataclass(slots=True)
class SentMessage:
    """An accepted send and the statuses posted for it."""

    message_uuid: str
    api: str  # the send API: v0.1 | v1
    to: str
    from_: str
    message_type: str
    text: str
    template_name: str
    buttons: tuple[tuple[str, str], ...]
    client_ref: str
    accepted_at: float  # epoch seconds; formatted only when listed (strftime costs more than the whole check)
    callback_version: str
    status_url: str
    channel: Channel | None
    statuses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("from_")
        data["buttons"] = [{"payload": p, "text": t} for p, t in self.buttons]
        data["status"] = self.statuses[-1] if self.statuses else "accepted"
        data["accepted_at"] = payloads.timestamp(self.accepted_at)
        data.pop("channel")
        return data


@dataclass(frozen=True, slots=True)
class Step:
    delay: float
    status: str
    error: int | None = None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Content types a page on another site can POST without a CORS preflight (an HTML form, or fetch in no-cors mode).
SIMPLE_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def cross_origin_refusal(request: Request) -> str | None:
    """Why a state-changing control request is refused as coming from another site, or None to accept it.

    While `make run` is up, any web page the developer opens could post to http://127.0.0.1:8025/_sim/customer (a
    forged STOP) or /_sim/config (callbacks sent elsewhere). Browsers say where a request comes from: Sec-Fetch-Site
    and Origin must name this simulator. A request with neither (curl, the CLI, tests, benchmarks) is accepted
    unless its body is of a kind an HTML form can send: an old browser without those headers may be one.
    """
    host = request.headers.get("host", "")
    own = {f"http://{host}", f"https://{host}"} if host else set()
    site = request.headers.get("sec-fetch-site", "")
    if site and site not in ("same-origin", "none"):
        return f"Cross-site request refused (Sec-Fetch-Site: {site[:40]}): use the simulator's own page or its API."
    origin = request.headers.get("origin", "")
    if origin:
        if origin not in own:
            return f"Request from another origin ({origin[:100]}) refused: use the simulator's own page or its API."
        return None
    referer = request.headers.get("referer", "")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in SIMPLE_CONTENT_TYPES and not any(referer.startswith(f"{o}/") for o in own):
        return "A form post without Origin is refused: send JSON (Content-Type: application/json) or use the page."
    return None


class Simulator:
    """All state lives on one event loop; nothing here is thread-safe (use the runner's handle from other threads)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.counters = counters_new()
        self.messages: OrderedDict[str, SentMessage] = OrderedDict()
        self.inbound: deque[dict[str, Any]] = deque(maxlen=config.recent_limit)
        self.windows: dict[tuple[str, str], float] = {}  # (business, customer) -> last inbound (epoch)
        self.db_windows: dict[str, tuple[bool, float]] = {}  # customer -> (open, checked at)
        self.buckets: dict[str, tuple[float, float]] = {}  # sender -> (tokens, at)
        self.tokens: dict[str, tuple[str, float]] = {}  # verified JWT -> (application id, valid until)
        self.db_channels: tuple[Channel, ...] = ()
        self.unknown_checked: dict[str, float] = {}  # application id -> when the database was last read for it
        self.by_app: dict[str, list[Channel]] = {}
        self.by_number: dict[str, Channel] = {}
        self.keys: dict[str, Any] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.session: aiohttp.ClientSession | None = None
        # One thread for the database: one connection, closed on close(), and never the event loop blocked.
        self.db: ThreadPoolExecutor | None = None
        self.unfrozen = 0  # messages accepted since the collector last set the kept ones aside
        self.templates = TemplateManager()  # the WhatsApp Business Accounts' templates (Template Management API)
        self.index_channels()

    # ---- configuration and channels

    def configure(self, **changes: Any) -> None:
        self.config = self.config.with_changes(**changes)
        if "seed" in changes:
            self.rng.seed(self.config.seed)
        if "channels" in changes:
            self.index_channels()

    def index_channels(self) -> None:
        by_app: dict[str, list[Channel]] = {}
        keys: dict[str, Any] = {}
        for channel in (*self.db_channels, *self.config.channels):
            by_app.setdefault(channel.application_id, []).append(channel)
            if channel.application_id not in keys:
                keys[channel.application_id] = load_pem_public_key(channel.public_key_pem.encode())
        if keys != self.keys:
            self.tokens.clear()  # a rotated key must not keep honouring tokens verified with the old one
        self.by_app, self.keys = by_app, keys
        self.by_number = {c.number: c for c in (*self.db_channels, *self.config.channels) if c.number}

    async def refresh_channels(self, *, unknown: str = "") -> None:
        """Re-read the provider configs in a worker thread; for an `unknown` application id at most once a second."""
        if not self.config.load_channels_from_db:
            return
        if unknown:
            now = time.monotonic()
            if now - self.unknown_checked.get(unknown, -DB_REFRESH_MIN_INTERVAL) < DB_REFRESH_MIN_INTERVAL:
                return
            if len(self.unknown_checked) > 10_000:  # a flood of made-up ids must not grow memory without bound
                self.unknown_checked.clear()
            self.unknown_checked[unknown] = now
        from providers.simulator.directory import channels_from_db

        base = self.config.callback_base
        channels = await self.in_db_thread(lambda: channels_from_db(callback_base=base))
        if channels is not None:
            self.db_channels = tuple(channels)
            self.index_channels()

    def channel_for(self, application_id: str | None, number: str) -> Channel | None:
        channel = self.by_number.get(number)
        if application_id is None:
            return channel
        if channel is not None and channel.application_id == application_id:
            return channel
        # A channel without a number stands for every sender number of its application (e.g. --public-key-file).
        return next((c for c in self.by_app.get(application_id, ()) if not c.number), None)

    # ---- HTTP entry point

    def handle(self, request: Request) -> Outcome | Awaitable[Outcome]:
        path, method = request.path, request.method
        if path in ("/v0.1/messages", "/v1/messages"):
            if method != "POST":
                return problems.method_not_allowed("POST")
            return self.send(request, "v0.1" if path == "/v0.1/messages" else "v1")
        if path.startswith("/v1/messages/"):
            if method != "PATCH":
                return problems.method_not_allowed("PATCH")
            return self.patch(request, path.removeprefix("/v1/messages/"))
        if path == "/" and method == "GET":
            return page.render(self, notice=request.query.get("notice", [""])[0])
        if path.startswith("/_sim/") and method not in SAFE_METHODS:
            refusal = cross_origin_refusal(request)
            if refusal is not None:
                return json_response(403, {"detail": refusal})
        if path == "/_sim/counters" and method == "GET":
            return json_response(200, self.counters)
        if path == "/_sim/messages" and method == "GET":
            return json_response(200, self.messages_list(request.query))
        if path == "/_sim/reset" and method == "POST":
            self.reset()
            return json_response(200, self.counters)
        if path == "/_sim/config":
            return self.config_endpoint(request)
        if path == "/_sim/customer" and method == "POST":
            return self.customer_endpoint(request)
        if path.startswith((TEMPLATES_PREFIX, "/_sim/templates")):
            return self.templates.endpoint(self, request)
        return problems.not_found(f"No {method} {path} here")

    # ---- sends

    def latency(self) -> float:
        cfg = self.config
        jitter = 0.0
        if cfg.latency_jitter_ms > 0:
            if cfg.latency_distribution == "exponential":
                jitter = self.rng.expovariate(1.0 / cfg.latency_jitter_ms)
            else:
                jitter = self.rng.uniform(0, 2 * cfg.latency_jitter_ms)
        return (cfg.latency_ms + jitter) / 1000.0

    def send(self, request: Request, api: str) -> Outcome | Awaitable[Outcome]:
        cfg, counters = self.config, self.counters
        counters["received"] += 1
        # One draw per request decides its fault, so a seeded run repeats request by request.
        draw = self.rng.random()
        delay = self.latency()
        spread = cfg.fault_rate / 4
        edge = cfg.rate_reset + spread
        if draw < edge:
            counters["refused"]["reset"] += 1
            return Reset()
        band = cfg.rate_5xx + spread
        if draw < edge + band:
            counters["refused"]["fault_5xx"] += 1
            return Delayed(problems.internal(500 if draw < edge + band / 2 else 503), delay)
        edge += band
        band = cfg.rate_429 + spread
        if draw < edge + band:
            counters["refused"]["fault_429"] += 1
            return Delayed(problems.throttled(), delay)
        edge += band
        hold = draw < edge + cfg.rate_timeout + spread
        application_id: str | None = None
        if cfg.verify_jwt:
            found = self.authorize(request.headers.get("authorization", ""))
            if isinstance(found, UnknownApplication) and cfg.load_channels_from_db:
                return self._send_after_refresh(request, api, delay, hold, found.application_id)
            if not isinstance(found, str):
                counters["refused"]["unauthorized"] += 1
                return Delayed(problems.unauthorized(), delay)
            application_id = found
        return self._send_checked(request, api, delay, hold, application_id)

    async def _send_after_refresh(
        self, request: Request, api: str, delay: float, hold: bool, application_id: str
    ) -> Outcome:
        await self.refresh_channels(unknown=application_id)
        found = self.authorize(request.headers.get("authorization", ""))
        if not isinstance(found, str):
            self.counters["refused"]["unauthorized"] += 1
            return Delayed(problems.unauthorized(), delay)
        outcome = self._send_checked(request, api, delay, hold, found)
        return outcome if isinstance(outcome, Response | Delayed | Hold | Reset) else await outcome

    def authorize(self, header: str) -> str | UnknownApplication | None:
        """The application id of a valid RS256 bearer token; verified tokens are remembered until they expire."""
        if not header.startswith("Bearer "):
            return None
        token = header[7:].strip()
        now = time.time()
        known = self.tokens.get(token)
        if known is not None and known[1] > now:
            return known[0]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        application_id = unverified.get("application_id")
        if not isinstance(application_id, str):
            return None
        key = self.keys.get(application_id)
        if key is None:
            return UnknownApplication(application_id)
        try:
            claims = jwt.decode(token, key, algorithms=["RS256"], options={"require": ["iat", "jti"]}, leeway=30)
        except jwt.InvalidSignatureError:
            # The key may have been rotated in the database since it was loaded: worth one more look there.
            return UnknownApplication(application_id) if self.config.load_channels_from_db else None
        except jwt.PyJWTError:
            return None
        expires = float(claims.get("exp") or claims["iat"] + DEFAULT_TOKEN_LIFETIME)
        if len(self.tokens) > 100_000:
            self.tokens.clear()
        self.tokens[token] = (application_id, expires)
        return application_id

    def _send_checked(
        self, request: Request, api: str, delay: float, hold: bool, application_id: str | None
    ) -> Outcome | Awaitable[Outcome]:
        cfg, counters = self.config, self.counters
        try:
            body = json.loads(request.body)
        except ValueError as error:
            counters["refused"]["invalid"] += 1
            return Delayed(problems.invalid_json(api, str(error)), delay)
        if cfg.validate:
            send, invalid = validate_v01(body) if api == "v0.1" else validate_v1(body)
            if send is None:
                counters["refused"]["invalid"] += 1
                return Delayed(problems.invalid_params(api, invalid), delay)
        else:
            send = lenient(body, api)
        channel = self.channel_for(application_id, send.from_)
        if application_id is not None and channel is None:
            counters["refused"]["unknown_sender"] += 1
            return Delayed(problems.invalid_sender(), delay)
        if cfg.per_number_rate > 0 and not self.take_token(send.from_):
            counters["refused"]["rate_limited"] += 1
            return Delayed(problems.throttled(), delay)
        message = self.accept(send, api, channel)
        counters["accepted"] += 1
        response = Response(202, b'{"message_uuid": "%s"}' % message.message_uuid.encode())
        plan = self.callbacks_wanted(message)
        if hold:
            counters["timeouts"] += 1
            if plan:
                self.spawn(self.deliver(message))
            return Hold(cfg.timeout_hold_s)
        if plan and cfg.early_callback_rate > 0 and self.rng.random() < cfg.early_callback_rate:
            return self._answer_after_first_callback(message, Delayed(response, delay))
        if plan:
            self.spawn(self.deliver(message))
        return Delayed(response, delay)

    def take_token(self, number: str) -> bool:
        """Token bucket per sender number: `per_number_rate` per second, bursts up to one second's worth."""
        rate = self.config.per_number_rate
        now = time.monotonic()
        tokens, at = self.buckets.get(number, (max(1.0, rate), now))
        tokens = min(max(1.0, rate), tokens + (now - at) * rate)
        if tokens < 1.0:
            self.buckets[number] = (tokens, now)
            return False
        self.buckets[number] = (tokens - 1.0, now)
        return True

    def accept(self, send: Send, api: str, channel: Channel | None) -> SentMessage:
        version = send.webhook_version or (channel.api_version if channel else api)
        message = SentMessage(
            message_uuid=str(uuid.uuid4()),
            api=api,
            to=send.to,
            from_=send.from_,
            message_type=send.message_type,
            text=send.text,
            template_name=send.template_name,
            buttons=send.buttons,
            client_ref=send.client_ref,
            accepted_at=time.time(),
            callback_version=version,
            status_url=send.webhook_url or (channel.status_url if channel else ""),
            channel=channel,
        )
        self.messages[message.message_uuid] = message
        while len(self.messages) > self.config.recent_limit:
            self.messages.popitem(last=False)
        self.unfrozen += 1
        if self.unfrozen >= FREEZE_EVERY and len(self.messages) >= FREEZE_EVERY:
            gc.freeze()
            self.unfrozen = 0
        return message

    def patch(self, request: Request, message_uuid: str) -> Outcome:
        """`PATCH /v1/messages/{uuid}` {"status": "read"}: mark an inbound message read (or revoke a sent one)."""
        delay = self.latency()
        if self.config.verify_jwt and not isinstance(self.authorize(request.headers.get("authorization", "")), str):
            self.counters["refused"]["unauthorized"] += 1
            return Delayed(problems.unauthorized(), delay)
        try:
            body = json.loads(request.body)
        except ValueError as error:
            return Delayed(problems.invalid_json("v1", str(error)), delay)
        status = body.get("status") if isinstance(body, dict) else None
        if status not in ("read", "revoked"):
            return Delayed(problems.invalid_params("v1", [("status", "must be `read` or `revoked`")]), delay)
        known = message_uuid in self.messages or any(m["message_uuid"] == message_uuid for m in self.inbound)
        if not known:
            return Delayed(problems.not_found(f"No message {message_uuid}"), delay)
        self.counters["patched"] += 1
        return Delayed(Response(200), delay)

    # ---- status callbacks

    def callbacks_wanted(self, message: SentMessage) -> bool:
        return self.config.callbacks and bool(message.status_url)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def plan(self, message: SentMessage) -> list[Step]:
        cfg = self.config
        submitted = Step(cfg.submitted_delay_ms / 1000, "submitted")
        if message.to in cfg.undeliverable_numbers:
            return [submitted, Step(cfg.delivered_delay_ms / 1000, "undeliverable", 1300)]
        if (
            cfg.enforce_window
            and message.message_type not in TEMPLATE_TYPES
            and not await self.window_open(business=message.from_, customer=message.to)
        ):
            return [Step(cfg.submitted_delay_ms / 1000, "rejected", 1340)]
        steps = [submitted]
        if self.rng.random() < cfg.delivered_rate:
            steps.append(Step(cfg.delivered_delay_ms / 1000, "delivered"))
            if self.rng.random() < cfg.read_rate:
                steps.append(Step(cfg.read_delay_ms / 1000, "read"))
        return steps

    def disorder(self, steps: list[Step]) -> list[Step]:
        """Apply the shuffled and late faults: the same statuses, at other times."""
        cfg, counters = self.config, self.counters["callbacks"]
        if len(steps) > 1 and cfg.shuffle_callback_rate > 0 and self.rng.random() < cfg.shuffle_callback_rate:
            delays = [s.delay for s in steps]
            order = steps[:]
            while order == steps:  # a shuffle that changes nothing would not test anything
                self.rng.shuffle(order)
            steps = [Step(d, s.status, s.error) for d, s in zip(delays, order, strict=True)]
            counters["shuffled"] += 1
        if cfg.late_callback_rate > 0:
            late = []
            for step in steps:
                if self.rng.random() < cfg.late_callback_rate:
                    counters["late"] += 1
                    step = Step(step.delay + cfg.late_callback_ms / 1000, step.status, step.error)
                late.append(step)
            steps = late
        return steps

    async def deliver(self, message: SentMessage, steps: list[Step] | None = None) -> None:
        if steps is None:
            steps = self.disorder(await self.plan(message))
        started = time.monotonic()
        for step in sorted(steps, key=lambda s: s.delay):
            wait = step.delay - (time.monotonic() - started)
            if wait > 0:
                await asyncio.sleep(wait)
            # One at a time per message: unless a fault says otherwise, statuses arrive in the order they happen.
            await self.post_status(message, step)

    async def _answer_after_first_callback(self, message: SentMessage, answer: Delayed) -> Outcome:
        steps = await self.plan(message)
        first, rest = steps[0], steps[1:]
        self.counters["callbacks"]["early"] += 1
        await self.post_status(message, first)
        if rest:
            self.spawn(self.deliver(message, self.disorder(rest)))
        return answer

    async def post_status(self, message: SentMessage, step: Step) -> None:
        cfg = self.config
        payload = payloads.status_payload(
            version=message.callback_version,
            message_uuid=message.message_uuid,
            to=message.to,
            from_=message.from_,
            status=step.status,
            client_ref=message.client_ref,
            error=step.error,
        )
        message.statuses.append(step.status)
        copies = 2 if cfg.duplicate_callback_rate > 0 and self.rng.random() < cfg.duplicate_callback_rate else 1
        for copy in range(copies):
            if copy:
                self.counters["callbacks"]["duplicated"] += 1
            ok = await self.post(message.status_url, payload, message.channel) is not None
            if ok:
                by_status = self.counters["callbacks"]["by_status"]
                by_status[step.status] = by_status.get(step.status, 0) + 1

    async def post(self, url: str, payload: dict[str, Any], channel: Channel | None) -> int | None:
        """POST a callback, signed when the channel has a secret; retried like Nexmo. The 2xx status, or None."""
        cfg, counters = self.config, self.counters["callbacks"]
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if channel is not None and channel.signature_secret:
            token = payloads.signature(
                secret=channel.signature_secret,
                body=body,
                api_key=cfg.api_key,
                application_id=channel.application_id,
            )
            headers["Authorization"] = f"Bearer {token}"
        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        timeout = aiohttp.ClientTimeout(total=cfg.callback_timeout_s)
        for attempt in range(cfg.callback_retries + 1):
            if attempt:
                counters["retried"] += 1
                await asyncio.sleep(0.1 * 2**attempt)
            try:
                async with self.session.post(url, data=body, headers=headers, timeout=timeout) as answer:
                    await answer.read()
                    if answer.status < 300:
                        counters["sent"] += 1
                        return answer.status
                    log.info("Callback to %s answered %s", url, answer.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                log.info("Callback to %s failed: %r", url, error)
        counters["failed"] += 1
        return None

    # ---- the 24-hour window

    async def window_open(self, *, business: str, customer: str) -> bool:
        now = time.time()
        if now - self.windows.get((business, customer), -WINDOW_SECONDS) < WINDOW_SECONDS:
            return True
        if not self.config.window_from_db:
            return False
        cached = self.db_windows.get(customer)
        if cached is not None and now - cached[1] < 5.0:  # a short cache: a campaign sends to each number once
            return cached[0]
        from providers.simulator.directory import window_open_in_db

        is_open = await self.in_db_thread(lambda: window_open_in_db(customer=customer))
        self.db_windows[customer] = (is_open, now)
        return is_open

    async def in_db_thread(self, function: Callable[[], T]) -> T:
        if self.db is None:
            self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexmo-simulator-db")
        return await asyncio.get_running_loop().run_in_executor(self.db, function)

    # ---- the customer

    async def customer(
        self,
        *,
        from_number: str = "",
        to_number: str = "",
        text: str = "",
        stop: bool = False,
        button: tuple[str, str] | None = None,
        tap: str = "",
        index: int = 0,
        profile_name: str = "",
    ) -> dict[str, Any]:
        """Post an inbound message as the customer: text, STOP, or a tap on a sent message: a template's quick reply,
        an interactive message's reply button or list row (`index` counts them in order).

        Returns {"message_uuid", "status" (the receiver's HTTP status, or None), "url", "payload"}.
        """
        context = ""
        interactive = False
        if tap:
            sent = self.messages.get(tap)
            if sent is None:
                raise CustomerError(f"No recent message {tap} to tap a button of.")
            if button is None:
                if not sent.buttons:
                    raise CustomerError(
                        "That message has no quick-reply buttons or list rows; give a button payload and text."
                    )
                if not 0 <= index < len(sent.buttons):
                    raise CustomerError(
                        f"That message has {len(sent.buttons)} button(s); index {index} is out of range."
                    )
                button = sent.buttons[index]
            from_number, to_number, context = sent.to, sent.from_, sent.message_uuid
            interactive = sent.message_type == "interactive"
        customer, business = digits(from_number), digits(to_number)
        if not customer or not business:
            raise CustomerError("Give the customer's number (from) and the business number (to).")
        if stop:
            text = "STOP"
        if not text and button is None:
            raise CustomerError("Give a text, STOP or a button to tap.")
        channel = self.by_number.get(business)
        if channel is None:
            await self.refresh_channels()
            channel = self.by_number.get(business)
        if channel is None or not channel.inbound_url:
            raise CustomerError(f"No provider number {business} with an inbound URL is known to the simulator.")
        message_uuid = str(uuid.uuid4())
        payload = payloads.inbound_payload(
            version=channel.api_version,
            message_uuid=message_uuid,
            customer=customer,
            business=business,
            text=text,
            button=button,
            interactive=interactive,
            context_uuid=context,
            profile_name=profile_name,
        )
        # The customer wrote: WhatsApp opens the 24-hour window whether or not our webhook took the message.
        self.windows[(business, customer)] = time.time()
        self.inbound.appendleft({"message_uuid": message_uuid, "from": customer, "to": business, "payload": payload})
        status = await self.post(channel.inbound_url, payload, channel)
        self.counters["inbound"]["sent" if status is not None else "failed"] += 1
        return {"message_uuid": message_uuid, "status": status, "url": channel.inbound_url, "payload": payload}

    def customer_endpoint(self, request: Request) -> Outcome | Awaitable[Outcome]:
        from_form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        try:
            data: dict[str, Any] = request.form() if from_form else json.loads(request.body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            kwargs = customer_arguments(data)
        except (ValueError, TypeError) as error:
            return json_response(400, {"detail": str(error)})

        async def play() -> Outcome:
            try:
                result = await self.customer(**kwargs)
            except CustomerError as error:
                if from_form:
                    return page.redirect(f"Not sent: {error}")
                return json_response(400, {"detail": str(error)})
            if from_form:
                return page.redirect(
                    f"Sent {result['payload'].get('message_uuid')}: webhook answered {result['status']}"
                )
            return json_response(200, result)

        return play()

    # ---- bookkeeping endpoints

    def messages_list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = _int(query.get("limit", ["100"])[0], 100)
        to = digits(query.get("to", [""])[0])
        client_ref = query.get("client_ref", [""])[0]
        results = []
        for message in reversed(self.messages.values()):
            if (to and message.to != to) or (client_ref and message.client_ref != client_ref):
                continue
            results.append(message.as_dict())
            if len(results) >= limit:
                break
        return {"count": len(results), "results": results, "inbound": list(self.inbound)[:limit]}

    def config_endpoint(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(request.body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object of settings")
                if "channels" in changes:
                    raise ValueError("channels cannot be changed over HTTP")
                self.configure(**changes)
            except (ValueError, TypeError) as error:
                return json_response(400, {"detail": str(error)})
        elif request.method != "GET":
            return problems.method_not_allowed("GET, POST")
        return json_response(200, config_public(self.config))

    def reset(self) -> None:
        """Forget counters, messages, windows and pending callbacks; reseed so a run can be repeated."""
        for task in list(self.tasks):
            task.cancel()
        self.counters = counters_new()
        self.messages.clear()
        self.inbound.clear()
        self.windows.clear()
        self.db_windows.clear()
        self.buckets.clear()
        self.templates.reset()
        self.rng.seed(self.config.seed)
        # What was set aside is collectable again; one full collection now, between runs, not during one.
        gc.unfreeze()
        gc.collect()
        self.unfrozen = 0

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
            self.session = None
        if self.db is not None:
            from django.db import connections

            await self.in_db_thread(connections.close_all)
            self.db.shutdown(wait=True)
            self.db = None


def lenient(body: Any, api: str) -> Send:
    """Without validation (a benchmark baseline): take what is there, never fail."""
    data = _dict(body)
    if api == "v0.1":
        to, from_ = _dict(data.get("to")), _dict(data.get("from"))
        content = _dict(_dict(data.get("message")).get("content"))
        to_number, from_number, kind = str(to.get("number", "")), str(from_.get("number", "")), content.get("type")
    else:
        to_number, from_number, kind = str(data.get("to", "")), str(data.get("from", "")), data.get("message_type")
    return Send(
        to=to_number,
        from_=from_number,
        message_type=str(kind or "text"),
        text="",
        template_name="",
        buttons=(),
        client_ref=str(data.get("client_ref", "")),
        webhook_url="",
        webhook_version="",
    )


def customer_arguments(data: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of Simulator.customer from a JSON body or the page's form."""
    action = str(data.get("action", ""))
    button = _dict(data.get("button"))
    payload = data.get("button_payload") or button.get("payload")
    text = data.get("button_text") or button.get("text")
    return {
        "from_number": str(data.get("from", "")),
        "to_number": str(data.get("to", "")),
        "text": str(data.get("text", "")),
        "stop": bool(data.get("stop")) or action == "stop",
        "button": (str(payload), str(text or payload)) if payload else None,
        "tap": str(data.get("tap", "")),
        "index": _int(str(data.get("index", 0)), 0),
        "profile_name": str(data.get("profile_name", "")),
    }


def config_public(config: SimulatorConfig) -> dict[str, Any]:
    """The settings as JSON, channels summarised without keys or secrets."""
    data = asdict(config)
    data["undeliverable_numbers"] = sorted(config.undeliverable_numbers)
    data["channels"] = [{"application_id": c.application_id, "number": c.number} for c in config.channels]
    return data


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default
