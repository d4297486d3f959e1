"""Jobs: create, list, read, execute, and read a job's history."""

import asyncio
import uuid

from baselayer.app.auth import CurrentUser
from baselayer.app.handlers.base import APIError, BaseHandler

from ... import queue, queues, schemas
from ...job_checks import (
    check_exec_limits,
    check_fits_a_host,
    check_job_options,
    queue_or_400,
    workflow_fields,
)
from ...job_states import FINISHED, JobStatus
from ...queue import waiting

#: Fields a job list leaves out unless asked for (``include_output``).
OUTPUT_COLUMNS = ("stdout", "stderr")
#: What a change of a READY job checks of it as stored (``change_ready_job``).
CHANGE_COLUMNS = ("args", "env", "queue", *queues.OPTIONS)


class JobAccessMixin(BaseHandler):
    """Finding jobs the current user may see: their own, or any for an admin.

    Someone else's job answers exactly like a missing one. (No stored id holds
    a NUL, and PostgreSQL refuses one in a query.)
    """

    # Every job route needs a token: ``prepare`` answered 401 without a user.
    current_user: CurrentUser

    def may_see(self, submitter_id: int) -> bool:
        """Whether the current user may see a job of ``submitter_id``.

        Parameters
        ----------
        submitter_id : int
            The job's owner.

        Returns
        -------
        bool
            True for the owner and for an admin.
        """
        return self.current_user.is_admin or submitter_id == self.current_user.id

    def job_row_or_404(self, job_id: str, columns=schemas.JOB_FIELDS) -> dict:
        """The job's ``columns``, read with plain SQL (the hot paths use this).

        Parameters
        ----------
        job_id : str
        columns : sequence of str, optional
            ``jobs`` column names (written in the code); all the API shows by default.

        Returns
        -------
        dict
            Column name -> value (``submitter_id`` only if asked for).

        Raises
        ------
        APIError
            404 when there is no such job or the current user may not see it.
        """
        row = queue.job_row(self.sql, job_id, tuple(columns))
        if row is None or not self.may_see(row["submitter_id"]):
            raise APIError(404, f"No job with id {job_id!r}")
        if "submitter_id" not in columns:
            del row["submitter_id"]
        return row

    def check_still_runnable(self, job_id: str, job: dict) -> None:
        """A stored job (its ``queue``, ``shell`` and options; with ``code``, its
        size too) about to be queued must still fit today's config: its queue
        exists (queued in one that does not, it would wait for ever: no executor
        serves it) and its options are within that queue's maxima and the allowed
        shells.

        Raises
        ------
        APIError
            409 saying what no longer fits (change the job, or run it with changes).
        """
        cfg = self.settings["config"]
        try:
            job_queue = queue_or_400(cfg, job["queue"])
            check_job_options(job, cfg["jobs"], job_queue, self.settings["allowed_shells"])
            check_fits_a_host(self.sql, job_queue, job["memory_mb"], "")
        except APIError as exc:
            reason = exc.message.removeprefix("Invalid request body: ")
            raise APIError(409, f"Job {job_id!r} no longer fits the config: {reason}") from exc

    def job_detail(self, job: dict) -> dict:
        """``job`` (a row of ``schemas.JOB_FIELDS``) with what one job's answer
        adds (``schemas.JobDetail``): its dependencies, an array job's task
        counts and its attempts.

        Parameters
        ----------
        job : dict

        Returns
        -------
        dict
            ``job``, with ``depends_on``, ``array_tasks`` and ``attempts`` added.
        """
        job["depends_on"] = waiting.dependencies_of(self.sql, job["id"])
        job["array_tasks"] = (
            waiting.array_counts(self.sql, job["id"]) if job["array_spec"] is not None else None
        )
        job["attempts"] = attempts_of(self.sql, job)
        return job

    def delete_job(self, job_id: str) -> None:
        """Delete a job the current user may see, unless it is QUEUED or RUNNING
        (``DELETE /api/jobs/{job_id}`` and the dashboard's delete).

        Parameters
        ----------
        job_id : str

        Raises
        ------
        APIError
            404 for no such job or not theirs; 409 for a QUEUED or RUNNING one, or a
            task of an array that has not ended.
        """
        task = self.job_row_or_404(job_id, ("array_id",))
        if task["array_id"] is not None:
            array = queue.job_status(self.sql, task["array_id"])
            if array is not None and array not in FINISHED:
                raise APIError(
                    409,
                    f"Job {job_id!r} is a task of array job {task['array_id']!r}, which has "
                    "not ended: delete the array once it has",
                )
        state = queue.delete_job(self.sql, job_id)
        if state is not None:
            raise APIError(409, f"Job {job_id!r} is {state}; cancel it before deleting it")

    def change_ready_job(self, job_id: str, job: dict, changes: dict) -> dict:
        """Change a READY job the current user may see (``PATCH /api/jobs/{job_id}``
        and the dashboard's edit form): the changes are checked with the stored
        values against the config, then stored only while the job is READY.

        Parameters
        ----------
        job_id : str
        job : dict
            The job as stored, read with ``job_row_or_404`` (at least ``CHANGE_COLUMNS``).
        changes : dict
            As ``schemas.JobUpdate`` loaded them (partial).

        Returns
        -------
        dict
            The changed job's ``schemas.JOB_FIELDS``, as stored.

        Raises
        ------
        APIError
            400 for no changes, or one the config refuses (naming the field: a move
            to another queue checks the job's options against that queue's maxima);
            404 when the job was deleted meanwhile; 409 when it is not READY.
        """
        if not changes:
            raise APIError(400, "Invalid request body: nothing to change")
        if "args" in changes or "env" in changes:
            # The job runs with both: new args with the stored env, or the reverse.
            check_exec_limits(changes.get("args", job["args"]), changes.get("env", job["env"]))
        cfg = self.settings["config"]
        checked = dict(changes)
        if "queue" in changes:
            # Another queue: the job's options must fit its limits too.
            checked = {option: job[option] for option in queues.OPTIONS} | changes
        if checked.keys() & {"queue", *queues.OPTIONS}:
            job_queue = queue_or_400(cfg, checked.get("queue", job["queue"]))
        else:
            job_queue = None
        check_job_options(checked, cfg["jobs"], job_queue, self.settings["allowed_shells"])
        if job_queue is not None:
            memory_mb = checked.get("memory_mb", job["memory_mb"])
            check_fits_a_host(self.sql, job_queue, memory_mb, "Invalid request body: ")
        state, changed = queue.update_ready_job(
            self.sql, job_id, changes, self.current_user.id, schemas.JOB_FIELDS
        )
        if state is None:  # deleted since we read it
            raise APIError(404, f"No job with id {job_id!r}")
        if changed is None:
            raise APIError(409, f"Job {job_id!r} is {state}; only a READY job can change")
        return changed

    def cancel_job(self, job_id: str) -> str:
        """Cancel a job the current user may see (``POST /api/jobs/{job_id}/cancel``
        and the dashboard's cancel).

        Parameters
        ----------
        job_id : str

        Returns
        -------
        str
            Its state after the cancel (CANCELLED, or RUNNING until its executor ends it).

        Raises
        ------
        APIError
            404 for no such job or not theirs; 409 when it has ended already.
        """
        self.job_row_or_404(job_id, ("id",))
        previous = queue.cancel_job(self.sql, job_id, self.current_user.id)
        status = self.job_row_or_404(job_id, ("status",))["status"]
        if previous is None:
            raise APIError(409, f"Job {job_id!r} is {status}; it has ended already")
        return status

    async def rerun_job(self, job_id: str) -> str:
        """Queue a copy of a job the current user may see, as theirs
        (``POST /api/jobs/{job_id}/rerun`` and the dashboard's rerun).

        Parameters
        ----------
        job_id : str

        Returns
        -------
        str
            The new job's id.

        Raises
        ------
        APIError
            404 for no such job or not theirs; 403 for someone else's job with secret
            parameters; 409 when it no longer fits the config.
        """
        job = self.job_row_or_404(job_id, (*RERUN_FIELDS, "submitter_id"))
        if job.pop("submitter_id") != self.current_user.id and job["secret_env"]:
            # A secret would move into another user's job (and their account).
            raise APIError(
                403,
                f"Job {job_id!r} has secret parameters: only its owner may rerun it "
                "(run its definition with your own values)",
            )
        self.check_still_runnable(job_id, job)
        array_id, array_index = job.pop("array_id"), job.pop("array_index")
        if array_id is not None:
            # A task alone, as it ran: its index and array in its environment.
            job["env"] = {
                "SHELL_SERVICE_ARRAY_ID": array_id,
                "SHELL_SERVICE_ARRAY_INDEX": str(array_index),
                "SHELL_SERVICE_ARRAY_SIZE": str(job["array_size"]),
                **job["env"],
            }
            job["array_size"] = None
        job.update(
            queue.waiting_fields([], job["array_spec"] is not None),
            id=f"job_{uuid.uuid4().hex}",
            submitter_id=self.current_user.id,
        )
        detail = f"rerun of {job_id}"
        await self.settings["job_writer"].insert(
            queue.NewJob(job, self.current_user.id, submit=True, detail=detail)
        )
        return job["id"]

    async def job_when_ended(self, job_id: str, wait: float) -> dict:
        """The job once it has ended, or after ``wait`` seconds, whichever is first.

        A READY job is answered at once: it cannot end before someone executes it.
        The wait is on the job's end NOTIFY (``settings["job_waiters"]``), not a poll.

        Parameters
        ----------
        job_id : str
        wait : float
            Most seconds to wait (0: answer at once).

        Returns
        -------
        dict
            The job's fields (``schemas.JOB_FIELDS``), as read after the wait.

        Raises
        ------
        APIError
            404 when there is no such job (or it was deleted during the wait) or the
            current user may not see it.
        """
        with self.settings["job_waiters"].watching(job_id) as ended:
            job = self.job_row_or_404(job_id)
            if job["status"] in FINISHED or job["status"] == JobStatus.READY or not wait:
                return job
            try:
                await asyncio.wait_for(ended.wait(), timeout=wait)
            except TimeoutError:
                pass
        return self.job_row_or_404(job_id)


