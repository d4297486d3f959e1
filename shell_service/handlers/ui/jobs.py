"""The dashboard's jobs: the list (filters, paging, refresh), one job's page and its actions.

The list reads ``queue.list_page`` as ``GET /api/jobs`` does; the job page and the
actions go through the API handlers' ``JobAccessMixin`` (someone else's job is a
404 as a missing one is; cancel, rerun and delete are the API's own methods).
"""

import datetime
import hashlib
import urllib.parse

import marshmallow
import orjson

from baselayer.app import auth_store
from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError
from baselayer.app.models import utcnow

from ... import queue, schemas
from ...job_states import FINISHED, JobStatus
from ...queue import waiting
from ..api.jobs import OUTPUT_COLUMNS, JobAccessMixin
from .base import UI_ROOT, UIHandler, readable_errors, timestamp

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
    "started_at", "finished_at", "status_message", "array_id", "array_index", "array_spec",
)  # fmt: skip
#: The job page's fields, in order (attempts, dependencies and arrays have sections).
DETAIL_FIELDS = (
    "id", "status", "status_message", "return_code", "submitter_id", "queue", "shell",
    "timeout", "priority", "cpus", "memory_mb", "requeue_on_host_loss", "host",
    "slurm_job_id", "slurm_node", "definition_name", "definition_version", "schedule_id",
    "scheduled_for", "created_at", "queued_at", "started_at", "finished_at",
    "cancel_requested_at", "modified", "attempt", "waiting_for", "eligible_at", "array_spec",
    "array_size", "array_id", "array_index",
)  # fmt: skip
#: What the job page says after an action (``?notice=``): fixed texts only, never
#: the URL's (a link could otherwise put any words on a user's job page). ``of``
#: (a rerun's job) and ``fields`` (what an edit changed) are checked before shown.
NOTICES = {
    "queued": "Queued.",
    "cancelled": "Cancel asked for: the job ends CANCELLED once its processes have.",
    "rerun": "Rerun of {of}.",
    "changed": "Changed: {fields}.",
}


def job_url(job_id: str) -> str:
    """The job's page.

    Parameters
    ----------
    job_id : str

    Returns
    -------
    str
    """
    return f"{UI_ROOT}/jobs/{urllib.parse.quote(job_id, safe='')}"


def notice_url(job_id: str, notice: str, **values: str) -> str:
    """The job page's URL with ``notice`` (a key of NOTICES) and its values.

    Parameters
    ----------
    job_id : str
    notice : str
        ``queued``, ``cancelled``, ``rerun`` (``of``: the job rerun) or ``changed``
        (``fields``: comma-separated names).

    Returns
    -------
    str

    Raises
    ------
    KeyError
        ``notice`` is not one of NOTICES.
    """
    NOTICES[notice]  # noqa: B018  (a typo fails here, not on the page)
    return f"{job_url(job_id)}?{urllib.parse.urlencode({'notice': notice, **values})}"


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
    for name in ("id_prefix", "queue", "definition", "array", "schedule", "cursor"):
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
        query = self.decoded_arguments(self.request.query_arguments)
        user = self.current_user
        raw = list_filters(query, user.id, user.is_admin, utcnow())
        try:
            args = schemas.JobListQuery().load(raw)
        except marshmallow.ValidationError as exc:
            raise APIError(400, f"Invalid filter: {readable_errors(exc.messages)}")
        owner_id = None if user.is_admin else user.id
        try:
            data, next_cursor, total, capped = queue.list_page(
                self.sql, args, owner_id, LIST_COLUMNS, OUTPUT_COLUMNS
            )
        except queue.BadCursor as exc:
            raise APIError(400, f"Invalid cursor: {exc}")
        jobs = orjson.loads(orjson.dumps(data))
        # An admin's list says whose each job is.
        names = (
            auth_store.usernames(self.sql, (j["submitter_id"] for j in jobs))
            if user.is_admin
            else {}
        )
        without_cursor = {k: v for k, v in query.items() if k != "cursor"}
        return {
            "jobs": jobs,
            "usernames": names,
            "next_cursor": next_cursor,
            "total": total,
            "capped": capped,
            "args": {k: v[-1] for k, v in query.items() if v},
            "statuses": set(args.get("status") or ()),
            "query": urllib.parse.urlencode(query, doseq=True),
            "query_without_cursor": urllib.parse.urlencode(without_cursor, doseq=True),
        }

    #: Answer the list alone: its count and table (``JobRowsHandler``).
    rows_only = False

    async def get(self):
        """The page, or (``rows_only``) its list alone for htmx's refresh."""
        page = self.load_page()
        template = "job_list.html" if self.rows_only else "jobs.html"
        self.render_page(
            template,
            ranges=list(RANGES),
            default_range=DEFAULT_RANGE,
            all_states=[s.value for s in JobStatus],
            **page,
        )


