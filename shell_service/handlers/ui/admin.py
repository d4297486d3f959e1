"""The dashboard's admin pages: users (create, disable or enable, grant or remove the
admin role, their tokens) and the system (version, executors and hosts, queues,
isolation).

Admins only: anyone else gets a 404 page, as for a page that is not there (the
check is the API's own, ``require_admin``). Users change through the users API's
code (``UserAdminMixin``: its checks, messages and side effects, such as a disabled
user's jobs cancelled and sessions ended), tokens through the tokens API's
(``TokenMixin``), the system page reads what ``/api/sysinfo`` and ``/api/queues``
answer (``system_info``, ``describe_queues``).
"""

import datetime

from baselayer.app import auth_store
from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError
from baselayer.app.models import utcnow

from ... import queue, schemas
from ..api.queues import describe_queues
from ..api.sysinfo import system_info
from ..api.users import UserAdminMixin
from .base import UI_ROOT, UIHandler
from .tokens import (
    DEFAULT_EXPIRY,
    FormRefused,
    TokenFormMixin,
    expiry_choices,
    listed_tokens,
)

#: A user page's actions: the ``PATCH /api/users/{id}`` body each sends.
USER_ACTIONS: dict[str, dict[str, bool]] = {
    "disable": {"disabled": True},
    "enable": {"disabled": False},
    "make-admin": {"admin": True},
    "remove-admin": {"admin": False},
}
#: What a user page says after each action (``?notice=``: fixed texts only).
NOTICES = {
    "created": "User created.",
    "disable": "Disabled: their tokens and sessions stopped working and their unfinished "
    "jobs were cancelled.",
    "enable": "Enabled.",
    "make-admin": "Now an admin.",
    "remove-admin": "No longer an admin.",
    "revoked": "Token revoked.",
}
#: How long an executor may be silent and still count as alive (as /api/sysinfo counts).
ALIVE_WITHIN = datetime.timedelta(seconds=3 * queue.HEARTBEAT_INTERVAL)
#: Executors silent this long are forgotten (``queue.heartbeat``): the system page's horizon.
FORGOTTEN_AFTER = datetime.timedelta(hours=1)


class AdminUIHandler(UIHandler):
    """An admin page: a 404 page for anyone signed in who is not an admin."""

    # Signed in: ``prepare`` sent anyone else to the sign-in page.
    current_user: CurrentUser

    def prepare(self):
        """As ``UIHandler.prepare`` (session, XSRF), then the API's admin check.

        Raises
        ------
        APIError
            404 for a user who is not an admin (the API's ``require_admin`` refused).
        """
        super().prepare()
        try:
            self.require_admin()
        except APIError:
            raise APIError(404, "Not Found")


class AdminRootHandler(AdminUIHandler):
    """``/ui/admin``: the users page."""

    async def get(self):
        """Redirect to ``/ui/admin/users``."""
        self.redirect(f"{UI_ROOT}/admin/users")


class AdminUsersHandler(UserAdminMixin, AdminUIHandler):
    """``/ui/admin/users``: every user, and a form to make one (as ``POST /api/users``,
    then the admin role as ``PATCH`` grants it when ticked)."""

    def show_page(self, form: dict, errors: dict, message: str = "", status: int = 200) -> None:
        """Render the users and the form (its values and errors by field)."""
        self.set_status(status)
        self.render_page(
            "admin_users.html",
            users=auth_store.list_users(self.sql),
            form=form,
            errors=errors,
            message=message,
        )

    async def get(self):
        """The users, by id, and the empty form."""
        self.show_page({}, {})

    async def post(self):
        """Make the user (an admin if ticked), then their page; or the form again with
        the API's refusal beside its field (a bad or taken username)."""
        form = {
            "username": self.get_argument("username", "").strip(),
            "admin": "on" if self.get_argument("admin", "") else "",
        }
        self._form_body = {"username": form["username"]}
        try:
            user = self.create_user(self.load_body(schemas.UserCreate))
        except APIError as exc:
            if exc.status_code >= 500:
                raise
            errors = (exc.data or {}).get("errors") or {}
            if exc.status_code == 409:  # taken: that is the username's fault
                errors = {"username": [exc.message]}
            return self.show_page(form, errors, exc.message, exc.status_code)
        if form["admin"]:
            self._form_body = {"admin": True}
            user = self.change_user(user, self.load_body(schemas.UserUpdate))
        self.redirect(f"{UI_ROOT}/admin/users/{user['id']}?notice=created")