class JobCreateMixin(JobAccessMixin):
    """Making a job from a ``schemas.JobCreate`` body: ``POST /api/jobs`` and the
    dashboard's submit form (one path, the same checks)."""

    async def create_job(self, body: dict) -> str:
        """Check ``body`` against the config and store the job (queued if ``execute``).

        Parameters
        ----------
        body : dict
            As ``schemas.JobCreate`` loaded it.

        Returns
        -------
        str
            The new job's id.

        Raises
        ------
        APIError
            400 naming the field for an option over its queue's limits, an unknown
            queue or shell, a bad array or dependency (``data.errors`` by field);
            404 for a dependency on another's job; 409 for an id in use.
        """
        jobs_cfg = self.settings["config"]["jobs"]
        job_queue = queue_or_400(self.settings["config"], body.get("queue"))
        check_job_options(body, jobs_cfg, job_queue, self.settings["allowed_shells"])
        memory_mb = body.get("memory_mb", job_queue.defaults["memory_mb"])
        check_fits_a_host(self.sql, job_queue, memory_mb, "Invalid request body: ")
        job_id = body.get("id") or f"job_{uuid.uuid4().hex}"
        workflow, dependencies = workflow_fields(
            self.sql, self.settings["config"], body, job_id, self.may_see
        )
        job = {
            "id": job_id,
            "code": body["code"],
            "shell": body.get("shell", jobs_cfg["default_shell"]),
            "args": body.get("args", []),
            "env": body.get("env", {}),
            "stdin": body.get("stdin"),
            "timeout": body.get("timeout", job_queue.defaults["timeout"]),
            "priority": body.get("priority", 0),
            "cpus": body.get("cpus", job_queue.defaults["cpus"]),
            "memory_mb": body.get("memory_mb", job_queue.defaults["memory_mb"]),
            "queue": job_queue.name,
            "requeue_on_host_loss": body.get("requeue_on_host_loss", False),
            "retry": body.get("retry"),
            "submitter_id": self.current_user.id,
            **workflow,
        }
        new_job = queue.NewJob(
            job, self.current_user.id, submit=body["execute"], dependencies=dependencies
        )
        if not await self.settings["job_writer"].insert(new_job):
            raise APIError(409, f"A job with id {job['id']!r} exists already")
        return job["id"]


