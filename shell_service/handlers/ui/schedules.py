"""The dashboard's schedules: the list, one schedule with its recent runs, pause and resume.

The pages read what ``GET /api/schedules`` reads and show it as the API does
(``dump_schedule``: next ticks in UTC and the schedule's zone, secret values
masked); pause and resume are the API's ``PATCH`` (``change_schedule``) with
``enabled`` false or true. Someone else's schedule (for a non-admin) is a 404.
"""

import urllib.parse

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError
from baselayer.app.models import utcnow

from ... import queue, schemas
from ..api.schedules import RECENT_FIRES, ScheduleAccessMixin, dump_schedule
from .base import UI_ROOT, UIHandler
from .definitions import definition_url

#: Fires shown on a schedule's own page (the list shows ``RECENT_FIRES``).
PAGE_FIRES = 20


def safe_next(target: str, fallback: str) -> str:
    """Where to go back after an action: a dashboard path only, never another site.

    Parameters
    ----------
    target : str
        The form's ``next`` (any text).
    fallback : str

    Returns
    -------
    str
        ``target`` when it is a path under ``/ui/``, else ``fallback``.
    """
    parts = urllib.parse.urlsplit(target)
    if target.startswith(f"{UI_ROOT}/") and not parts.scheme and not parts.netloc:
        if "\\" not in target and not target.startswith("//"):
            return target
    return fallback


class ScheduleListPage(ScheduleAccessMixin, UIHandler):
    """``/ui/schedules``: the user's schedules (an admin's, everyone's), as ``GET
    /api/schedules`` lists them, with their next tick, last run, and pause/resume."""

    current_user: CurrentUser

    async def get(self):
        """The list, a page at a time (``offset``)."""
        args = self.load_query(schemas.ScheduleListQuery)
        owner_id = None if self.current_user.is_admin else self.current_user.id
        rows = queue.list_schedules(self.sql, owner_id, args["limit"], args["offset"])
        fires = queue.recent_fires(self.sql, [row["id"] for row in rows], RECENT_FIRES)
        now = utcnow()
        self.render_page(
            "schedules.html",
            schedules=[dump_schedule(row, fires[row["id"]], now) for row in rows],
            offset=args["offset"],
            page_size=args["limit"],
            definition_url=definition_url,
            here=self.request.uri,
        )


class SchedulePage(ScheduleAccessMixin, UIHandler):
    """``/ui/schedules/{schedule_id}``: one schedule, its next ticks and its recent
    runs (each tick's job and its state, or why it was skipped)."""

    current_user: CurrentUser

    async def get(self, schedule_id: str):
        """The schedule's page."""
        row = self.schedule_or_404(schedule_id)
        fires = queue.recent_fires(self.sql, [row["id"]], PAGE_FIRES)[row["id"]]
        self.render_page(
            "schedule.html",
            schedule=dump_schedule(row, fires, utcnow()),
            definition_url=definition_url,
            here=self.request.uri,
        )


class ScheduleActionPage(ScheduleAccessMixin, UIHandler):
    """``POST /ui/schedules/{schedule_id}/pause`` and ``.../resume``: the API's
    ``PATCH`` with ``enabled`` false or true; then back (``next``, a dashboard path)."""

    current_user: CurrentUser

    async def post(self, schedule_id: str, action: str):
        """Pause or resume the schedule.

        Raises
        ------
        APIError
            404 for an unknown action or a schedule the user may not see; 400 as
            the API's (a resumed schedule whose cron has no tick left).
        """
        if action not in ("pause", "resume"):
            raise APIError(404, f"No action {action!r}")
        row = self.schedule_or_404(schedule_id)
        self.change_schedule(row, {"enabled": action == "resume"})
        here = f"{UI_ROOT}/schedules/{row['id']}"
        self.redirect(safe_next(self.get_argument("next", ""), here))