class JobRowsHandler(JobListHandler):
    """``/ui/job-rows``: the jobs list alone (its count and table), for the same
    query (htmx swaps it in every few seconds: the filter form, an open picker and
    the scroll position are never touched, and no row is appended twice)."""

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


#: The order of an array's task counts (``PENDING``: tasks not made yet).
TASK_STATES = ("PENDING", *(s.value for s in JobStatus))


def holds_text(dependency: dict) -> str:
    """Whether a dependency holds, in words for the job's page.

    Parameters
    ----------
    dependency : dict
        One of ``schemas.JobDetail``'s ``depends_on``: ``satisfied`` (True, False,
        or None while the waiting-jobs service has not judged it) and ``status``
        (the job's state now; None once it is deleted).

    Returns
    -------
    str
    """
    if dependency["satisfied"] is True:
        return "yes"
    if dependency["satisfied"] is False:
        return "no: it can no longer hold"
    if dependency["status"] in FINISHED:
        # Ended, not yet looked at: the waiting-jobs service's next pass (a second or so).
        return "being checked (it has ended)"
    return "not yet (it has not ended)"


#: Seconds between the job page's looks at a job that has not ended.
STATE_POLL_SECONDS = 3
#: What the state section reads of a job: all but its output (read every few seconds).
STATE_COLUMNS = tuple(name for name in schemas.JOB_FIELDS if name not in OUTPUT_COLUMNS)


def retry_summary(retry: dict | None) -> str:
    """A job's retry strategy (as ``retries.parse_retry`` completes it) in words.

    Parameters
    ----------
    retry : dict or None

    Returns
    -------
    str
        E.g. ``3 attempts in all; retried on FAILED (exit codes 1, 75); back-off
        10 s, x2, at most 600 s``; ``No retry`` for None.
    """
    if not retry:
        return "No retry"
    endings = ", ".join(retry.get("on") or ["FAILED"])
    if retry.get("exit_codes"):
        endings += f" (exit codes {', '.join(str(c) for c in retry['exit_codes'])})"
    text = f"{retry['attempts']} attempts in all; retried on {endings}"
    backoff = retry.get("backoff") or {}
    if backoff.get("initial"):
        text += (
            f"; back-off {backoff['initial']:g} s, x{backoff.get('factor', 2):g}, "
            f"at most {backoff.get('max', 3600):g} s"
        )
    else:
        text += "; no back-off"
    return text


def task_links(array_id: str, counts: dict[str, int]) -> list[dict]:
    """An array job's task counts for its page, each with the jobs list of those tasks.

    Parameters
    ----------
    array_id : str
    counts : dict of str to int
        ``waiting.array_counts``.

    Returns
    -------
    list of dict
        ``state``, ``count`` and ``url`` (None for ``PENDING``: tasks not made yet
        are no jobs to list), in ``TASK_STATES`` order.
    """
    out = []
    for state in TASK_STATES:
        if counts.get(state):
            query = urllib.parse.urlencode({"array": array_id, "status": state, "range": "all"})
            url = None if state == "PENDING" else f"{UI_ROOT}/jobs?{query}"
            out.append({"state": state, "count": counts[state], "url": url})
    return out