class JobHandler(JobCreateMixin, BaseHandler):
    """Jobs as a collection and one by one: ``/api/jobs`` and ``/api/jobs/{job_id}``.

    GET lists (``/api/jobs``) or reads one (waiting with ``wait=N``), POST creates,
    PATCH changes a READY job, DELETE deletes an ended or unexecuted one. Any user
    with a token; a user sees and changes only their own jobs, an admin anyone's
    (someone else's job answers 404, as a missing one does).
    """

    async def get(self, job_id: str | None = None):
        """List jobs, or read one (``job_id``: from the path; None on ``/api/jobs``).

        ---
        single:
          summary: Read one job
          description: |
            The job's state and, once it has ended, its output and return code.
            With `wait=N`, the answer waits up to N seconds for a QUEUED or
            RUNNING job to end and comes as soon as it does: wait for a job
            without polling. A READY job is answered at once (it cannot end
            before it is executed).
          tags: [jobs]
          security: [{token: []}]
          parameters:
            - {in: query, schema: JobReadQuery}
          responses:
            200:
              content: {application/json: {schema: JobEnvelope}}
            400: BadRequest
            401: Unauthorized
            404:
              description: No such job, or not yours
              content: {application/json: {schema: Error}}
        multiple:
          summary: List jobs
          description: |
            Your jobs (for an admin, everyone's), newest first, filtered and paged.
            `data` is the list; beside it, `total` (how many match, counted up to
            10,000; `total_capped` when more do) and `next_cursor` (pass it as
            `cursor` for the next page; null on the last). stdout and stderr are
            null unless `include_output=true`.
          tags: [jobs]
          security: [{token: []}]
          parameters:
            - {in: query, schema: JobListQuery}
          responses:
            200:
              content: {application/json: {schema: JobListEnvelope}}
            400: BadRequest
            401: Unauthorized
        """
        if job_id is not None:
            wait = self.load_query(schemas.JobReadQuery)["wait"]
            return self.success(self.job_detail(await self.job_when_ended(job_id, wait)))
        args = self.load_query(schemas.JobListQuery)
        if not self.current_user.is_admin:
            args.pop("submitter_id", None)  # a user's list is their own jobs anyway
        left_out = () if args["include_output"] else OUTPUT_COLUMNS
        owner_id = None if self.current_user.is_admin else self.current_user.id
        try:
            # The output's keys stay, null (the original service's clients read them).
            data, next_cursor, total, capped = queue.list_page(
                self.sql, args, owner_id, schemas.JOB_FIELDS, left_out
            )
        except queue.BadCursor as exc:
            raise APIError(400, f"Invalid query arguments: cursor: {exc}")
        self.success(data, total=total, total_capped=capped, next_cursor=next_cursor)

    async def post(self, job_id: str | None = None):
        """Create a job, READY or (``execute``) queued; only on ``/api/jobs`` (405 with an id).

        ---
        multiple:
          summary: Create a job
          description: |
            Stores the script as a READY job owned by you. It does not run until
            you execute it (`POST /api/jobs/{job_id}/execute`), or send
            `"execute": true` to create and queue it in one call.
          tags: [jobs]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: JobCreate}}
          responses:
            200:
              content: {application/json: {schema: JobIdEnvelope}}
            400:
              description: Bad JSON, a missing or unknown field, or an invalid name
              content: {application/json: {schema: Error}}
            413:
              description: The script is over jobs.max_script_bytes
              content: {application/json: {schema: Error}}
            401: Unauthorized
            409:
              description: A job with this id exists already
              content: {application/json: {schema: Error}}
        """
        if job_id is not None:
            raise APIError(405, "POST a new job to /api/jobs")
        self.success({"id": await self.create_job(self.load_body(schemas.JobCreate))})

    async def patch(self, job_id: str | None = None):
        """Change a READY job's code and options (``job_id`` required: 405 without).

        ---
        single:
          summary: Change a READY job
          description: Its code and options; once executed a job cannot change (409).
          tags: [jobs]
          security: [{token: []}]
          requestBody:
            required: true
            content: {application/json: {schema: JobUpdate}}
          responses:
            200:
              content: {application/json: {schema: JobEnvelope}}
            400: BadRequest
            401: Unauthorized
            404: NotFound
            409:
              description: The job is not READY
              content: {application/json: {schema: Error}}
        """
        if job_id is None:
            raise APIError(405, "Name the job: PATCH /api/jobs/{job_id}")
        job = self.job_row_or_404(job_id, CHANGE_COLUMNS)
        changes = self.load_body(schemas.JobUpdate, partial=True)
        changed = self.change_ready_job(job_id, job, changes)
        self.success(self.job_detail(schemas.Job().dump(changed)))

    async def delete(self, job_id: str | None = None):
        """Delete a job that is not QUEUED or RUNNING (``job_id`` required: 405 without).

        ---
        single:
          summary: Delete a job
          description: |
            The job, its history and its files (its host's executor removes them
            moments later). Cancel a QUEUED or RUNNING job first. An array job
            is deleted with its tasks; a task only once its array has ended.
          tags: [jobs]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: EmptyEnvelope}}
            401: Unauthorized
            404: NotFound
            409:
              description: The job is QUEUED or RUNNING, or a task of an array that has not ended
              content: {application/json: {schema: Error}}
        """
        if job_id is None:
            raise APIError(405, "Name the job: DELETE /api/jobs/{job_id}")
        self.delete_job(job_id)
        self.success()


