"""The handler every API endpoint derives from.

Every response goes through ``success`` or ``error`` (or ``write_error`` for
exceptions), so the envelope ``{"status", "data", "message", "version"}`` cannot
drift, and no traceback ever reaches a client.
"""

import functools
import json
import logging
import traceback
from http import HTTPStatus

import marshmallow
import orjson
import tornado.web
from sqlalchemy.orm import Session

from ..auth import CurrentUser, user_for_header
from ..plain_sql import PlainSQL, database_unavailable

log = logging.getLogger(__name__)

#: Seconds a client should wait before trying again after a 503 (PostgreSQL
#: restarted by supervisor is back within a few).
RETRY_AFTER_SECONDS = 2
DATABASE_UNAVAILABLE_MESSAGE = (
    "The database is unavailable (restarting?); try again shortly (see Retry-After)"
)


class APIError(tornado.web.HTTPError):
    """An error for the client: its status and message go into the error envelope.

    Parameters
    ----------
    status_code : int
        The HTTP status (4xx, or 503).
    message : str
        The envelope's ``message``.
    data : optional
        The envelope's ``data`` (``{"errors": ...}`` by field for validation).
    """

    def __init__(self, status_code: int, message: str, data=None):
        super().__init__(status_code, reason=HTTPStatus(status_code).phrase)
        self.message = message
        self.data = data


def to_json(payload) -> bytes:
    """JSON with orjson (several times faster than json for job lists).

    Parameters
    ----------
    payload
        Anything orjson serializes; stored datetimes are naive UTC and are
        answered with their zone (RFC 3339); dict keys that are not str are
        turned into str.

    Returns
    -------
    bytes
    """
    return orjson.dumps(payload, option=orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS)


def deny_framing(handler: tornado.web.RequestHandler) -> None:
    """Forbid every page to be shown in another site's frame (clickjacking its
    buttons and forms): ``X-Frame-Options: DENY`` for old browsers and
    ``Content-Security-Policy: frame-ancestors 'none'`` (CSP level 2). Called from
    ``set_default_headers``, so errors and redirects carry it too.

    Parameters
    ----------
    handler : tornado.web.RequestHandler
    """
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Content-Security-Policy", "frame-ancestors 'none'")


