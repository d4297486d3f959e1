"""The dashboard's tokens: a user's own (their web sessions marked), making one (its
secret shown once, on the answer to the form's POST, never again), revoking one.

Through the API's own code (``TokenMixin``: the same checks, 403s and 404s). A web
session is a token row: signed in by one, a browser may do here what a request
with an API token may do with ``/api/tokens``, no more.
"""

import datetime
import urllib.parse

from baselayer.app import auth_store
from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL

from ... import schemas, web_sessions
from ..api.tokens import TokenMixin
from .base import UI_ROOT, UIHandler
from .sessions import safe_next

#: The form's expiry choices: value -> (label, how long from now; None: never).
EXPIRY_CHOICES: dict[str, tuple[str, datetime.timedelta | None]] = {
    "1d": ("1 day", datetime.timedelta(days=1)),
    "7d": ("7 days", datetime.timedelta(days=7)),
    "30d": ("30 days", datetime.timedelta(days=30)),
    "90d": ("90 days", datetime.timedelta(days=90)),
    "365d": ("1 year", datetime.timedelta(days=365)),
    "never": ("never", None),
}
DEFAULT_EXPIRY = "90d"
#: The token form's fields.
TOKEN_FORM_FIELDS = ("name", "expires_in", "expires_at")


class FormRefused(Exception):
    """A form the API's checks refused: what to show beside its fields and above it.

    Parameters
    ----------
    errors : dict
        Messages by field (a 400's ``data.errors``).
    message : str
        The refusal's message.
    status : int
        The answer's status (the API's).
    """

    def __init__(self, errors: dict, message: str, status: int):
        super().__init__(message)
        self.errors, self.message, self.status = errors, message, status


def token_form_body(form: dict[str, str], now: datetime.datetime) -> tuple[dict, dict]:
    """The ``POST /api/tokens`` body of the token form, and the form's own errors.

    Parameters
    ----------
    form : dict of str to str
        ``name``; ``expires_in`` (a key of ``EXPIRY_CHOICES``); ``expires_at`` (a
        time in UTC as typed, which wins over ``expires_in`` when given).
    now : datetime.datetime
        Naive UTC: what ``expires_in`` counts from.

    Returns
    -------
    tuple of (dict, dict)
        The body (no ``expires_at``: never), and errors by field for what is not
        even the API's shape (an unknown ``expires_in``).
    """
    body: dict = {"name": form.get("name", "").strip()}
    errors: dict[str, list[str]] = {}
    typed = form.get("expires_at", "").strip()
    if typed:
        body["expires_at"] = typed
    else:
        choice = form.get("expires_in") or DEFAULT_EXPIRY
        if choice not in EXPIRY_CHOICES:
            errors["expires_in"] = [f"Choose one of: {', '.join(EXPIRY_CHOICES)}."]
        else:
            span = EXPIRY_CHOICES[choice][1]
            if span is not None:
                body["expires_at"] = (now + span).isoformat(timespec="seconds")
    return body, errors


def listed_tokens(sql: PlainSQL, user_id: int, session_secret: str | None) -> list[dict]:
    """A user's tokens for a page, newest first, web sessions marked.

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
    session_secret : str or None
        The request's session cookie: its token is marked ``current``.

    Returns
    -------
    list of dict
        ``auth_store.user_tokens``'s keys, and ``web_session`` (bool),
        ``current`` (bool: this browser's session), ``user_agent`` (a live
        session's browser, else None) and ``expired`` (bool).
    """
    sessions = web_sessions.session_token_ids(sql, user_id)
    live = {s["id"]: s for s in web_sessions.user_sessions(sql, user_id, session_secret)}
    now = utcnow()
    tokens = []
    for token in reversed(auth_store.user_tokens(sql, user_id)):
        session = live.get(token["id"])
        tokens.append(
            {
                **token,
                "web_session": token["id"] in sessions,
                "current": bool(session and session["current"]),
                "user_agent": session["user_agent"] if session else None,
                "expired": token["expires_at"] is not None and token["expires_at"] <= now,
            }
        )
    return tokens