class JobSubmitMixin(JobAccessMixin):
    """Queueing a READY job, for the two routes that execute one (and the dashboard's
    "Queue it")."""

    def submit(self, job_id: str):
        """Queue the READY job ``job_id`` (READY -> QUEUED) and answer ``{"id", "status"}``.

        Parameters
        ----------
        job_id : str

        Raises
        ------
        APIError
            404 when there is no such job or it is not the user's; 409 when it is not
            READY (it was executed already), or no longer fits the config
            (``check_still_runnable``).
        """
        self.execute_job(job_id)
        self.success({"id": job_id, "status": "QUEUED"})

    def execute_job(self, job_id: str) -> None:
        """Queue the READY job ``job_id`` (READY -> QUEUED): ``submit``'s action, which
        the dashboard's "Queue it" calls too.

        Parameters
        ----------
        job_id : str

        Raises
        ------
        APIError
            404 when there is no such job or it is not the user's; 409 when it is not
            READY (it was executed already), or no longer fits the config
            (``check_still_runnable``).
        """
        # The script is checked when stored: what can have changed since is config.
        job = self.job_row_or_404(job_id, ("queue", "shell", *queues.OPTIONS))
        self.check_still_runnable(job_id, job)
        if not queue.submit_job(self.sql, job_id, self.current_user.id):
            status = self.job_row_or_404(job_id, ("status",))["status"]
            raise APIError(409, f"Job {job_id!r} is {status}; only a READY job can be executed")


