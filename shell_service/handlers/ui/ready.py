"""The dashboard's READY jobs: "Queue it" and "Edit" on a job's page.

Both are the API handlers' own code: queueing is ``JobSubmitMixin.execute_job``
(``POST /api/jobs/{id}/execute``), a change ``JobAccessMixin.change_ready_job``
(``PATCH /api/jobs/{id}``), with the same access checks (someone else's job is a
404 page) and the same refusals: a 409 (not READY; its queue removed from config,
or its options over its queue's maxima) is shown on the page, a 400's errors
beside their fields in the submit form, filled with the job (``submit.html``).
"""

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError

from ... import queues, schemas
from ...job_checks import queue_or_400
from ...job_states import JobStatus
from ..api.jobs import CHANGE_COLUMNS, JobSubmitMixin
from .jobs import JobPageHandler, job_url, notice_url
from .submit import (
    DEPENDENCY_FIELDS,
    NUMBER_FIELDS,
    PREFILL_COLUMNS,
    TEXT_FIELDS,
    JobFormPage,
    errors_by_field,
    form_to_body,
    prefill,
    with_shape_errors,
)

#: What the edit form reads of a job (``PREFILL_COLUMNS``: never ``secret_env``), its
#: state, and what ``change_ready_job`` checks of it.
EDIT_COLUMNS = tuple(dict.fromkeys((*PREFILL_COLUMNS, *CHANGE_COLUMNS, "status")))
#: What a READY job's change may set from the form (``schemas.JobUpdate`` but
#: ``requeue_on_host_loss``, which the form does not show).
EDITABLE = ("code", "shell", "args", "env", "stdin", "queue", *NUMBER_FIELDS, "retry")
#: The submit form's fields the edit form has: not the id, dependencies or array.
NOT_EDITABLE = {"id", "array", "depends_on_text", *DEPENDENCY_FIELDS}
EDIT_FIELDS = tuple(name for name in TEXT_FIELDS if name not in NOT_EDITABLE)


def not_ready(job_id: str, status: str) -> APIError:
    """The API's 409 for a change of a job that is not READY.

    Parameters
    ----------
    job_id : str
    status : str
        Its state.

    Returns
    -------
    APIError
    """
    return APIError(409, f"Job {job_id!r} is {status}; only a READY job can change")


def changes_of(job: dict, loaded: dict) -> dict:
    """What the form changes of the job: the loaded fields that differ from it.

    Parameters
    ----------
    job : dict
        The job as stored (``EDIT_COLUMNS``).
    loaded : dict
        The form's body as ``schemas.JobUpdate`` loaded it (``EDITABLE``; a retry
        completed with its defaults, as the job's is stored).

    Returns
    -------
    dict
        Field -> new value; empty when nothing changed. An empty stdin is no
        change of none.
    """
    stored = {name: job[name] for name in EDITABLE}
    stored["stdin"] = stored["stdin"] or ""
    return {name: value for name, value in loaded.items() if value != stored.get(name)}


class JobExecutePage(JobSubmitMixin, JobPageHandler):
    """``POST /ui/jobs/{job_id}/execute``: "Queue it", as ``POST /api/jobs/{id}/execute``;
    its 409 shown on the job's page."""

    # Not the job page's GET: a link here changes nothing.
    SUPPORTED_METHODS = ("POST",)

    async def post(self, job_id: str):
        """Queue the job; to its page (with the refusal's message, for a 409).

        Raises
        ------
        APIError
            404 for no such job, or one the user may not see.
        """
        try:
            self.execute_job(job_id)
        except APIError as exc:
            if exc.status_code != 409:
                raise
            return self.show_job(job_id, message=exc.message, status=409)
        self.redirect(notice_url(job_id, "queued"))


