"""Property-based API testing: schemathesis sends generated requests for every
operation in /api/openapi.json, authenticated, and checks that none gets a 5xx
and every response matches the documented status codes and schemas."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ..factories import TokenFactory, UserFactory


@pytest.fixture(scope="module")
def fuzz_token():
    return TokenFactory(user=UserFactory(admin=True))


@pytest.fixture(scope="module")
def openapi(server):
    return schemathesis.openapi.from_url(f"{server.url}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("openapi")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_generated_request_as_documented(case, fuzz_token, server):
    case.call_and_validate(
        headers={"Authorization": f"token {fuzz_token.secret}"},
        # What the API promises: no 5xx, and only documented codes, types and
        # shapes. (Not "every schema-valid input is accepted": a job's state, the
        # shells installed here and config maxima legitimately refuse some.)
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
