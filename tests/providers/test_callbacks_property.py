"""Whatever is thrown at the callback endpoints, the answer is never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.models import ProviderConfig
from tests.providers.factories import provider_make, sign
from tests.vonage_fixtures import load

pytestmark = pytest.mark.django_db

SECRET = "property-secret-0123456789-abcdefghij"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=15,
)
# Real shapes with random values swapped in: these get past the first checks and reach the parsers and the database.
fixtures = st.sampled_from(
    [
        "v0.1-inbound-text.json",
        "v0.1-status-delivered.json",
        "v1-inbound-reply.json",
        "v1-status-read.json",
        "v0.1-inbound-location.json",
    ]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    payload: dict[str, Any] = load(draw(fixtures))
    for key in draw(st.lists(st.sampled_from([*payload.keys(), "status", "message_uuid", "timestamp"]), max_size=3)):
        payload[key] = draw(json_values)
    return json.dumps(payload).encode()


bodies = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()), mutated())
headers = st.dictionaries(
    st.sampled_from(["HTTP_AUTHORIZATION", "CONTENT_TYPE", "HTTP_X_FORWARDED_FOR", "CONTENT_LENGTH"]),
    st.text(max_size=40).filter(lambda v: "\n" not in v and "\r" not in v),
    max_size=3,
)


@pytest.fixture
def providers_pair() -> tuple[ProviderConfig, ProviderConfig]:
    return provider_make(), provider_make(signature_secret=SECRET)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    extra=headers,
    kind=st.sampled_from(["inbound", "status"]),
    signed=st.booleans(),
    method=st.sampled_from(["post", "post", "post", "put", "get"]),
)
def test_random_bodies_and_headers_never_get_a_500(
    providers_pair: tuple[ProviderConfig, ProviderConfig],
    body: bytes,
    extra: dict[str, Any],
    kind: str,
    signed: bool,
    method: str,
) -> None:
    plain, secured = providers_pair
    provider = secured if signed else plain
    if signed and "HTTP_AUTHORIZATION" not in extra:
        extra = extra | {"HTTP_AUTHORIZATION": sign(body, SECRET)}
    if "CONTENT_LENGTH" in extra:
        extra.pop("CONTENT_LENGTH")  # the test client computes it; a lying one cannot come through a real server
    url = f"/callbacks/nexmo/{provider.callback_token}/{kind}/"
    content_type = extra.pop("CONTENT_TYPE", "application/json")
    if method == "get":
        response = Client().get(url, **extra)
    else:
        response = getattr(Client(), method)(url, body, content_type=content_type, **extra)
    assert response.status_code in {200, 400, 401, 404, 405, 413}