class JobEditPage(JobFormPage):
    """``/ui/jobs/{job_id}/edit``: a READY job in the submit form, saved as ``PATCH
    /api/jobs/{id}`` saves it. Someone else's job (unless an admin) is a 404; a job
    that is not READY a 409."""

    # Signed in: ``prepare`` sent anyone else to the sign-in page.
    current_user: CurrentUser

    def show_edit(
        self, job_id: str, job: dict, form: dict, errors: dict, message: str = "", status=200
    ) -> None:
        """Render the edit form: the job's shell and queue offered even when the
        config no longer has them (the select would otherwise change them silently)."""
        shells = list(self.settings["allowed_shells"])
        queue_names = [q.name for q in queues.configured_queues(self.settings["config"])]
        for values, current in ((shells, job["shell"]), (queue_names, job["queue"])):
            if current and current not in values:
                values.insert(0, current)
        editing = {"id": job_id, "url": job_url(job_id), "array_spec": job["array_spec"]}
        self.show_form(
            form,
            errors,
            message,
            status,
            editing=editing,
            shells=shells,
            queue_names=queue_names,
        )

    async def get(self, job_id: str):
        """The form, filled with the job.

        Raises
        ------
        APIError
            404 for no such job or one the user may not see; 409 when it is not READY.
        """
        job = self.job_row_or_404(job_id, EDIT_COLUMNS)
        if job["status"] != JobStatus.READY:
            raise not_ready(job_id, job["status"])
        # A task's index is its own, not a change (``prefill`` adds it for a rerun).
        form = prefill({**job, "array_id": None})
        self.show_edit(job_id, job, form, {})

    async def post(self, job_id: str):
        """Save the changes; to the job's page, or back to the form with the errors.

        Raises
        ------
        APIError
            404 for no such job (or deleted meanwhile) or one the user may not see.
        """
        job = self.job_row_or_404(job_id, EDIT_COLUMNS)
        form: dict = {name: self.get_argument(name, "", strip=False) for name in EDIT_FIELDS}
        form["retry_on"] = [e for e in self.get_arguments("retry_on") if e]
        try:
            body, errors = self.edit_body(form, job)
            if errors:
                errors = with_shape_errors(body, errors, schemas.JobUpdate(partial=True))
                message = "Please fix the fields marked below."
                return self.show_edit(job_id, job, form, errors, message, 400)
            self._form_body = body
            changes = changes_of(job, self.load_body(schemas.JobUpdate, partial=True))
            self.change_ready_job(job_id, job, changes)
        except APIError as exc:
            if exc.status_code == 404 or exc.status_code >= 500:
                raise
            field_errors = errors_by_field((exc.data or {}).get("errors") or {})
            return self.show_edit(job_id, job, form, field_errors, exc.message, exc.status_code)
        self.redirect(notice_url(job_id, "changed", fields=",".join(sorted(changes))))

    def edit_body(self, form: dict, job: dict) -> tuple[dict, dict]:
        """The ``PATCH`` body of the whole form (what is unchanged is dropped later),
        and the form's own errors.

        As in the submit form, an empty number is the queue's default (priority: 0),
        the default shell is config ``jobs.default_shell``; empty arguments,
        environment, stdin or retry are none. Arguments and environment sent back
        as the form showed them are the job's own (a value holding a newline would
        read back as two lines).

        Parameters
        ----------
        form : dict
            The fields as typed (``EDIT_FIELDS``; ``retry_on``: a list).
        job : dict
            The job as stored (``EDIT_COLUMNS``).

        Returns
        -------
        tuple of (dict, dict)
            The body (``EDITABLE``) and errors by field (``form_to_body``'s).

        Raises
        ------
        APIError
            400 for an unknown queue when an empty number needs its default.
        """
        shown = prefill({**job, "array_id": None})
        unchanged = [
            name for name in ("args", "env") if form[name].replace("\r\n", "\n") == shown[name]
        ]
        body, errors = form_to_body({k: v for k, v in form.items() if k not in unchanged}, False)
        body.pop("execute")
        body.update({name: job[name] for name in unchanged})
        cfg = self.settings["config"]
        body.setdefault("shell", cfg["jobs"]["default_shell"])
        body.setdefault("args", [])
        body.setdefault("env", {})
        body["stdin"] = form.get("stdin", "").replace("\r\n", "\n")
        body.setdefault("retry", None)
        empty = [name for name in NUMBER_FIELDS if name not in body]
        if empty:
            target = queue_or_400(cfg, body.get("queue", job["queue"]))
            defaults = {**target.defaults, "priority": 0}
            body.update({name: defaults[name] for name in empty})
        return body, errors
