"""HTTP calls to the shell_service API with ``requests``: the envelope is unwrapped, and
every failure becomes a ClientError with a message for people and an exit code."""

import email.utils
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3.exceptions

from .errors import EXIT_FOR_HTTP_STATUS, ClientError, ExitCode
from .settings import RETRY_ENV, TOKEN_ENV, Settings

#: Seconds to wait for a connection, and for an ordinary answer.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
#: A followed log may stay silent as long as the job does: just over nginx's
#: proxy_read_timeout, after which the client reconnects.
FOLLOW_READ_TIMEOUT = 3700
#: The answer of a service that cannot serve now (restarting, its database away):
#: try again after its Retry-After.
RETRY_STATUSES = frozenset({503})
#: Seconds between tries when no Retry-After says (no connection): doubling from
#: the first up to the last.
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 5.0

#: Retry policies of ``Api.request``: repeat on 503 and on any failed connection;
#: or only when the request was surely not sent (the connection was refused).
IDEMPOTENT = "idempotent"
UNSENT_ONLY = "unsent-only"


#: The clock and the sleep of retries (tests replace them).
clock = time.monotonic
sleep = time.sleep


def retry_after_seconds(response: requests.Response, default: float) -> float:
    """The response's ``Retry-After`` in seconds (delay-seconds or an HTTP date);
    ``default`` when it has none or it cannot be read."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    return max(0.0, when.timestamp() - time.time())


def never_sent(error: requests.RequestException) -> bool:
    """Whether a failed request surely never reached the service (the connection
    could not be made), so that sending it again cannot do anything twice."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, urllib3.exceptions.NewConnectionError):
            return True
        if isinstance(exc, urllib3.exceptions.MaxRetryError):
            pending.append(exc.reason)
        pending += [arg for arg in exc.args if isinstance(arg, BaseException)]
        pending += [exc.__cause__, exc.__context__]
    return False


def note_on_stderr(message: str) -> None:
    """How the client says it is waiting for the service: one line on stderr."""
    print(f"shell-service: {message}", file=sys.stderr, flush=True)


