"""The dashboard's jobs: the list (filters, paging, refresh), one job's page and its actions.

The list reads ``queue.list_page`` as ``GET /api/jobs`` does; the job page and the
actions go through the API handlers' ``JobAccessMixin`` (someone else's job is a
404 as a missing one is; cancel, rerun and delete are the API's own methods).
"""

import datetime
import urllib.parse

import marshmallow
import orjson

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError
from baselayer.app.models import utcnow

from ... import queue, schemas
from ...job_states import JobStatus
from ..api.jobs import OUTPUT_COLUMNS, JobAccessMixin
from .base import UI_ROOT, UIHandler

#: The list's time ranges: name -> how far back ("all": no limit).
RANGES = {
    "1h": datetime.timedelta(hours=1),
    "24h": datetime.timedelta(hours=24),
    "7d": datetime.timedelta(days=7),
    "30d": datetime.timedelta(days=30),
    "all": None,
}
DEFAULT_RANGE = "24h"
#: The "failed" preset: every state of a job that did not succeed by itself.
FAILED_STATES = ("FAILED", "TIMED_OUT", "SERVER_ERROR")
#: Jobs per page.
PAGE_SIZE = 50
#: The list's columns (what a row shows).
LIST_COLUMNS = (
    "id", "status", "return_code", "queue", "definition_name", "submitter_id", "created_at",
    "started_at", "finished_at", "status_message",
)  # fmt: skip
#: The job page's fields, in order (attempts, dependencies and arrays come later).
DETAIL_FIELDS = (
    "id", "status", "status_message", "return_code", "submitter_id", "queue", "shell",
    "timeout", "priority", "cpus", "memory_mb", "requeue_on_host_loss", "host",
    "slurm_job_id", "slurm_node", "definition_name", "definition_version", "schedule_id",
    "scheduled_for", "created_at", "queued_at", "started_at", "finished_at",
    "cancel_requested_at", "modified",
)  # fmt: skip
#: States a job may be cancelled in, and deleted in (the API answers 409 otherwise).
CANCELLABLE = {JobStatus.READY, JobStatus.QUEUED, JobStatus.RUNNING}
DELETABLE_NOT = {JobStatus.QUEUED, JobStatus.RUNNING}


def list_filters(query: dict[str, list[str]], user_id: int, is_admin: bool, now) -> dict:
    """The jobs list's filters from its URL's query, as ``schemas.JobListQuery`` takes them.

    Parameters
    ----------
    query : dict of str to list of str
        The page's query arguments (decoded).
    user_id : int
        The signed-in user.
    is_admin : bool
        Admins may list anyone's jobs (``submitter``: ``all`` or a user id).
    now : datetime.datetime
        Naive UTC: the range's end.

    Returns
    -------
    dict
        Raw arguments for ``JobListQuery`` (its validation applies as for the API).
    """

    def last(name: str) -> str:
        values = [v for v in query.get(name, []) if v.strip()]
        return values[-1].strip() if values else ""

    raw: dict = {"limit": str(PAGE_SIZE)}
    states = [s for v in query.get("status", []) for s in v.split(",") if s]
    if last("preset") == "failed":
        states = list(FAILED_STATES)
    if states:
        raw["status"] = states
    span = RANGES.get(last("range") or DEFAULT_RANGE, RANGES[DEFAULT_RANGE])
    if last("created_after"):
        raw["created_after"] = last("created_after")
    elif span is not None:
        raw["created_after"] = (now - span).isoformat()
    if last("created_before"):
        raw["created_before"] = last("created_before")
    for name in ("id_prefix", "queue", "definition", "cursor"):
        if last(name):
            raw[name] = last(name)
    submitter = last("submitter") or "me"
    if not is_admin or submitter == "me":
        raw["submitter_id"] = str(user_id)
    elif submitter != "all":
        raw["submitter_id"] = submitter
    return raw


