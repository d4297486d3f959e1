"""What a webhook receives: the events, the payload's JSON and its signature.

A delivery's body is made once (at its first attempt) and stored, so every
retry sends the same bytes with the same signature and delivery id.
"""

import hashlib
import hmac
import secrets
from urllib.parse import quote

import orjson

from .. import schemas
from .events import END_EVENTS, EVENTS, FINISHED, PING, STARTED

__all__ = ["END_EVENTS", "EVENTS", "FINISHED", "PING", "STARTED"]

#: A job's fields in a payload: what ``GET /api/jobs/{id}`` shows but its output
#: (a secret parameter's value is never a job field: it is in ``secret_env``).
PAYLOAD_JOB_FIELDS = tuple(f for f in schemas.JOB_FIELDS if f not in ("stdout", "stderr"))

SIGNATURE_HEADER = "X-Shell-Service-Signature"
EVENT_HEADER = "X-Shell-Service-Event"
DELIVERY_HEADER = "X-Shell-Service-Delivery"
USER_AGENT = "shell_service-webhooks/1"


def new_secret() -> str:
    """A generated webhook secret: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``.

    Parameters
    ----------
    secret : str
        The webhook's secret (its UTF-8 bytes are the HMAC key).
    body : bytes
        The exact bytes sent.

    Returns
    -------
    str
        ``sha256=`` and the HMAC-SHA256's 64 lowercase hex digits.
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is ``body``'s signature under ``secret`` (a receiver's
    check, compared in constant time).

    Parameters
    ----------
    secret : str
    body : bytes
    header : str
        The received ``X-Shell-Service-Signature``.

    Returns
    -------
    bool
    """
    return hmac.compare_digest(signature(secret, body), header)


def body(
    delivery: dict, job: dict | None, base_url: str, webhook_id: int, created_at: str
) -> bytes:
    """A delivery's JSON body.

    Parameters
    ----------
    delivery : dict
        ``id``, ``event``, ``job_id``, ``job_event_id``, ``to_status``.
    job : dict or None
        The job's ``PAYLOAD_JOB_FIELDS`` as ``schemas.Job`` dumps them; None when
        there is no job (a ping) or it was deleted before the first attempt.
    base_url : str
        The service's public URL (config ``server.url``), for the links.
    webhook_id : int
    created_at : str
        RFC 3339 UTC: when the delivery was made.

    Returns
    -------
    bytes
        UTF-8 JSON: ``event``, ``delivery_id``, ``webhook_id``, ``created_at``,
        ``job_event_id``, ``status`` (the state the event moved the job to),
        ``job`` and ``links`` (``job``, ``log``, ``events``; empty for a ping).
    """
    job_id = delivery.get("job_id")
    links = {}
    if job_id is not None:
        base = f"{base_url.rstrip('/')}/api/jobs/{quote(job_id, safe='')}"
        links = {"job": base, "log": f"{base}/log", "events": f"{base}/events"}
    document = {
        "event": delivery["event"],
        "delivery_id": delivery["id"],
        "webhook_id": webhook_id,
        "created_at": created_at,
        "job_event_id": delivery.get("job_event_id"),
        "job_id": job_id,
        "status": delivery.get("to_status"),
        "job": job,
        "links": links,
    }
    return orjson.dumps(document)
