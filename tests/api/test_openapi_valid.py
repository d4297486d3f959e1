"""Pending: fails until every documented response has a `description` (OpenAPI 3
requires one). Drop into tests/api/ once baselayer/app/openapi.py (or every handler
docstring) supplies it."""

import requests
from openapi_spec_validator import validate


def test_openapi_document_is_valid_openapi_3(server):
    spec = requests.get(server.url + "/api/openapi.json", timeout=30).json()
    assert spec["openapi"].startswith("3.")
    validate(spec)