class BaseHandler(tornado.web.RequestHandler):
    """Envelope, authentication, a database session and request-body validation.

    Application settings used: ``sql`` (PlainSQL), ``session_factory``, ``version``.
    Set ``auth_required = False`` on a handler that anyone may call.
    """

    auth_required = True
    current_user: CurrentUser | None

    # ---- lifecycle -------------------------------------------------------
    def initialize(self):
        """Per request, before ``prepare``: no ORM session yet (``session`` opens one)."""
        self._session: Session | None = None

    def set_default_headers(self) -> None:
        """No answer may be framed (``deny_framing``): API errors, 404s, redirects."""
        deny_framing(self)

    @property
    def sql(self) -> PlainSQL:
        """Plain SQL on the process's connection: for the hot paths."""
        return self.settings["sql"]

    @property
    def session(self) -> Session:
        """An ORM session, opened on first use and closed when the request ends."""
        if self._session is None:
            self._session = self.settings["session_factory"]()
        return self._session

    def prepare(self):
        """Authenticate the request from its ``Authorization: token <secret>`` header.

        Sets ``current_user`` (a ``CurrentUser``, or None without a valid token).

        Raises
        ------
        APIError
            401 when ``auth_required`` and there is no valid token (a missing,
            malformed, unknown or expired one, or a disabled user's).
        """
        user = user_for_header(
            self.sql, self.request.headers.get("Authorization"), self.settings.get("token_cache")
        )
        self.current_user = user
        if self.auth_required and user is None:
            raise APIError(401, "Missing or invalid token: send 'Authorization: token <token>'")

    def auth_changed(self) -> None:
        """After this request changed tokens, users or roles: drop this process's
        cached lookups now (other processes drop theirs on the trigger's NOTIFY)."""
        cache = self.settings.get("token_cache")
        if cache:
            cache.clear()

    def on_finish(self):
        """Close the request's ORM session, if it opened one.

        A connection the server dropped is the pool's to replace: nothing is logged
        then; any other failure to close is logged (the answer has gone already).
        """
        if self._session is not None:
            session, self._session = self._session, None
            try:
                session.close()
            except Exception as exc:
                # The answer has gone; a connection the server dropped is the
                # pool's to replace.
                if not database_unavailable(exc):
                    request = self.request
                    log.exception("Closing the session of %s %s", request.method, request.uri)

    # ---- responses -------------------------------------------------------
    def _envelope(self, status: str, data, message: str, **extra) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(
            to_json(
                {
                    "status": status,
                    "data": data,
                    "message": message,
                    "version": self.settings.get("version", ""),
                    **extra,
                }
            )
        )

    def success(self, data=None, message: str = "", status_code: int = 200, **extra) -> None:
        """Answer with the success envelope.

        Parameters
        ----------
        data : optional
            The envelope's ``data`` (``{}`` if None).
        message : str, optional
        status_code : int, optional
        **extra
            Keys beside ``data`` (paging, counts).
        """
        self.set_status(status_code)
        self._envelope("success", {} if data is None else data, message, **extra)

    def error(self, message: str, status_code: int = 400, data=None) -> None:
        """Answer with the error envelope.

        A 503 also says when to try again (``Retry-After``: RETRY_AFTER_SECONDS)
        and is not to be cached.

        Parameters
        ----------
        message : str
        status_code : int, optional
        data : optional
            The envelope's ``data`` (``{}`` if None).
        """
        self.set_status(status_code)
        if status_code == 503:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.set_header("Cache-Control", "no-store")
        # An error may quote what the client sent (a field's name, a wrong choice),
        # which JSON carried as a lone surrogate UTF-8 cannot hold.
        self._envelope("error", encodable({} if data is None else data), encodable(message))

    def write_error(self, status_code: int, **kwargs) -> None:
        """Every exception's answer, in the error envelope; no traceback is ever sent.

        An APIError: its own status, message and data. The database unreachable
        (``database_unavailable``: a connect that failed, a connection the server
        closed, a shutdown), from any path (the ORM, plain SQL, the job writer): 503.
        Any other exception is a bug: 500, its traceback logged. Tornado's own
        errors (405, a malformed request): their status and reason.

        Parameters
        ----------
        status_code : int
        **kwargs
            ``exc_info``, as Tornado passes it.
        """
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, APIError):
            return self.error(exc.message, status_code, exc.data)
        if exc is not None and database_unavailable(exc):
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            log.warning(
                "%s %s: database unavailable: %s",
                self.request.method,
                self.request.uri,
                reason[0] if reason else type(exc).__name__,
            )
            return self.error(DATABASE_UNAVAILABLE_MESSAGE, 503)
        if status_code >= 500:
            log.error(
                "Unhandled error on %s %s:\n%s",
                self.request.method,
                self.request.uri,
                "".join(traceback.format_exception(*kwargs["exc_info"]))
                if "exc_info" in kwargs
                else "",
            )
            message = "Internal server error; the service log has the details"
        else:
            message = (getattr(exc, "log_message", None) or self._reason or "").strip()
            message = message or HTTPStatus(status_code).phrase
        self.error(message, status_code)

    def log_exception(self, typ, value, tb):
        """Log an HTTPError as Tornado does (a warning, no traceback, if it has a log message).

        Any other exception is a 500 whose traceback ``write_error`` logs: not
        logged twice.
        """
        if not isinstance(value, tornado.web.HTTPError):
            return
        super().log_exception(typ, value, tb)

    # ---- requests --------------------------------------------------------
    def json_body(self) -> dict:
        """The request body as a JSON object.

        Returns
        -------
        dict
            ``{}`` for an empty body.

        Raises
        ------
        APIError
            400 when the body is not valid JSON (bad UTF-8, nested too deeply, an
            integer too long to convert) or not an object.
        """
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except RecursionError:
            raise APIError(400, "Request body is not valid JSON: nested too deeply")
        except ValueError as exc:
            # Also bad UTF-8, and integers longer than Python converts (4300 digits).
            raise APIError(400, f"Request body is not valid JSON: {exc}")
        if not isinstance(body, dict):
            raise APIError(400, "Request body must be a JSON object")
        return body

    def load_body(self, schema_class: type[marshmallow.Schema], partial: bool = False) -> dict:
        """The request body validated by ``schema_class``.

        Parameters
        ----------
        schema_class : type of marshmallow.Schema
        partial : bool, optional
            Required fields may be left out (a PATCH).

        Returns
        -------
        dict
            The loaded fields (defaults filled in).

        Raises
        ------
        APIError
            400 for a body that is not a JSON object, or that the schema refuses (the
            message names every bad field; ``data.errors`` has them by field).
        """
        try:
            return schema_instance(schema_class, partial).load(self.json_body())
        except marshmallow.ValidationError as exc:
            raise APIError(
                400,
                f"Invalid request body: {_describe(exc.messages)}",
                {"errors": exc.messages},
            )

    def load_query(self, schema_class: type[marshmallow.Schema]) -> dict:
        """The query arguments validated by ``schema_class``.

        A repeated argument's last value wins, unless its field is a list.

        Parameters
        ----------
        schema_class : type of marshmallow.Schema

        Returns
        -------
        dict
            The loaded arguments (defaults filled in).

        Raises
        ------
        APIError
            400 naming every bad argument.
        """
        schema = schema_instance(schema_class)
        raw = {}
        for key, values in self.request.query_arguments.items():
            field = schema.fields.get(key)
            decoded = [v.decode("utf-8", "replace") for v in values]
            raw[key] = decoded if isinstance(field, marshmallow.fields.List) else decoded[-1]
        try:
            return schema.load(raw)
        except marshmallow.ValidationError as exc:
            raise APIError(
                400,
                f"Invalid query arguments: {_describe(exc.messages)}",
                {"errors": exc.messages},
            )

    def require_admin(self) -> None:
        """Refuse the request unless its user is a system admin.

        Raises
        ------
        APIError
            403 unless the current user holds the admin ACL.
        """
        if self.current_user is None or not self.current_user.is_admin:
            raise APIError(403, "Only a system admin may do this")


