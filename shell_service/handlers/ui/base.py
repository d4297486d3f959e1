"""What every dashboard page shares: the session cookie, XSRF, templates, HTML errors.

The API (``/api``) authenticates only by the ``Authorization`` header; the pages only
by the session cookie (``web_sessions``), which is HttpOnly, SameSite=Lax, Secure
on https, and sent by the browser for ``/ui`` paths only.

A signed-in browser's XSRF token is derived from its session (``session_xsrf``), so
a ``_xsrf`` cookie planted from a sibling domain cannot match it; before sign-in it
is Tornado's double-submit cookie. Form fields arrive exactly as sent (Tornado's
readers would turn control characters into spaces), for the API's checks to see.
"""

import datetime
import hashlib
import hmac
import html
import re
import secrets
import urllib.parse
from http import HTTPStatus
from pathlib import Path

import tornado.web

from baselayer.app.handlers.base import APIError, BaseHandler
from baselayer.app.plain_sql import database_unavailable

from ... import web_sessions

#: The session cookie: the web session token's secret.
SESSION_COOKIE = "shell_service_session"
#: Where the pages live (the cookie's path: the API never receives it).
UI_ROOT = "/ui"
TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "ui"
STATIC_DIR = Path(__file__).resolve().parents[2] / "static" / "ui"
#: Methods that change something: each must carry the XSRF token.
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
#: A session-bound XSRF token's version mark (Tornado's own start with "2|").
_SESSION_XSRF = "s"


def utc(value) -> str:
    """A stored time (naive UTC) as the pages show it.

    Parameters
    ----------
    value : datetime.datetime or None

    Returns
    -------
    str
        ``YYYY-MM-DD HH:MM:SS UTC``; empty for None.
    """
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def form_integer(text: str) -> int | str:
    """A form field's text as the integer it spells, or the text itself for the
    API's schema to refuse with its own message ("Not a valid integer.").

    Only ASCII digits (with an optional minus) are read: ``str.isdigit`` also takes
    "²" (which ``int`` refuses: a 500) and "３", and ``int`` refuses texts of over
    4,300 digits; past 18 digits no field's range holds the number anyway.

    Parameters
    ----------
    text : str

    Returns
    -------
    int or str
    """
    return int(text) if re.fullmatch(r"-?[0-9]{1,18}", text) else text


def timestamp(value) -> str:
    """A time as HTML that ``static/ui/time.js`` shows in the viewer's zone, UTC on hover.

    Without JavaScript the text stays UTC. Templates write it unescaped
    (``{% raw timestamp(t) %}``): it holds nothing but the time's digits.

    Parameters
    ----------
    value : datetime.datetime, str or None
        A stored time (naive UTC), or its ISO text as ``to_json`` writes it
        (``2026-11-30T18:00:00.123456``).

    Returns
    -------
    str
        ``<time datetime="...Z" title="... UTC">YYYY-MM-DD HH:MM:SS UTC</time>``;
        empty for None or an empty text.

    Raises
    ------
    ValueError
        For a text that is not an ISO time.
    """
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    value = value.replace(tzinfo=None)
    iso = html.escape(value.isoformat(timespec="milliseconds") + "Z")
    shown = html.escape(utc(value))
    return f'<time datetime="{iso}" title="{shown}">{shown}</time>'


def session_xsrf(session_secret: str) -> bytes:
    """The XSRF token a web session's pages carry: an HMAC keyed by its secret.

    Only the browser holding the (HttpOnly) session cookie can know it, and it
    reveals nothing of the secret.

    Parameters
    ----------
    session_secret : str
        The session cookie's value.

    Returns
    -------
    bytes
        32 bytes.
    """
    return hmac.new(session_secret.encode(), b"shell_service ui xsrf", hashlib.sha256).digest()