class AdminUserHandler(UserAdminMixin, TokenFormMixin, AdminUIHandler):
    """``/ui/admin/users/{user_id}``: one user, their actions and tokens (revoke any,
    make one for them, its secret shown once)."""

    def show_page(
        self,
        user: dict,
        form: dict | None = None,
        errors: dict | None = None,
        message: str = "",
        status: int = 200,
    ) -> None:
        """Render the user's page (the token form's values and errors, a refusal's
        message above)."""
        self.set_status(status)
        here = f"{UI_ROOT}/admin/users/{user['id']}"
        own = user["id"] == self.current_user.id
        self.render_page(
            "admin_user.html",
            shown_user=user,
            own=own,
            tokens=listed_tokens(self.sql, user["id"], self.session_secret() if own else None),
            form=form or {"expires_in": DEFAULT_EXPIRY},
            errors=errors or {},
            # A refusal of the token form above it; of an action, under the actions.
            form_message=message if errors else "",
            action_message="" if errors else message,
            notice=NOTICES.get(self.get_argument("notice", ""), ""),
            expiry_choices=expiry_choices(),
            form_action=f"{here}/tokens",
            back=here,
        )

    async def get(self, user_id: str, action: str | None = None):
        """The user's page; no such user is a 404 (an action's path takes POST only)."""
        if action is not None:
            raise APIError(405, "Actions are POSTed")
        self.show_page(self.user_or_404(user_id))

    async def post(self, user_id: str, action: str | None = None):
        """``action``: one of ``USER_ACTIONS`` (as ``PATCH /api/users/{id}``), or
        ``tokens`` (a token for this user, as ``POST /api/tokens`` with ``user_id``).

        Raises
        ------
        APIError
            404 for no such user or action.
        """
        user = self.user_or_404(user_id)
        if action is None:
            raise APIError(405, "POST to one of the user's actions")
        if action == "tokens":
            return self.make_their_token(user)
        if action not in USER_ACTIONS:
            raise APIError(404, f"No action {action!r}")
        self._form_body = dict(USER_ACTIONS[action])
        try:
            self.change_user(user, self.load_body(schemas.UserUpdate))
        except APIError as exc:
            if exc.status_code != 400:
                raise
            # The API's refusal (your own account): shown on the page.
            return self.show_page(user, message=exc.message, status=400)
        self.redirect(f"{UI_ROOT}/admin/users/{user['id']}?notice={action}")

    def make_their_token(self, user: dict) -> None:
        """Make a token for ``user`` from the form: its secret on this answer, once."""
        form = self.token_form()
        try:
            token = self.make_token_from_form(form, user_id=user["id"])
        except FormRefused as refused:
            return self.show_page(user, form, refused.errors, refused.message, refused.status)
        self.show_created(token, user["username"], f"{UI_ROOT}/admin/users/{user['id']}")


def executors_and_hosts(rows: list[dict], now: datetime.datetime, lost_after) -> list[dict]:
    """The executors heard from in the last hour, each with its host's state.

    Parameters
    ----------
    rows : list of dict
        ``queue.live_executors`` rows (``id``, ``last_seen``, ``running``,
        ``published``).
    now : datetime.datetime
        Naive UTC.
    lost_after : datetime.timedelta
        ``hosts.lost_after``: a host none of whose executors has sent a heartbeat
        for this long is lost (its jobs are ended or queued again elsewhere).

    Returns
    -------
    list of dict
        Each row with ``published`` (a dict), ``host``, ``kind`` ("local" or
        "slurm"), ``alive`` (heard from within ``ALIVE_WITHIN``, as /api/sysinfo
        counts) and ``host_lost``; alive ones first, then by id.
    """
    out = []
    for row in rows:
        published = row.get("published") or {}
        out.append(
            {
                **row,
                "published": published,
                "host": published.get("host") or row["id"].rpartition(":")[0],
                "kind": published.get("kind", "local"),
                "alive": row["last_seen"] > now - ALIVE_WITHIN,
            }
        )
    heard: dict[str, datetime.datetime] = {}
    for executor in out:
        host, seen = executor["host"], executor["last_seen"]
        heard[host] = max(heard.get(host, seen), seen)
    for executor in out:
        executor["host_lost"] = heard[executor["host"]] <= now - lost_after
    return sorted(out, key=lambda e: (not e["alive"], e["id"]))


def plain(value) -> str:
    """A published value as text for the system page (isolation's settings).

    Parameters
    ----------
    value
        A bool, None, number, text, list or dict (JSON as an executor published it).

    Returns
    -------
    str
        "yes"/"no" for bools, "none" for None, lists joined with commas, dicts as
        ``key: value`` pairs.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {plain(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value) or "none"
    return str(value)


class AdminSystemHandler(AdminUIHandler):
    """``/ui/admin/system``: version, jobs per state, capacity, executors and their
    hosts (alive, silent, lost), queues with their limits and load, isolation."""

    async def get(self):
        """The page: ``/api/sysinfo``'s and ``/api/queues``' answers, and the executors
        of the last hour with their hosts' state."""
        cfg = self.settings["config"]
        info = system_info(self.settings, self.sql)
        now = utcnow()
        lost_after = datetime.timedelta(seconds=float(cfg["hosts"]["lost_after"]))
        executors = executors_and_hosts(
            queue.live_executors(self.sql, within=FORGOTTEN_AFTER), now, lost_after
        )
        self.render_page(
            "admin_system.html",
            info=info,
            executors=executors,
            queues=describe_queues(cfg, self.sql),
            lost_after=lost_after,
            plain=plain,
        )
