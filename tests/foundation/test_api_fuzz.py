"""A schema-driven fuzz of the whole API as staff (schemathesis): whatever it sends, the answer is never a 5xx.

The schema comes from drf-spectacular's generator in-process (the /api/schema/ endpoint may require a login), and
the requests go to the WSGI application in-process, inside the test's transaction. FUZZ_EXAMPLES sets the examples
per operation and mode (positive and negative); `make test` runs a few, CI's fuzz step many more.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from whatsapp_project.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))


def _schema() -> dict[str, Any]:
    spec = SchemaGenerator().get_schema(request=None, public=True)
    return dict(json.loads(OpenApiJsonRenderer().render(spec)))


config = SchemathesisConfig.from_dict({"generation": {"mode": "all", "max-examples": EXAMPLES}})
schema = schemathesis.openapi.from_dict(_schema(), config=config)


@pytest.fixture
def in_transaction() -> Iterator[None]:
    """As Django's test client does: a request's start and end must not close the test's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
)
def test_no_input_answers_a_server_error(case: Any, staff_api: Any, in_transaction: None) -> None:
    authorization = staff_api._credentials["HTTP_AUTHORIZATION"]
    response = case.call(app=application, headers={"Authorization": authorization})
    case.validate_response(response, checks=[not_a_server_error])
