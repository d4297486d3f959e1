"""Assertions on the response envelope every API answer must use."""

import re

ENVELOPE_KEYS = {"status", "data", "message", "version"}
#: What a job list carries beside its data.
PAGING_KEYS = {"total", "total_capped", "next_cursor"}


def assert_envelope(response, status_code: int) -> dict:
    """The response has ``status_code`` and is the JSON envelope; returns the body."""
    assert response.status_code == status_code, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) in (ENVELOPE_KEYS, ENVELOPE_KEYS | PAGING_KEYS), body
    assert isinstance(body["version"], str) and body["version"], body
    assert "Traceback" not in response.text, response.text
    return body


def assert_success(response, status_code: int = 200):
    """A success envelope; returns its ``data``."""
    body = assert_envelope(response, status_code)
    assert body["status"] == "success", body
    return body["data"]


def assert_error(
    response, status_code: int, *, mentions: str | None = None, field: str | None = None
) -> dict:
    """An error envelope with a non-empty message.

    ``mentions``: text the message contains. ``field``: a request field or query
    argument the message names as ``<field>: <problem>`` and ``data.errors`` lists.
    """
    body = assert_envelope(response, status_code)
    assert body["status"] == "error", body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    if mentions is not None:
        assert mentions in body["message"], body["message"]
    if field is not None:
        assert re.search(rf"(^|[\s;]){re.escape(field)}: ", body["message"]), body["message"]
        assert field in body["data"].get("errors", {}), body
    return body