class JobPageHandler(JobAccessMixin, UIHandler):
    """``/ui/jobs/{job_id}``: every field of one job, its state (attempts, what it
    waits for, dependencies, array tasks), timeline, script, args and env, and its
    actions. Someone else's job (unless an admin) is a 404."""

    def job_state(self, job_id: str, columns=STATE_COLUMNS) -> dict:
        """What the page's state section shows, read as ``GET /api/jobs/{id}`` reads it.

        Parameters
        ----------
        job_id : str
        columns : sequence of str, optional
            The job's columns to read (``schemas.JOB_FIELDS``' names; by default
            all but the output, which the section does not show).

        Returns
        -------
        dict
            The template's values: ``job`` (``schemas.JobDetail``'s fields),
            ``dependencies`` (each with ``linked``: whether the viewer may open that
            job, and ``holds``: ``holds_text``), ``tasks`` (``task_links``),
            ``retry_text``, ``waited``, ``ran``, ``events`` (``timeline``) and
            ``actors`` (their users' names), ``live`` (not ended: the section keeps
            looking), ``may_cancel``, ``may_delete``, ``may_change``, ``may_rerun``.

        Raises
        ------
        APIError
            404 for no such job, or one the user may not see.
        """
        job = self.job_detail(self.job_row_or_404(job_id, columns))
        # A dependency whose job still exists (status) is that job: its id is fixed.
        existing = [d["job"] for d in job["depends_on"] if d["status"] is not None]
        owners = waiting.job_owners(self.sql, existing) if existing else {}
        dependencies = [
            {
                **d,
                "linked": d["job"] in owners and self.may_see(owners[d["job"]][0]),
                "holds": holds_text(d),
            }
            for d in job["depends_on"]
        ]
        waited = (
            (job["started_at"] - job["queued_at"]).total_seconds()
            if job["started_at"] and job["queued_at"]
            else None
        )
        ran = (
            (job["finished_at"] - job["started_at"]).total_seconds()
            if job["finished_at"] and job["started_at"]
            else None
        )
        status = JobStatus(job["status"])
        events = timeline(job, queue.job_events(self.sql, job_id))
        return {
            "job": job,
            "events": events,
            "actors": auth_store.usernames(self.sql, (e["actor_id"] for e in events)),
            "dependencies": dependencies,
            "tasks": task_links(job["id"], job["array_tasks"] or {}),
            "retry_text": retry_summary(job["retry"]),
            "waited": duration(waited),
            "ran": duration(ran),
            "live": status not in FINISHED,
            "may_cancel": status in CANCELLABLE,
            "may_delete": status not in DELETABLE_NOT,
            # Queue it, Edit: only a READY job (``handlers/ui/ready.py``), which
            # has not run: nothing to run again.
            "may_change": status == JobStatus.READY,
            "may_rerun": status != JobStatus.READY,
        }

    def state_html(self, state: dict, notice: str = "", message: str = "") -> tuple[bytes, str]:
        """The state section (all the page shows but the script and the log), its
        refresh URL carrying a hash of what it shows (the refresh answers 204 while
        that is unchanged, so nothing the reader is on, such as a focused button,
        is replaced for nothing).

        Parameters
        ----------
        state : dict
            ``job_state``'s values.
        notice, message : str, optional
            What an action did, or why it was refused: on the page as loaded, not
            in its refreshes (the moment has passed once the job changed).

        Returns
        -------
        tuple of (bytes, str)
            The HTML and its version (the hash). The version is of the values, not
            of the HTML: its forms' XSRF tokens differ on every request.
        """
        job = {k: v for k, v in state["job"].items() if k not in OUTPUT_COLUMNS}
        shown = sorted({**state, "job": sorted(job.items())}.items())
        version = hashlib.sha256(repr(shown).encode()).hexdigest()[:16]
        html = self.render_string(
            "job_state.html",
            ui_root=UI_ROOT,
            timestamp=timestamp,
            user=self.current_user,
            version=version,
            poll_seconds=STATE_POLL_SECONDS,
            fields=DETAIL_FIELDS,
            duration=duration,
            notice=notice,
            message=message,
            **state,
        )
        return html, version

    async def get(self, job_id: str):
        """The job's page."""
        self.show_job(job_id)

    def notice(self) -> str:
        """The ``?notice=`` text (NOTICES), its values checked: ``of`` must be a job
        this user may see, ``fields`` names of a READY job's fields. Anything else
        shows nothing."""
        text = NOTICES.get(self.get_argument("notice", ""), "")
        if "{of}" in text:
            of = self.get_argument("of", "")
            try:
                self.job_row_or_404(of, ("id",))
            except APIError:
                return ""
            return text.format(of=of)
        if "{fields}" in text:
            fields = self.get_argument("fields", "").split(",")
            if not set(fields) <= set(schemas.JobUpdate().fields):
                return ""
            return text.format(fields=", ".join(fields))
        return text

    def show_job(self, job_id: str, message: str = "", status: int = 200) -> None:
        """Render the job's page, with a refusal's ``message`` above the rest.

        Parameters
        ----------
        job_id : str
        message : str, optional
            Why an action was refused (the API's 409), shown as an alert.
        status : int, optional
            The answer's status (the refusal's).

        Raises
        ------
        APIError
            404 for no such job, or one the user may not see.
        """
        state = self.job_state(job_id, schemas.JOB_FIELDS)  # the output too (<noscript>)
        self.set_status(status)
        self.render_page(
            "job.html",
            job=state["job"],
            state_html=self.state_html(state, self.notice(), message)[0],
        )


class JobStateHandler(JobPageHandler):
    """``/ui/jobs/{job_id}/state``: the job page's state section alone, which htmx
    asks for every few seconds until the job has ended; 204 while it is what the
    page shows (``?v=``)."""

    async def get(self, job_id: str):
        """The section, or 204 (htmx swaps nothing) when unchanged."""
        state = self.job_state(job_id)
        html, version = self.state_html(state)
        self.set_header("Cache-Control", "no-store")
        if self.get_argument("v", "") == version:
            self.set_status(204)
            return self.finish()
        self.finish(html)


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
        if action == "cancel":
            self.cancel_job(job_id)
            self.redirect(notice_url(job_id, "cancelled"))
        elif action == "rerun":
            new_id = await self.rerun_job(job_id)
            self.redirect(notice_url(new_id, "rerun", of=job_id))
        elif action == "delete":
            self.delete_job(job_id)
            self.redirect(f"{UI_ROOT}/jobs")
        else:
            raise APIError(404, f"No action {action!r}")