@functools.cache
def schema_instance(schema_class: type[marshmallow.Schema], partial: bool = False):
    """One instance per schema class, reused.

    Making one copies every field (a third of a small request's CPU), and loading
    keeps no state in it.

    Parameters
    ----------
    schema_class : type of marshmallow.Schema
    partial : bool, optional

    Returns
    -------
    marshmallow.Schema
    """
    return schema_class(partial=partial)


#: Largest id a PostgreSQL integer column holds.
MAX_INT_ID = 2**31 - 1


def parse_int_id(value: str) -> int | None:
    """A path segment as a row id, so a bad one is a 404, not a 500.

    Parameters
    ----------
    value : str

    Returns
    -------
    int or None
        The id, 1 to MAX_INT_ID; None when ``value`` cannot be one (not all ASCII
        digits, a leading zero, zero, or too large).
    """
    # The length check first: int() refuses strings of over 4300 digits.
    # Canonical digits only ("01" is not 1): one id, one spelling.
    if (
        len(value) <= 10
        and value.isascii()
        and value.isdigit()
        and not value.startswith("0")
        and 0 < int(value) <= MAX_INT_ID
    ):
        return int(value)
    return None


def encodable(value):
    r"""``value`` with every string made encodable in UTF-8: a lone surrogate
    (\ud800-\udfff, which JSON can spell) becomes U+FFFD, in keys too.

    Parameters
    ----------
    value
        A str, or dicts and lists of them (an error's message and data), or
        anything else (returned as it is).

    Returns
    -------
    The same shape.
    """
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(item) for item in value]
    return value


def _describe(messages) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {_describe(value)}" for key, value in messages.items())
    if isinstance(messages, list):
        return " ".join(_describe(m) for m in messages)
    return str(messages)


class NotFoundHandler(BaseHandler):
    """Any path no route matches: a 404 in the envelope."""

    auth_required = False

    def prepare(self):
        """Refuse every request: no route matches its path.

        Raises
        ------
        APIError
            404, naming the path.
        """
        raise APIError(404, f"No such endpoint: {self.request.path}")