class TokenFormMixin(TokenMixin, UIHandler):
    """A page making a token from the token form, through ``TokenMixin.make_token``
    (the form becomes the API's JSON body, loaded by ``schemas.TokenCreate``)."""

    # Signed in: ``prepare`` sent anyone else to the sign-in page.
    current_user: CurrentUser

    def token_form(self) -> dict[str, str]:
        """The token form's fields as sent.

        Returns
        -------
        dict of str to str
        """
        return {name: self.get_argument(name, "") for name in TOKEN_FORM_FIELDS}

    def make_token_from_form(self, form: dict[str, str], user_id: int | None = None) -> dict:
        """Make the token the form asks for.

        Parameters
        ----------
        form : dict of str to str
            ``token_form()``.
        user_id : int, optional
            Whose token (an admin's form on a user's page); the current user's if None.

        Returns
        -------
        dict
            ``id``, ``secret`` (shown this once), ``name``, ``user_id`` and
            ``expires_at`` (naive UTC or None).

        Raises
        ------
        FormRefused
            For the form's own errors and the API's 4xx refusals (400 by field,
            403, 404).
        """
        body, errors = token_form_body(form, utcnow())
        if errors:
            raise FormRefused(errors, "Please fix the fields marked below.", 400)
        if user_id is not None:
            body["user_id"] = user_id
        self._form_body = body
        try:
            loaded = self.load_body(schemas.TokenCreate)
            token_id, secret = self.make_token(loaded)
        except APIError as exc:
            if exc.status_code >= 500:
                raise
            raise FormRefused((exc.data or {}).get("errors") or {}, exc.message, exc.status_code)
        return {
            "id": token_id,
            "secret": secret,
            "name": loaded["name"],
            "user_id": loaded.get("user_id", self.current_user.id),
            "expires_at": loaded.get("expires_at"),
        }

    def show_created(self, token: dict, owner: str, back: str) -> None:
        """The answer page holding a new token's secret: the only time it is shown.

        Parameters
        ----------
        token : dict
            ``make_token_from_form``'s.
        owner : str
            Whose token (their username).
        back : str
            The page the browser's history entry becomes (a reload shows that
            page, not the secret: ``static/ui/token.js``).
        """
        self.render_page("token_created.html", token=token, owner=owner, back=back)


def expiry_choices() -> list[tuple[str, str]]:
    """The form's expiry choices (value, label), for the templates.

    Returns
    -------
    list of (str, str)
    """
    return [(value, label) for value, (label, _) in EXPIRY_CHOICES.items()]


class TokensHandler(TokenFormMixin):
    """``/ui/tokens``: the user's own tokens (web sessions marked) and a form to make one."""

    def show_page(self, form: dict, errors: dict, message: str = "", status: int = 200) -> None:
        """Render the list and the form (its values and errors by field)."""
        self.set_status(status)
        self.render_page(
            "tokens.html",
            tokens=listed_tokens(self.sql, self.current_user.id, self.session_secret()),
            form=form,
            errors=errors,
            form_message=message,
            expiry_choices=expiry_choices(),
            form_action=f"{UI_ROOT}/tokens",
            back=f"{UI_ROOT}/tokens",
            notice=self.get_argument("notice", "") == "revoked",
        )

    async def get(self):
        """The tokens and the empty form."""
        self.show_page({"expires_in": DEFAULT_EXPIRY}, {})

    async def post(self):
        """Make a token for the current user: its secret on this answer, once; or
        the form again with the errors."""
        form = self.token_form()
        try:
            token = self.make_token_from_form(form)
        except FormRefused as refused:
            return self.show_page(form, refused.errors, refused.message, refused.status)
        self.show_created(token, self.current_user.username, f"{UI_ROOT}/tokens")


class TokenRevokeHandler(TokenMixin, UIHandler):
    """``POST /ui/tokens/{token_id}/revoke``: revoke a token of the user's (an admin:
    anyone's), as ``DELETE /api/tokens/{token_id}``; someone else's is a 404."""

    async def post(self, token_id: str):
        """Revoke it, then back to ``next`` (a dashboard page; ``/ui/tokens`` by default).

        Raises
        ------
        APIError
            404 for no such token, or someone else's (not an admin).
        """
        self.revoke_token(token_id)
        back = safe_next(self.get_argument("next", None) or f"{UI_ROOT}/tokens")
        parts = urllib.parse.urlsplit(back)
        query = urllib.parse.urlencode({"notice": "revoked"})
        self.redirect(urllib.parse.urlunsplit(("", "", parts.path, query, "")))
