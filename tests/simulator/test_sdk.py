"""Acceptance: the official Vonage SDK (v4), pointed at the simulator, gets Nexmo's answers."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jsonschema import Draft202012Validator
from vonage import Auth, HttpClientOptions, Vonage
from vonage_messages import WhatsappTemplate, WhatsappTemplateResource, WhatsappTemplateSettings, WhatsappText

from tests.simulator.conftest import APPLICATION_ID, BUSINESS, CUSTOMER, Keys, send, text_v01
from tests.vonage_fixtures import schema


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: the SDK always speaks https://."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture
def sdk(
    simulator_factory: Any, keys: Keys, tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Vonage, Any]]:
    cert_file, key_file = tls_files
    handle = simulator_factory(tls_cert_file=str(cert_file), tls_key_file=str(key_file))
    # requests trusts REQUESTS_CA_BUNDLE: the SDK itself is not touched.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    client = Vonage(
        Auth(application_id=APPLICATION_ID, private_key=keys.private_pem),
        HttpClientOptions(api_host=f"127.0.0.1:{handle.port}", max_retries=0, timeout=10),
    )
    yield client, handle


def test_vonage_sdk_sends_whatsapp_text_and_gets_202(sdk: tuple[Vonage, Any]) -> None:
    client, handle = sdk
    answer = client.messages.send(WhatsappText(to=CUSTOMER, from_=BUSINESS, text="Hello from the SDK", client_ref="t1"))
    assert len(answer.message_uuid) == 36
    assert client.http_client.last_response.status_code == 202
    assert handle.messages()[0]["text"] == "Hello from the SDK"


def test_vonage_sdk_sends_whatsapp_template_and_gets_202(sdk: tuple[Vonage, Any]) -> None:
    client, handle = sdk
    message = WhatsappTemplate(
        to=CUSTOMER,
        from_=BUSINESS,
        template=WhatsappTemplateResource(name="demo_namespace:order_update", parameters=["Ann", "A-17"]),
        whatsapp=WhatsappTemplateSettings(locale="en_GB", policy="deterministic"),
    )
    answer = client.messages.send(message)
    assert client.http_client.last_response.status_code == 202
    assert handle.messages()[0]["message_uuid"] == answer.message_uuid
    assert handle.messages()[0]["template_name"] == "demo_namespace:order_update"


def test_vonage_sdk_marks_an_inbound_message_read(sdk: tuple[Vonage, Any]) -> None:
    client, handle = sdk
    inbound = handle.customer(from_number=CUSTOMER, to_number=BUSINESS, text="hi")
    client.messages.mark_whatsapp_message_read(inbound["message_uuid"])
    assert client.http_client.last_response.status_code == 200
    assert handle.counters()["patched"] == 1


def test_a_body_the_v01_spec_forbids_gets_the_spec_error(simulator: Any, keys: Keys) -> None:
    # Our schema of Vonage's problem+json error object (tests/fixtures/schemas/problem.schema.json).
    error_schema = Draft202012Validator(schema("problem.schema.json"))
    body = {
        "from": {"type": "whatsapp", "number": BUSINESS},
        "to": {"type": "whatsapp", "number": CUSTOMER},
        "message": {
            "content": {"type": "template", "template": {"name": "ns:welcome", "parameters": ["Ann"]}},
            # "all requests carrying a `fallback` policy will be rejected with a 400 error" (templateMessageWhatsApp)
            "whatsapp": {"policy": "fallback", "locale": "en-GB"},
        },
    }
    assert not Draft202012Validator(schema("whatsapp-send-v0.1.schema.json")).is_valid(body)
    answer = send(simulator, keys, body)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    error_schema.validate(answer.json())
    assert not error_schema.is_valid({k: v for k, v in answer.json().items() if k != "instance"})
    assert answer.json()["type"] == "https://www.nexmo.com/messages/Errors#InvalidParams"
    assert answer.json()["invalid_parameters"] == [
        {"name": "message.whatsapp.policy", "reason": "must be `deterministic`"}
    ]


def test_text_over_the_spec_limit_is_refused(simulator: Any, keys: Keys) -> None:
    answer = send(simulator, keys, text_v01("x" * 4097))
    assert answer.status_code == 400
    assert answer.json()["invalid_parameters"][0]["name"] == "message.content.text"