class Api:
    """The shell_service API, one method per call.

    Parameters
    ----------
    settings
        URL and token.
    http
        The session to send with (a new one by default).
    """

    def __init__(
        self,
        settings: Settings,
        http: requests.Session | None = None,
        note: Callable[[str], None] = note_on_stderr,
    ):
        self.settings = settings
        self.http = http or requests.Session()
        #: Says (once per call) that the client is waiting for the service.
        self.note = note
        if settings.token:
            self.http.headers["Authorization"] = f"token {settings.token}"

    # ---- transport ---------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: float = READ_TIMEOUT,
        retry: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request, again while the service cannot answer; a ClientError for
        no answer or an error status.

        A call that may be repeated (``retry`` IDEMPOTENT, the default for GET) is
        sent again after a 503 (waiting its ``Retry-After``) or a failed connection
        (waiting 0.5 s, doubling up to 5 s), for up to ``settings.retry_seconds``
        in all, with one note on stderr. Any other call (UNSENT_ONLY, the default
        for other methods) is sent again only when it surely never left (the
        connection was refused): after a 503 or a broken connection it may have
        taken effect.

        Parameters
        ----------
        method, path
            HTTP method, and the path from the base URL (``/api/...``).
        timeout
            Seconds to wait for the answer (or between streamed chunks).
        retry
            IDEMPOTENT or UNSENT_ONLY; by default from the method.
        **kwargs
            Passed on to ``requests`` (``params``, ``json``, ``stream``).
        """
        retry = retry or (IDEMPOTENT if method in ("GET", "HEAD") else UNSENT_ONLY)
        deadline = clock() + self.settings.retry_seconds
        backoff = FIRST_BACKOFF
        noted = False

        def wait(seconds: float, why: str) -> bool:
            """Sleep ``seconds`` (at most what is left) unless the time is up."""
            nonlocal noted
            left = deadline - clock()
            if left <= 0:
                return False
            if not noted:
                noted = True
                self.note(
                    f"{why}; trying again for up to {self.settings.retry_seconds:.0f} s "
                    f"(--retry / ${RETRY_ENV})"
                )
            sleep(min(seconds, left))
            return True

        # Whether a try before this one may have reached the service.
        maybe_done = False
        while True:
            try:
                response = self.send(method, path, timeout, **kwargs)
            except requests.ConnectionError as error:
                unsent = never_sent(error)
                if (retry == IDEMPOTENT or unsent) and wait(
                    backoff, f"cannot reach {self.settings.url}"
                ):
                    maybe_done = maybe_done or not unsent
                    backoff = min(2 * backoff, MAX_BACKOFF)
                    continue
                raise ClientError(
                    f"cannot reach shell_service at {self.settings.url}: is it running? `make run`",
                    ExitCode.UNREACHABLE,
                    after_retry=maybe_done,
                )
            except ClientError as error:
                error.after_retry = maybe_done
                raise
            if response.status_code in RETRY_STATUSES and retry == IDEMPOTENT:
                unavailable = self.error_for(response)
                if wait(retry_after_seconds(response, backoff), unavailable.message):
                    response.close()
                    maybe_done = True
                    backoff = min(2 * backoff, MAX_BACKOFF)
                    continue
            if response.status_code >= 400:
                failure = self.error_for(response)
                failure.after_retry = maybe_done
                raise failure
            return response

    def send(self, method: str, path: str, timeout: float, **kwargs: Any) -> requests.Response:
        """Send one request; the response whatever its status.

        Raises
        ------
        requests.ConnectionError
            No connection, or it broke (Also a connect timeout: both mean nothing
            answers at that address.)
        ClientError
            No answer within ``timeout`` seconds, or another failure of ``requests``.
        """
        url = self.settings.url + path
        try:
            return self.http.request(method, url, timeout=(CONNECT_TIMEOUT, timeout), **kwargs)
        except requests.ConnectionError:
            raise  # a connect timeout too (it is also a Timeout): ``request`` decides
        except requests.Timeout:
            raise ClientError(
                f"shell_service at {self.settings.url} did not answer {method} {path} "
                f"within {timeout} s",
                ExitCode.UNREACHABLE,
            )
        except requests.RequestException as exc:
            raise ClientError(f"{method} {url} failed: {exc}")

    def call(self, method: str, path: str, **kwargs: Any) -> dict:
        """Send a request and return the whole envelope of a successful answer."""
        response = self.request(method, path, **kwargs)
        envelope = parse_envelope(response)
        if envelope is None:
            raise ClientError(
                f"{method} {path}: HTTP {response.status_code} without a JSON envelope "
                f"(is {self.settings.url} shell_service?)"
            )
        return envelope

    def error_for(self, response: requests.Response) -> ClientError:
        """A ClientError naming what the service said was wrong with a request."""
        envelope = parse_envelope(response)
        status = response.status_code
        if envelope is not None and envelope.get("message"):
            message = f"{envelope['message']} (HTTP {status})"
        else:
            message = f"HTTP {status} {response.reason} from {response.url}"
        if status == 401:
            message += "; " + self.token_hint()
        return ClientError(message, EXIT_FOR_HTTP_STATUS.get(status, ExitCode.ERROR), status)

    def token_hint(self) -> str:
        """Where the rejected token came from, and how to give another."""
        if self.settings.token_source is None:
            return f"no token was given (--token or ${TOKEN_ENV})"
        return f"the token from {self.settings.token_source} was refused"

    # ---- jobs --------------------------------------------------------------

    def create_job(self, body: dict) -> str:
        """``POST /api/jobs``; the new job's id.

        Sent again while the service cannot answer (as a GET is): the job's id is
        chosen here when ``body`` has none, so a try whose answer was lost (a 503
        or a broken connection after the job was stored) is recognised, not
        doubled. When such a retry answers 409 (the id is taken), the job of that
        id is read: if it has the script and options sent (and is executed when
        ``execute`` was asked) it is this one, and its id is returned.

        Raises
        ------
        ClientError
            The service refused it (a 409 for an id taken by another job), or
            could not be reached within ``settings.retry_seconds``.
        """
        body = {**body, "id": body.get("id") or f"job_{uuid.uuid4().hex}"}
        try:
            return self.call("POST", "/api/jobs", json=body, retry=IDEMPOTENT)["data"]["id"]
        except ClientError as error:
            if error.http_status == 409 and error.after_retry and self._stored_as_sent(body):
                return body["id"]
            raise

    def _stored_as_sent(self, body: dict) -> bool:
        """Whether the job named ``body["id"]`` is the one ``body`` describes."""
        try:
            job = self.get_job(body["id"])
        except ClientError:
            return False
        fields = {key: value for key, value in body.items() if key not in ("id", "execute")}
        if any(job.get(key) != value for key, value in fields.items()):
            return False
        return not body.get("execute") or job.get("status") != "READY"

    def get_job(self, job_id: str) -> dict:
        """``GET /api/jobs/<id>``: the job."""
        return self.call("GET", job_path(job_id))["data"]

    def list_jobs(self, params: dict) -> dict:
        """``GET /api/jobs``: the whole envelope (``data`` is the list of jobs; newer
        services put ``total`` and ``next_cursor`` beside it)."""
        return self.call("GET", "/api/jobs", params=params)

    def list_queues(self) -> list[dict]:
        """``GET /api/queues``: every queue with its limits and its jobs now."""
        return self.call("GET", "/api/queues")["data"]

    def job_events(self, job_id: str) -> list[dict]:
        """``GET /api/jobs/<id>/events``: the job's state changes, oldest first."""
        return self.call("GET", job_path(job_id, "events"))["data"]

    def cancel_job(self, job_id: str) -> dict:
        """``POST /api/jobs/<id>/cancel``: ``{id, status}``.

        Sent again while the service cannot answer: cancelling twice changes
        nothing more. A retry that answers 409 (ended already) after a try whose
        answer was lost counts as done when the job is CANCELLED.
        """
        try:
            return self.call("POST", job_path(job_id, "cancel"), retry=IDEMPOTENT)["data"]
        except ClientError as error:
            if error.http_status == 409 and error.after_retry:
                job = self.get_job(job_id)
                if job["status"] == "CANCELLED":
                    return {"id": job_id, "status": "CANCELLED"}
            raise

    def rerun_job(self, job_id: str) -> str:
        """``POST /api/jobs/<id>/rerun``: a new job like this one, submitted; its id.

        Not sent again after a 503 or a broken connection (the service names the
        new job, so a second try could make a second one): only when the
        connection was refused.
        """
        return self.call("POST", job_path(job_id, "rerun"), retry=UNSENT_ONLY)["data"]["id"]

    def read_log(self, job_id: str, stream: str, offset: int, attempt: int | None = None) -> dict:
        """``GET /api/jobs/<id>/log``: ``{text, offset, finished}`` from ``offset``
        (of ``attempt``, a retried job's earlier one, when given)."""
        params: dict = {"stream": stream, "offset": offset}
        if attempt is not None:
            params["attempt"] = attempt
        return self.call("GET", job_path(job_id, "log"), params=params)["data"]

    def follow_log(
        self, job_id: str, stream: str, offset: int, attempt: int | None = None
    ) -> Iterator[bytes]:
        """``GET /api/jobs/<id>/log?follow=true``: the output's bytes as the job writes
        them, until it ends; with ``attempt``, that attempt's alone from ``offset``,
        until it has ended (``one_attempt``).

        Raises
        ------
        requests.RequestException
            The connection broke while streaming (the caller may resume from the
            bytes it has).
        """
        params: dict = {"stream": stream, "offset": offset, "follow": "true"}
        if attempt is not None:
            params.update(attempt=attempt, one_attempt="true")
        response = self.request(
            "GET", job_path(job_id, "log"), params=params, stream=True, timeout=FOLLOW_READ_TIMEOUT
        )
        with response:
            yield from response.iter_content(chunk_size=None)

    # ---- definitions -------------------------------------------------------

    def list_definitions(self) -> list[dict]:
        """``GET /api/definitions``: yours and the shared ones, by name."""
        return self.call("GET", "/api/definitions", params={"limit": 1000})["data"]

    def get_definition(self, name: str, version: int | None = None, owner: str | None = None):
        """``GET /api/definitions/<name>`` (its latest version), or one version of it."""
        path = definition_path(name, *(("versions", str(version)) if version else ()))
        return self.call("GET", path, params=owner_param(owner))["data"]

    def create_definition(self, body: dict) -> dict:
        """``POST /api/definitions``: the definition as stored (version 1)."""
        return self.call("POST", "/api/definitions", json=body)["data"]

    def replace_definition(self, name: str, body: dict, owner: str | None = None) -> dict:
        """``PUT /api/definitions/<name>``: its next version, as stored."""
        path = definition_path(name)
        return self.call("PUT", path, json=body, params=owner_param(owner))["data"]

    def delete_definition(self, name: str, owner: str | None = None) -> None:
        """``DELETE /api/definitions/<name>``."""
        self.call("DELETE", definition_path(name), params=owner_param(owner))

    def run_definition(self, name: str, body: dict) -> str:
        """``POST /api/definitions/<name>/run``; the new job's id.

        Sent again while the service cannot answer, as ``create_job`` is: the job's
        id is chosen here, and a retry answered 409 finds the job that id names,
        a run of this definition.
        """
        body = {**body, "id": body.get("id") or f"job_{uuid.uuid4().hex}"}
        path = definition_path(name, "run")
        try:
            return self.call("POST", path, json=body, retry=IDEMPOTENT)["data"]["id"]
        except ClientError as error:
            if error.http_status == 409 and error.after_retry:
                try:
                    job = self.get_job(body["id"])
                except ClientError:
                    raise error
                if job.get("definition_name") == name:
                    return body["id"]
            raise


def definition_path(name: str, *rest: str) -> str:
    """``/api/definitions/<name>[/rest...]`` with the name quoted for the path."""
    return "/".join(["/api/definitions", urllib.parse.quote(name, safe=""), *rest])


def owner_param(owner: str | None) -> dict:
    """The ``owner`` query argument, when one is given."""
    return {"owner": owner} if owner else {}


def job_path(job_id: str, action: str | None = None) -> str:
    """``/api/jobs/<id>[/<action>]`` with the id quoted for a URL path."""
    path = "/api/jobs/" + urllib.parse.quote(job_id, safe="")
    return f"{path}/{action}" if action else path


def parse_envelope(response: requests.Response) -> dict | None:
    """The JSON envelope of a response; None when it has none (an HTML error page)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and "status" in body else None
