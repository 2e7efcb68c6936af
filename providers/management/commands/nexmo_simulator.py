"""`manage.py nexmo_simulator`: the local Nexmo stand-in, and `nexmo_simulator customer …` to write as a customer."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.simulator import Channel, SimulatorConfig, customer_request, digits, serve_forever


def rate(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability between 0 and 1, got {value}")
    return number


def non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return number


class Command(BaseCommand):
    help = (
        "Run the local Nexmo simulator (POST /v0.1/messages, POST /v1/messages, PATCH /v1/messages/{uuid}, "
        "a customer page at /), or with `customer` post an inbound message as a customer through a running one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument("--host", default="127.0.0.1", help="Loopback by default; nothing here is for a network.")
        parser.add_argument("--seed", type=int, default=None, help="Seed of every random draw, to repeat a run.")
        parser.add_argument("--latency-ms", type=non_negative, default=0.0, help="Added to every API answer.")
        parser.add_argument("--latency-jitter-ms", type=non_negative, default=0.0, help="Mean extra latency.")
        parser.add_argument("--latency-distribution", choices=("uniform", "exponential"), default="uniform")
        parser.add_argument(
            "--fault-rate", type=rate, default=0.0, help="Spread evenly over 429, 5xx, timeout and reset."
        )
        parser.add_argument("--rate-429", type=rate, default=0.0)
        parser.add_argument("--rate-5xx", type=rate, default=0.0, help="Half 500, half 503.")
        parser.add_argument("--rate-timeout", type=rate, default=0.0, help="Accepted, never answered.")
        parser.add_argument("--timeout-hold-s", type=non_negative, default=30.0)
        parser.add_argument("--rate-reset", type=rate, default=0.0, help="Connection reset; nothing accepted.")
        parser.add_argument("--per-number-rate", type=non_negative, default=0.0, help="Sends/s per sender (0: off).")
        parser.add_argument("--no-verify-jwt", action="store_true", help="Accept any Authorization (benchmarks).")
        parser.add_argument("--no-validate", action="store_true", help="Skip body checks (benchmarks).")
        parser.add_argument("--no-db", action="store_true", help="Do not read provider configs from the database.")
        parser.add_argument("--public-key-file", type=Path, help="Public key (PEM) of --application-id.")
        parser.add_argument("--application-id", default="", help="Application whose sends --public-key-file checks.")
        parser.add_argument("--number", default="", help="Its WhatsApp number (default: any sender).")
        parser.add_argument("--status-url", default="", help="Status webhook of --application-id.")
        parser.add_argument("--inbound-url", default="", help="Inbound webhook of --application-id.")
        parser.add_argument("--signature-secret", default="", help="Signs the callbacks of --application-id.")
        parser.add_argument("--payload-version", choices=("v0.1", "v1"), default="v0.1")
        parser.add_argument(
            "--callback-base",
            default=None,
            help="Base URL of the callbacks of database providers (default: settings.PUBLIC_BASE_URL).",
        )
        parser.add_argument("--no-callbacks", action="store_true")
        parser.add_argument("--submitted-delay-ms", type=non_negative, default=300.0)
        parser.add_argument("--delivered-delay-ms", type=non_negative, default=1500.0)
        parser.add_argument("--read-delay-ms", type=non_negative, default=4000.0)
        parser.add_argument("--delivered-rate", type=rate, default=0.97)
        parser.add_argument("--read-rate", type=rate, default=0.75, help="Share of the delivered ones read.")
        parser.add_argument(
            "--undeliverable", action="append", default=[], help="A number not on WhatsApp (1300); repeatable."
        )
        parser.add_argument(
            "--window-source",
            choices=("db", "simulator", "off"),
            default="db",
            help="Where the 24 h window comes from: Contact.last_inbound_at and the simulator's own inbound "
            "messages (db), only the latter (simulator), or not enforced (off).",
        )
        parser.add_argument("--duplicate-callback-rate", type=rate, default=0.0)
        parser.add_argument("--shuffle-callback-rate", type=rate, default=0.0)
        parser.add_argument("--late-callback-rate", type=rate, default=0.0)
        parser.add_argument("--late-callback-ms", type=non_negative, default=5000.0)
        parser.add_argument("--early-callback-rate", type=rate, default=0.0, help="First callback before the 202.")
        parser.add_argument("--callback-retries", type=int, default=2)
        subparsers = parser.add_subparsers(dest="action", required=False)
        customer = subparsers.add_parser(
            "customer",
            help="Write to a provider number as a customer, through the running simulator.",
            called_from_command_line=getattr(parser, "called_from_command_line", False),
        )
        customer.add_argument("--simulator-url", default="http://127.0.0.1:8025")
        customer.add_argument("--from", dest="from_number", default="", help="The customer, e.g. +447700900001.")
        customer.add_argument("--to", dest="to_number", default="", help="The provider's number.")
        what = customer.add_mutually_exclusive_group(required=True)
        what.add_argument("--text")
        what.add_argument("--stop", action="store_true", help="Send STOP.")
        what.add_argument(
            "--tap",
            metavar="MESSAGE_UUID",
            help="Tap a button or list row of this sent message (a template's quick reply, an interactive message).",
        )
        customer.add_argument("--index", type=int, default=0, help="Which button or list row to tap (0 = first).")
        customer.add_argument("--button-payload", default="", help="Payload of the tapped button, when not known.")
        customer.add_argument("--button-text", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("action") == "customer":
            self.customer(options)
            return
        config = self.config_from(options)
        self.stdout.write(f"Nexmo simulator on http://{config.host}:{config.port}/ (Ctrl-C stops it)")

        def ready(simulator: Any, port: int) -> None:
            numbers = ", ".join(f"+{n}" for n in sorted(simulator.by_number)) or "none"
            self.stdout.write(f"Provider numbers known: {numbers}", ending="\n")
            self.stdout.flush()

        try:
            asyncio.run(serve_forever(config, ready=ready))
        except KeyboardInterrupt:
            self.stdout.write("Simulator stopped.")
        except OSError as error:
            raise CommandError(f"Cannot listen on {config.host}:{config.port}: {error.strerror}") from error

    def config_from(self, options: dict[str, Any]) -> SimulatorConfig:
        channels: list[Channel] = []
        if options["public_key_file"] or options["application_id"]:
            if not (options["public_key_file"] and options["application_id"]):
                raise CommandError("--public-key-file and --application-id go together.")
            try:
                pem = options["public_key_file"].read_text()
            except OSError as error:
                raise CommandError(f"--public-key-file: {error.strerror}: {options['public_key_file']}") from error
            if "PUBLIC KEY" not in pem:
                raise CommandError("--public-key-file must hold a PEM public key (-----BEGIN PUBLIC KEY-----).")
            channels.append(
                Channel(
                    application_id=options["application_id"],
                    public_key_pem=pem,
                    number=digits(options["number"]),
                    api_version=options["payload_version"],
                    status_url=options["status_url"],
                    inbound_url=options["inbound_url"],
                    signature_secret=options["signature_secret"],
                )
            )
        if options["callback_retries"] < 0:
            raise CommandError("--callback-retries must be zero or more.")
        try:
            return SimulatorConfig(
                host=options["host"],
                port=options["port"],
                seed=options["seed"],
                verify_jwt=not options["no_verify_jwt"],
                validate=not options["no_validate"],
                channels=tuple(channels),
                load_channels_from_db=not options["no_db"],
                callback_base=(options["callback_base"] or settings.PUBLIC_BASE_URL).rstrip("/"),
                enforce_window=options["window_source"] != "off",
                window_from_db=options["window_source"] == "db" and not options["no_db"],
                per_number_rate=options["per_number_rate"],
                latency_ms=options["latency_ms"],
                latency_jitter_ms=options["latency_jitter_ms"],
                latency_distribution=options["latency_distribution"],
                fault_rate=options["fault_rate"],
                rate_429=options["rate_429"],
                rate_5xx=options["rate_5xx"],
                rate_timeout=options["rate_timeout"],
                rate_reset=options["rate_reset"],
                timeout_hold_s=options["timeout_hold_s"],
                callbacks=not options["no_callbacks"],
                submitted_delay_ms=options["submitted_delay_ms"],
                delivered_delay_ms=options["delivered_delay_ms"],
                read_delay_ms=options["read_delay_ms"],
                delivered_rate=options["delivered_rate"],
                read_rate=options["read_rate"],
                undeliverable_numbers=frozenset(digits(n) for n in options["undeliverable"]),
                duplicate_callback_rate=options["duplicate_callback_rate"],
                shuffle_callback_rate=options["shuffle_callback_rate"],
                late_callback_rate=options["late_callback_rate"],
                late_callback_ms=options["late_callback_ms"],
                early_callback_rate=options["early_callback_rate"],
                callback_retries=options["callback_retries"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error

    def customer(self, options: dict[str, Any]) -> None:
        data: dict[str, Any] = {"from": options["from_number"], "to": options["to_number"]}
        if options["text"] is not None:
            data["text"] = options["text"]
        elif options["stop"]:
            data["stop"] = True
        else:
            data.update(tap=options["tap"], index=options["index"])
        if options["button_payload"]:
            data["button"] = {"payload": options["button_payload"], "text": options["button_text"]}
        if not options["tap"] and not (options["from_number"] and options["to_number"]):
            raise CommandError("--from and --to are required (except with --tap).")
        try:
            status, answer = customer_request(options["simulator_url"], data)
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot reach the simulator at {options['simulator_url']}: {error}") from error
        if status != 200:
            raise CommandError(answer.get("detail") or f"The simulator answered {status}.")
        self.stdout.write(json.dumps(answer, indent=2))
        if answer.get("status") is None:
            self.stderr.write(f"The inbound webhook {answer.get('url')} did not take the message (no 2xx answer).")