class JobExecuteHandler(JobSubmitMixin, BaseHandler):
    """``POST /api/jobs/{job_id}/execute``: queue a READY job.

    Its owner (or an admin) with a token.
    """

    async def post(self, job_id: str):
        """Queue the job ``job_id`` (from the path).

        ---
        summary: Execute a job
        description: |
          Queues a READY job. It starts as soon as the host has capacity; the call
          returns at once. Poll `GET /api/jobs/{job_id}` for its state.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobStateEnvelope}}
          401: Unauthorized
          404: NotFound
          409:
            description: The job is not READY (it was executed already)
            content: {application/json: {schema: Error}}
        """
        self.submit(job_id)


class LegacyExecuteHandler(JobSubmitMixin, BaseHandler):
    """``GET /api/execute/{job_id}``: the original service's call, kept for its clients.

    The same as ``POST /api/jobs/{job_id}/execute``; its owner (or an admin) with a token.
    """

    async def get(self, job_id: str):
        """Queue the job ``job_id`` (from the path).

        ---
        summary: Execute a job (the original service's call)
        description: The same as `POST /api/jobs/{job_id}/execute`, kept for old clients.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobStateEnvelope}}
          401: Unauthorized
          404: NotFound
          409: Conflict
        """
        self.submit(job_id)


