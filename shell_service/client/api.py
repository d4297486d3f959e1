"""HTTP calls to the shell_service API with ``requests``: the envelope is unwrapped, and
every failure becomes a ClientError with a message for people and an exit code."""

from collections.abc import Iterator
from typing import Any

import requests

from .errors import EXIT_FOR_HTTP_STATUS, ClientError, ExitCode
from .settings import TOKEN_ENV, Settings

#: Seconds to wait for a connection, and for an ordinary answer.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
#: A followed log may stay silent as long as the job does: just over nginx's
#: proxy_read_timeout, after which the client reconnects.
FOLLOW_READ_TIMEOUT = 3700


class Api:
    """The shell_service API, one method per call.

    Parameters
    ----------
    settings
        URL and token.
    http
        The session to send with (a new one by default).
    """

    def __init__(self, settings: Settings, http: requests.Session | None = None):
        self.settings = settings
        self.http = http or requests.Session()
        if settings.token:
            self.http.headers["Authorization"] = f"token {settings.token}"

    # ---- transport ---------------------------------------------------------

    def request(
        self, method: str, path: str, *, timeout: float = READ_TIMEOUT, **kwargs: Any
    ) -> requests.Response:
        """Send one request; a ClientError for no answer or an error status.

        Parameters
        ----------
        method, path
            HTTP method, and the path from the base URL (``/api/...``).
        timeout
            Seconds to wait for the answer (or between streamed chunks).
        **kwargs
            Passed on to ``requests`` (``params``, ``json``, ``stream``).
        """
        url = self.settings.url + path
        try:
            response = self.http.request(method, url, timeout=(CONNECT_TIMEOUT, timeout), **kwargs)
        except requests.ConnectionError:
            # Also a connect timeout: both mean nothing answers at that address.
            raise ClientError(
                f"cannot reach shell_service at {self.settings.url}: is it running? `make run`",
                ExitCode.UNREACHABLE,
            )
        except requests.Timeout:
            raise ClientError(
                f"shell_service at {self.settings.url} did not answer {method} {path} "
                f"within {timeout} s",
                ExitCode.UNREACHABLE,
            )
        except requests.RequestException as exc:
            raise ClientError(f"{method} {url} failed: {exc}")
        if response.status_code >= 400:
            raise self.error_for(response)
        return response

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
        """``POST /api/jobs``; the new job's id."""
        return self.call("POST", "/api/jobs", json=body)["data"]["id"]

    def get_job(self, job_id: str) -> dict:
        """``GET /api/jobs/<id>``: the job."""
        return self.call("GET", job_path(job_id))["data"]

    def list_jobs(self, params: dict) -> dict:
        """``GET /api/jobs``: the whole envelope (``data`` is the list of jobs; newer
        services put ``total`` and ``next_cursor`` beside it)."""
        return self.call("GET", "/api/jobs", params=params)

    def job_events(self, job_id: str) -> list[dict]:
        """``GET /api/jobs/<id>/events``: the job's state changes, oldest first."""
        return self.call("GET", job_path(job_id, "events"))["data"]

    def cancel_job(self, job_id: str) -> dict:
        """``POST /api/jobs/<id>/cancel``."""
        return self.call("POST", job_path(job_id, "cancel"))["data"]

    def rerun_job(self, job_id: str) -> str:
        """``POST /api/jobs/<id>/rerun``: a new job like this one, submitted; its id."""
        return self.call("POST", job_path(job_id, "rerun"))["data"]["id"]

    def read_log(self, job_id: str, stream: str, offset: int) -> dict:
        """``GET /api/jobs/<id>/log``: ``{text, offset, finished}`` from ``offset``."""
        params = {"stream": stream, "offset": offset}
        return self.call("GET", job_path(job_id, "log"), params=params)["data"]

    def follow_log(self, job_id: str, stream: str, offset: int) -> Iterator[bytes]:
        """``GET /api/jobs/<id>/log?follow=true``: the output's bytes as the job writes
        them, until it ends.

        Raises
        ------
        requests.RequestException
            The connection broke while streaming (the caller may resume from the
            bytes it has).
        """
        params = {"stream": stream, "offset": offset, "follow": "true"}
        response = self.request(
            "GET", job_path(job_id, "log"), params=params, stream=True, timeout=FOLLOW_READ_TIMEOUT
        )
        with response:
            yield from response.iter_content(chunk_size=None)


def job_path(job_id: str, action: str | None = None) -> str:
    """``/api/jobs/<id>[/<action>]`` with the id quoted for a URL path."""
    path = "/api/jobs/" + requests.utils.quote(job_id, safe="")
    return f"{path}/{action}" if action else path


def parse_envelope(response: requests.Response) -> dict | None:
    """The JSON envelope of a response; None when it has none (an HTML error page)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and "status" in body else None