class JobListHandler(UIHandler):
    """``/ui/jobs``: the user's jobs (an admin's: anyone's), newest first, filtered,
    a page at a time."""

    # Signed in: ``prepare`` sent anyone else to the sign-in page.
    current_user: CurrentUser

    def load_page(self) -> dict:
        """The page's jobs and filters.

        Returns
        -------
        dict
            ``jobs`` (dicts of ``LIST_COLUMNS``), ``next_cursor``, ``total``,
            ``capped``, ``args`` (the query as given), ``query`` (its URL-encoded form).

        Raises
        ------
        APIError
            400 for a filter that does not validate (the message names it).
        """
        query = {
            key: [v.decode("utf-8", "replace") for v in values]
            for key, values in self.request.query_arguments.items()
        }
        user = self.current_user
        raw = list_filters(query, user.id, user.is_admin, utcnow())
        try:
            args = schemas.JobListQuery().load(raw)
        except marshmallow.ValidationError as exc:
            raise APIError(400, f"Invalid filter: {exc.messages}")
        owner_id = None if user.is_admin else user.id
        try:
            data, next_cursor, total, capped = queue.list_page(
                self.sql, args, owner_id, LIST_COLUMNS, OUTPUT_COLUMNS
            )
        except queue.BadCursor as exc:
            raise APIError(400, f"Invalid cursor: {exc}")
        jobs = orjson.loads(orjson.dumps(data))
        without_cursor = {k: v for k, v in query.items() if k != "cursor"}
        return {
            "jobs": jobs,
            "next_cursor": next_cursor,
            "total": total,
            "capped": capped,
            "args": {k: v[-1] for k, v in query.items() if v},
            "statuses": set(args.get("status") or ()),
            "query": urllib.parse.urlencode(query, doseq=True),
            "query_without_cursor": urllib.parse.urlencode(without_cursor, doseq=True),
        }

    #: Answer the table body alone (``JobRowsHandler``).
    rows_only = False

    async def get(self):
        """The page, or (``rows_only``) its table body alone for htmx's refresh."""
        page = self.load_page()
        template = "job_rows.html" if self.rows_only else "jobs.html"
        self.render_page(
            template,
            ranges=list(RANGES),
            default_range=DEFAULT_RANGE,
            all_states=[s.value for s in JobStatus],
            **page,
        )


class JobRowsHandler(JobListHandler):
    """``/ui/job-rows``: the jobs list's table body alone, for the same query (htmx
    swaps it in every few seconds: the filter form, an open picker and the scroll
    position are never touched, and no row is appended twice)."""

    rows_only = True


def timeline(job: dict, events: list[dict]) -> list[dict]:
    """A job's history for its page: each event with how long after the previous it came.

    Parameters
    ----------
    job : dict
        The job (``created_at``).
    events : list of dict
        ``queue.job_events``, oldest first.

    Returns
    -------
    list of dict
        ``at`` (datetime), ``from_status``, ``to_status``, ``detail``, ``actor_id``
        and ``after`` (seconds since the previous event or, for the first, since the
        job was made; None when unknown).
    """
    out, previous = [], job.get("created_at")
    for event in events:
        after = (event["created_at"] - previous).total_seconds() if previous else None
        out.append({**event, "at": event["created_at"], "after": after})
        previous = event["created_at"]
    return out


def duration(seconds: float | None) -> str:
    """``seconds`` for people: ``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``.

    Parameters
    ----------
    seconds : float or None

    Returns
    -------
    str
        Empty for None.
    """
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class JobPageHandler(JobAccessMixin, UIHandler):
    """``/ui/jobs/{job_id}``: every field of one job, its timeline, script, args and
    env, and its actions. Someone else's job (unless an admin) is a 404."""

    async def get(self, job_id: str):
        """The job's page."""
        job = self.job_row_or_404(job_id, schemas.JOB_FIELDS)
        events = timeline(job, queue.job_events(self.sql, job_id))
        ended_at = job["finished_at"]
        waited = (
            (job["started_at"] - job["queued_at"]).total_seconds()
            if job["started_at"] and job["queued_at"]
            else None
        )
        ran = (
            (ended_at - job["started_at"]).total_seconds()
            if ended_at and job["started_at"]
            else None
        )
        status = JobStatus(job["status"])
        self.render_page(
            "job.html",
            job=job,
            fields=DETAIL_FIELDS,
            events=events,
            waited=duration(waited),
            ran=duration(ran),
            duration=duration,
            may_cancel=status in CANCELLABLE,
            may_delete=status not in DELETABLE_NOT,
            notice=self.get_argument("notice", ""),
        )


class JobActionHandler(JobAccessMixin, UIHandler):
    """``POST /ui/jobs/{job_id}/{action}``: cancel, rerun or delete, through the API
    handlers' own methods (the same access checks and 409s); then back to a page."""

    async def post(self, job_id: str, action: str):
        """Do ``action`` (``cancel``, ``rerun``, ``delete``) on the job.

        Raises
        ------
        APIError
            404 for an unknown action or a job the user may not see; 409 (the API's
            message) when the job's state does not allow it; 403 for rerunning
            someone else's job with secret parameters.
        """
        here = f"{UI_ROOT}/jobs/{urllib.parse.quote(job_id, safe='')}"
        if action == "cancel":
            status = self.cancel_job(job_id)
            self.redirect(f"{here}?" + urllib.parse.urlencode({"notice": f"Cancelled ({status})"}))
        elif action == "rerun":
            new_id = await self.rerun_job(job_id)
            notice = urllib.parse.urlencode({"notice": f"Rerun of {job_id}"})
            self.redirect(f"{UI_ROOT}/jobs/{urllib.parse.quote(new_id, safe='')}?{notice}")
        elif action == "delete":
            self.delete_job(job_id)
            self.redirect(f"{UI_ROOT}/jobs")
        else:
            raise APIError(404, f"No action {action!r}")
