"""The OpenAPI document the docs are made from is valid OpenAPI 3 (every response
has a description: baselayer/app/openapi.py supplies the standard ones)."""

import requests
from openapi_spec_validator import validate


def test_openapi_document_is_valid_openapi_3(server):
    spec = requests.get(server.url + "/api/openapi.json", timeout=30).json()
    assert spec["openapi"].startswith("3.")
    validate(spec)