class JobCancelHandler(JobAccessMixin, BaseHandler):
    """``POST /api/jobs/{job_id}/cancel``: cancel a job that has not ended.

    Its owner (or an admin) with a token. A RUNNING job's cancel is recorded here;
    its executor ends its processes (this process signals nothing).
    """

    async def post(self, job_id: str):
        """Cancel the job ``job_id`` (from the path); answers its state after the cancel.

        ---
        summary: Cancel a job
        description: |
          A READY or QUEUED job becomes CANCELLED at once. For a RUNNING job the
          cancel is recorded (`cancel_requested_at`) and the answer comes at once;
          its executor then ends every process of it (TERM, then KILL after
          `jobs.kill_grace` seconds) and records it CANCELLED together with its
          return code and output. Read it with `wait=N` to see that final record.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobStateEnvelope}}
          401: Unauthorized
          404: NotFound
          409:
            description: The job has ended already
            content: {application/json: {schema: Error}}
        """
        self.success({"id": job_id, "status": self.cancel_job(job_id)})


class JobRerunHandler(JobAccessMixin, BaseHandler):
    """``POST /api/jobs/{job_id}/rerun``: a new job with the same code and options, queued.

    Whoever may see the original (its owner, or an admin); the new job is the caller's.
    """

    async def post(self, job_id: str):
        """Queue a copy of the job ``job_id`` (from the path); answers the new job's id.

        ---
        summary: Run a job again
        description: |
          A new job with the same code and options, queued at once; the original
          is untouched. Answers the new job's id. A run of a definition with
          secret parameters is rerun only by its owner: the secrets are theirs.
          Dependencies are not copied (the rerun starts when there is room). An
          array job's rerun is a new array of the same indexes; a task's is a
          job of its own, with its array index, id and size in its environment.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobIdEnvelope}}
          401: Unauthorized
          403:
            description: Someone else's job with secret parameters
            content: {application/json: {schema: Error}}
          404: NotFound
          409:
            description: The job no longer fits the config
            content: {application/json: {schema: Error}}
        """
        self.success({"id": await self.rerun_job(job_id)})


def attempts_of(sql, job: dict) -> list[dict]:
    """A job's attempts as its answer lists them (``schemas.JobAttempt``): the
    ended ones (``queue.job_attempts``), then the current one, from the job's
    columns, once it has started or ended (a job waiting to start, its first
    time or after a retry, has no current attempt to show).

    Parameters
    ----------
    sql : PlainSQL
    job : dict
        Its ``id``, ``attempt``, ``status``, ``status_message``, ``return_code``,
        ``host``, ``started_at``, ``finished_at`` (dates as dumped or naive UTC),
        ``stdout_truncated``, ``stderr_truncated``.

    Returns
    -------
    list of dict
    """
    attempts = queue.job_attempts(sql, job["id"]) if job["attempt"] > 1 else []
    attempts = [schemas.JobAttempt().dump(attempt) for attempt in attempts]
    if job["status"] not in (JobStatus.READY, JobStatus.QUEUED) or job["started_at"]:
        current = {key: job[key] for key in schemas.JobAttempt._declared_fields if key != "number"}
        attempts.append({"number": job["attempt"], **current})
    return attempts


#: What a rerun copies from the original job.
RERUN_FIELDS = (
    "code", "shell", "args", "env", "stdin", "timeout", "priority", "cpus", "memory_mb", "queue",
    "requeue_on_host_loss", "retry", "definition_id", "definition_name", "definition_version",
    "parameters", "secret_env", "array_spec", "array_size", "array_max_running",
    "array_indexes", "array_id", "array_index",
)  # fmt: skip


class JobEventsHandler(JobAccessMixin, BaseHandler):
    """``GET /api/jobs/{job_id}/events``: a job's history, oldest first.

    Its owner (or an admin) with a token.
    """

    async def get(self, job_id: str):
        """The events of the job ``job_id`` (from the path).

        ---
        summary: A job's history
        description: Every state change of the job, oldest first, with who caused it.
        tags: [jobs]
        security: [{token: []}]
        responses:
          200:
            content: {application/json: {schema: JobEventListEnvelope}}
          401: Unauthorized
          404: NotFound
        """
        self.job_row_or_404(job_id, ("id",))
        events = queue.job_events(self.sql, job_id)
        self.success(schemas.JobEvent(many=True).dump(events))