def readable_errors(messages) -> str:
    """A validation's messages (marshmallow's, or a 400's ``data.errors``) as one
    line people read: ``"status: Must be one of: ...; created_after: Not a valid
    datetime."``.

    Parameters
    ----------
    messages : dict, list or str
        Field -> messages, nested for lists (by index) and nested fields.

    Returns
    -------
    str
    """
    lines: list[str] = []

    def add(path: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                # A list's item (an index): named by the field; its value is not known here.
                add(path if isinstance(key, int) else f"{path}.{key}" if path else str(key), inner)
        elif isinstance(value, list | tuple):
            for inner in value:
                add(path, inner)
        else:
            lines.append(f"{path}: {value}" if path else str(value))

    add("", messages)
    return "; ".join(dict.fromkeys(lines))


def decode_form_value(value: bytes, name: str) -> str:
    """A form or query value as sent, decoded as UTF-8 (control characters kept).

    Parameters
    ----------
    value : bytes
        Percent-decoded.
    name : str
        The field's name, for the error.

    Returns
    -------
    str

    Raises
    ------
    APIError
        400 naming the field for bytes that are not UTF-8.
    """
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise APIError(
            400,
            f"The field {name!r} is not valid UTF-8 text",
            data={"errors": {name: ["Not valid UTF-8 text."]}},
        ) from None


class UIHandler(BaseHandler):
    """A dashboard page: the signed-in user from the session cookie, XSRF on unsafe
    methods, HTML answers (errors too).

    ``auth_required = False`` pages (sign-in) render for anyone. Others send a
    browser without a live session (none, expired, revoked, a disabled user's) to
    the sign-in page, and back afterwards (``next``).
    """

    def initialize(self):
        """As ``BaseHandler``; no form body yet (``json_body``)."""
        super().initialize()
        self._form_body: dict = {}

    def json_body(self) -> dict:
        """What the API's own code (``load_body``) reads as the request's JSON body:
        a page's form, made into the API's body by the page before it calls that
        code (a dashboard request's own body is a form, never JSON)."""
        return self._form_body

    def get_template_path(self) -> str:
        """The dashboard's templates (``shell_service/templates/ui/``)."""
        return str(TEMPLATES_DIR)

    def static_url(self, path: str, include_host=None, **kwargs) -> str:
        """A vendored or own static file's URL under ``/ui/static/`` with its content hash.

        Parameters
        ----------
        path : str
            Relative to ``shell_service/static/ui/``.

        Returns
        -------
        str
            The URL, ``?v=`` the file's hash (cached for long by the browser).
        """
        version = tornado.web.StaticFileHandler.get_version({"static_path": str(STATIC_DIR)}, path)
        return f"{UI_ROOT}/static/{path}?v={version}"

    def session_secret(self) -> str | None:
        """The session cookie's value, or None."""
        return self.get_cookie(SESSION_COOKIE)

    def _get_arguments(self, name: str, source: dict[str, list[bytes]], strip: bool = True):
        """Every ``get_*argument(s)`` reader's values: as Tornado's, but exactly as
        sent (Tornado turns control characters such as ESC and NUL into spaces).

        Parameters
        ----------
        name : str
        source : dict of str to list of bytes
            The request's (query, body or both) arguments.
        strip : bool
            Strip surrounding whitespace, as the caller asked.

        Returns
        -------
        list of str

        Raises
        ------
        APIError
            400 for a value that is not UTF-8.
        """
        values = [decode_form_value(value, name) for value in source.get(name, [])]
        return [value.strip() for value in values] if strip else values

    def decoded_arguments(self, source: dict[str, list[bytes]]) -> dict[str, list[str]]:
        """All of a request's arguments (``self.request.body_arguments`` or
        ``query_arguments``) as sent, decoded as ``get_arguments`` does.

        Parameters
        ----------
        source : dict of str to list of bytes

        Returns
        -------
        dict of str to list of str

        Raises
        ------
        APIError
            400 for a value that is not UTF-8.
        """
        return {name: self._get_arguments(name, source, strip=False) for name in source}

    def xsrf_session_secret(self) -> str | None:
        """The session the XSRF token is bound to: the cookie's (None: none, or one
        ``prepare`` found dead and cleared, so the double-submit cookie is used)."""
        if getattr(self, "_xsrf_unbound", False):
            return None
        return self.session_secret()

    @property
    def xsrf_token(self) -> bytes:
        """The token forms and htmx send: bound to the session when signed in
        (masked afresh on each page, as Tornado's), else Tornado's.

        Returns
        -------
        bytes
        """
        secret = self.xsrf_session_secret()
        if not secret:
            return super().xsrf_token
        if not hasattr(self, "_session_xsrf_token"):
            raw = session_xsrf(secret)
            mask = secrets.token_bytes(len(raw))
            masked = bytes(a ^ b for a, b in zip(mask, raw, strict=True))
            self._session_xsrf_token = f"{_SESSION_XSRF}|{mask.hex()}|{masked.hex()}".encode()
        return self._session_xsrf_token

    def check_xsrf_cookie(self) -> None:
        """Check an unsafe request's XSRF token: with a session cookie, against the
        session's token (a planted ``_xsrf`` cookie is not looked at); without,
        Tornado's double-submit check (sign-in).

        Raises
        ------
        tornado.web.HTTPError
            403 for a missing or wrong token.
        """
        secret = self.session_secret()
        if not secret:
            return super().check_xsrf_cookie()
        sent = (
            self.get_argument("_xsrf", None)
            or self.request.headers.get("X-Xsrftoken")
            or self.request.headers.get("X-Csrftoken")
            or ""
        )
        version, _, rest = sent.partition("|")
        mask_hex, _, masked_hex = rest.partition("|")
        try:
            mask, masked = bytes.fromhex(mask_hex), bytes.fromhex(masked_hex)
        except ValueError:
            mask = masked = b""
        if version != _SESSION_XSRF or not mask or len(mask) != len(masked):
            raise tornado.web.HTTPError(403, "XSRF token missing or not this session's")
        token = bytes(a ^ b for a, b in zip(mask, masked, strict=True))
        if not hmac.compare_digest(token, session_xsrf(secret)):
            raise tornado.web.HTTPError(403, "XSRF token does not match this session")

    def prepare(self):
        """Authenticate from the session cookie, and check XSRF on unsafe methods.

        Raises
        ------
        tornado.web.HTTPError
            403 for an unsafe request without a matching XSRF token
            (``check_xsrf_cookie``); a redirect (or, for htmx, ``HX-Redirect``) to
            sign-in when the page needs a user and there is none.
        """
        if self.request.method in UNSAFE_METHODS:
            self.check_xsrf_cookie()
        secret = self.session_secret()
        self.current_user = web_sessions.user_for_session(
            self.sql, secret, self.settings.get("token_cache")
        )
        if self.current_user is None and secret:
            # Expired, revoked or its user disabled: forget it.
            self.clear_cookie(SESSION_COOKIE, path=UI_ROOT)
            self._xsrf_unbound = True
        if self.auth_required and self.current_user is None:
            self.to_sign_in()
            raise tornado.web.Finish()

    def to_sign_in(self) -> None:
        """Send the browser to the sign-in page, coming back here (a GET's URL) afterwards."""
        target = self.request.uri if self.request.method == "GET" else f"{UI_ROOT}/"
        if self.request.headers.get("HX-Request"):
            # The page the request came from (a full URL): back to its path afterwards.
            page = urllib.parse.urlsplit(self.request.headers.get("HX-Current-URL") or target)
            target = urllib.parse.urlunsplit(("", "", page.path, page.query, ""))
        url = f"{UI_ROOT}/signin?" + urllib.parse.urlencode({"next": target})
        if self.request.headers.get("HX-Request"):
            # htmx would swap a redirect's page into the fragment: have it navigate.
            self.set_status(401)
            self.set_header("HX-Redirect", url)
            self.finish()
        else:
            self.redirect(url)

    def set_session_cookie(self, secret: str, expires) -> None:
        """Set the session cookie: HttpOnly, SameSite=Lax, Secure on https, path ``/ui``.

        Parameters
        ----------
        secret : str
            The session token's secret.
        expires : datetime.datetime
            The session's expiry (naive UTC); the cookie goes with it.
        """
        self.set_cookie(
            SESSION_COOKIE,
            secret,
            path=UI_ROOT,
            expires=expires,
            httponly=True,
            samesite="Lax",
            secure=self.is_https(),
        )

    def is_https(self) -> bool:
        """Whether the browser talks https to us (to nginx, or a proxy before it).

        Returns
        -------
        bool
        """
        forwarded = self.request.headers.get("X-Forwarded-Proto", "")
        return self.request.protocol == "https" or forwarded.lower() == "https"

    def render_page(self, template: str, **kwargs) -> None:
        """Render a page (or fragment) with what every template reads.

        Parameters
        ----------
        template : str
            Under ``templates/ui/``.
        **kwargs
            The template's own values (autoescaped when shown with ``{{ }}``).
        """
        self.set_header("Cache-Control", "no-store")
        xsrf = self.xsrf_token.decode()
        self.render(
            template,
            user=self.current_user,
            ui_root=UI_ROOT,
            utc=utc,
            timestamp=timestamp,
            xsrf=xsrf,
            **kwargs,
        )

    def write_error(self, status_code: int, **kwargs) -> None:
        """Errors as an HTML page (the API's JSON envelope is for API clients).

        Parameters
        ----------
        status_code : int
        **kwargs
            ``exc_info``, as Tornado passes it.
        """
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, APIError):
            message = exc.message
        elif exc is not None and database_unavailable(exc):
            status_code, message = 503, "The service is restarting; try again in a moment."
            self.set_status(503)
            self.set_header("Retry-After", "2")
        elif status_code >= 500:
            super().write_error(status_code, **kwargs)  # logs the traceback
            return
        else:
            message = (getattr(exc, "log_message", None) or "").strip()
            message = message or HTTPStatus(status_code).phrase
        self.clear_header("Content-Type")
        self.render_page("error.html", status_code=status_code, message=message)


class UIStaticHandler(tornado.web.StaticFileHandler):
    """``/ui/static/``: the dashboard's own and vendored files (``shell_service/static/ui/``)."""

    def initialize(self, path: str = str(STATIC_DIR), **kwargs) -> None:  # type: ignore[override]
        """Serve ``STATIC_DIR`` (the route table's entries take no arguments)."""
        super().initialize(path, **kwargs)
