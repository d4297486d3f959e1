"""Signing in and out of the dashboard, and a user's web sessions."""

import urllib.parse

from ... import web_sessions
from .base import SESSION_COOKIE, UI_ROOT, UIHandler


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path only (no other site, no API).

    Parameters
    ----------
    target : str or None
        The ``next`` argument.

    Returns
    -------
    str
        ``target`` when it is a path under ``/ui/``; ``/ui/`` otherwise.
    """
    if not target:
        return f"{UI_ROOT}/"
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return f"{UI_ROOT}/"
    if parts.path != UI_ROOT and not parts.path.startswith(f"{UI_ROOT}/"):
        return f"{UI_ROOT}/"
    return urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))


class SignInHandler(UIHandler):
    """``/ui/signin``: paste an API token once; a web session is made from it."""

    auth_required = False

    async def get(self):
        """The sign-in form (``next``: where to go afterwards)."""
        self.render_page("signin.html", next=safe_next(self.get_argument("next", None)), error="")

    def render_page(self, template: str, **kwargs) -> None:
        """As ``UIHandler.render_page``, with the session's lifetime the form states."""
        hours = int(web_sessions.SESSION_LIFETIME.total_seconds() // 3600)
        super().render_page(template, lifetime_hours=hours, **kwargs)

    async def post(self):
        """Check the pasted token (as the API does: unknown, expired, a disabled user's
        fail; a web session's secret is not an API token here), make a web session
        of it and set its cookie, then go to ``next``."""
        target = safe_next(self.get_argument("next", None))
        token = self.get_argument("token", "").strip()
        made = (
            web_sessions.create_session(self.sql, token, self.request.headers.get("User-Agent"))
            if token
            else None
        )
        if made is None:
            self.set_status(401)
            error = (
                "That token is not valid (unknown, expired or revoked, or its user is disabled)."
            )
            return self.render_page("signin.html", next=target, error=error)
        _, secret, expires_at = made
        self.set_session_cookie(secret, expires_at)
        self.redirect(target)


class SignOutHandler(UIHandler):
    """``POST /ui/signout``: delete this browser's session and its cookie."""

    auth_required = False

    async def post(self):
        """End the session (if any) and go to the sign-in page."""
        if web_sessions.end_session(self.sql, self.session_secret()):
            self.auth_changed()
        self.clear_cookie(SESSION_COOKIE, path=UI_ROOT)
        self.redirect(f"{UI_ROOT}/signin")


class SessionsHandler(UIHandler):
    """``/ui/sessions``: the user's live web sessions; revoke any of them."""

    async def get(self):
        """List the sessions (this browser's marked)."""
        sessions = web_sessions.user_sessions(self.sql, self.current_user.id, self.session_secret())
        self.render_page("sessions.html", sessions=sessions)

    async def post(self):
        """Revoke the session ``id`` (the form's field) of this user; revoking this
        browser's own signs it out."""
        try:
            session_id = int(self.get_argument("id"))
        except ValueError:
            session_id = -1
        if 0 < session_id < 2**31 and web_sessions.delete_session(
            self.sql, session_id, self.current_user.id
        ):
            self.auth_changed()
        self.redirect(f"{UI_ROOT}/sessions")
