"""Objects and requests holding a key or secret never show it in repr, logs or error pages (issue 15, point 2)."""

from __future__ import annotations

import sys
from typing import Any

from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter, get_default_exception_reporter_filter

from providers.nexmo.client import Credentials
from providers.simulator.config import Channel

# Built at run time: the debug page shows source lines around each frame, and a literal there would be found.
KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + "-not-a-real-key" * 2
PEM = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n"
SIGNATURE_SECRET = "sig-" + "xyz" * 3


def _credentials() -> Credentials:
    return Credentials(application_id="app-1", private_key=PEM, base_url="https://api.nexmo.com", api_version="v0.1")


def test_credentials_repr_names_the_application_but_not_the_key() -> None:
    shown = repr(_credentials())
    assert "app-1" in shown
    assert KEY_BODY not in shown and "PRIVATE KEY" not in shown


def test_a_simulator_channel_repr_hides_its_signature_secret() -> None:
    channel = Channel(
        application_id="app-1", public_key_pem="pub", number="447700900000", signature_secret=SIGNATURE_SECRET
    )
    assert SIGNATURE_SECRET not in repr(channel)


def _report_html(request: Any, failing: Any) -> str:
    try:
        failing()
    except RuntimeError:
        return ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    raise AssertionError("the failing function did not fail")


@override_settings(DEBUG=True)
def test_the_debug_500_page_shows_no_key_from_locals_or_the_posted_form() -> None:
    request = RequestFactory().post(
        "/settings/channels/whatsapp/add/",
        {"private_key": PEM, "signature_secret": SIGNATURE_SECRET, "nickname": "Main"},
    )

    def failing() -> None:
        credentials = _credentials()
        data = {"nickname": "Main", "private_key": PEM, "signature_secret": SIGNATURE_SECRET}
        raise RuntimeError(f"send failed for {credentials.application_id} {len(data)}")

    html = _report_html(request, failing)
    assert "send failed for app-1" in html
    assert "Main" in html
    assert KEY_BODY not in html
    assert SIGNATURE_SECRET not in html


@override_settings(REDIS_URL="redis://:hunter2-redis@cache.internal:6379/0")
def test_error_reports_hide_the_redis_password_in_settings() -> None:
    safe = get_default_exception_reporter_filter().get_safe_settings()
    assert "hunter2-redis" not in repr(safe)
    assert safe["FIELD_ENCRYPTION_KEYS"] == "********************"
