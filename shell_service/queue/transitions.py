"""The statements that move a job between states (``job_states.TRANSITIONS``),
apart from the claim (``claim.py``), a cancel (``cancel.py``) and a lost host's
requeue (``hosts.py``): create, submit, finish. Each is one
plain statement that changes the job, writes its event and sends its NOTIFY."""

import datetime
from dataclasses import dataclass, field

import orjson

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import FINISHED, JobStatus, may_become
from . import waiting
from .channels import ENDED_CHANNEL, QUEUED_CHANNEL

#: The CTEs that store new jobs with their events, from the arrays of
#: ``new_job_params``: ``new`` (the jobs), ``job`` (the ids stored) and ``events``.
#: ``{only}`` narrows ``new``: empty for ``insert_jobs``; a schedule's fire keeps
#: the jobs of the ticks it recorded (``queue/schedules.py``). One text, so the
#: two statements that make jobs cannot drift apart.
NEW_JOB_CTES = """
    new AS (
        SELECT * FROM unnest(
            %(id)s::text[], %(code)s::text[], %(shell)s::text[], %(args)s::text[],
            %(env)s::text[], %(stdin)s::text[], %(timeout)s::int[], %(priority)s::int[],
            %(cpus)s::int[], %(memory_mb)s::int[], %(queue)s::text[],
            %(requeue_on_host_loss)s::boolean[], %(submitter_id)s::int[],
            %(submit)s::boolean[], %(actor_id)s::int[], %(detail)s::text[],
            %(created_at)s::timestamp[], %(definition_id)s::int[],
            %(definition_name)s::text[], %(definition_version)s::int[],
            %(parameters)s::text[], %(secret_env)s::text[], %(schedule_id)s::int[],
            %(scheduled_for)s::timestamp[], %(waiting_for)s::text[],
            %(status_message)s::text[], %(array_spec)s::text[], %(array_size)s::int[],
            %(array_max_running)s::int[], %(array_indexes)s::text[], %(retry)s::text[]
        ) AS new(id, code, shell, args, env, stdin, timeout, priority, cpus, memory_mb,
                 queue, requeue_on_host_loss, submitter_id, submit, actor_id, detail,
                 created_at, definition_id, definition_name, definition_version,
                 parameters, secret_env, schedule_id, scheduled_for, waiting_for,
                 status_message, array_spec, array_size, array_max_running, array_indexes,
                 retry)
        {only}
    ),
    job AS (
        INSERT INTO jobs (id, code, shell, args, env, stdin, timeout, priority, cpus,
                          memory_mb, queue, requeue_on_host_loss, status, queued_at,
                          submitter_id, created_at, modified, definition_id,
                          definition_name, definition_version, parameters, secret_env,
                          schedule_id, scheduled_for, waiting_for, status_message,
                          array_spec, array_size, array_max_running, array_indexes,
                          array_made, retry)
        SELECT id, code, shell, args::jsonb, env::jsonb, stdin, timeout, priority, cpus,
               memory_mb, queue, requeue_on_host_loss,
               CASE WHEN submit THEN 'QUEUED' ELSE 'READY' END,
               CASE WHEN submit THEN created_at END,
               submitter_id, created_at, created_at, definition_id, definition_name,
               definition_version, parameters::jsonb, secret_env::jsonb, schedule_id,
               scheduled_for,
               -- A READY job waits from its submit on (``submit_job``).
               CASE WHEN submit THEN waiting_for END,
               CASE WHEN submit THEN status_message END,
               array_spec, array_size, array_max_running, array_indexes::int[],
               CASE WHEN array_spec IS NOT NULL THEN 0 END, retry::jsonb
        FROM new
        ON CONFLICT (id) DO NOTHING
        RETURNING id
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT new.id, e.from_status, e.to_status, new.actor_id,
               CASE WHEN e.n = 1 THEN new.detail ELSE 'submitted' END,
               new.created_at, new.created_at
        FROM job JOIN new USING (id),
             (VALUES (1, NULL, 'READY'), (2, 'READY', 'QUEUED')) AS e(n, from_status, to_status)
        WHERE e.n = 1 OR new.submit
        ORDER BY new.created_at, new.id, e.n
    )
"""

# The dependencies go only to the jobs this statement stored (``job``): never to
# a job that held the id already.
_INSERT_JOBS = Statement(
    "WITH "
    + NEW_JOB_CTES.replace("{only}", "")
    + """,
    dependencies AS (
        INSERT INTO job_dependencies (job_id, depends_on, depends_on_number, condition,
                                      created_at, modified)
        SELECT d.job_id, d.depends_on, d.number, d.condition, new.created_at, new.created_at
        FROM unnest(%(dependency_job)s::text[], %(dependency_on)s::text[],
                    %(dependency_number)s::bigint[], %(dependency_condition)s::text[])
             AS d(job_id, depends_on, number, condition)
        JOIN job ON job.id = d.job_id JOIN new ON new.id = d.job_id
    )
    SELECT job.id FROM job
    LEFT JOIN LATERAL (SELECT pg_notify(%(channel)s, '') WHERE %(any_submit)s) AS woken ON true
    """
)

#: The fields a new job is made from (``insert_jobs``).
NEW_JOB_FIELDS = (
    "id", "code", "shell", "args", "env", "stdin", "timeout", "priority", "cpus", "memory_mb",
    "queue", "requeue_on_host_loss", "submitter_id",
)  # fmt: skip

#: What a job run from a definition (or fired by a schedule) also records; None
#: when left out. ``parameters`` and ``secret_env`` are dicts (JSON).
RUN_FIELDS = (
    "definition_id", "definition_name", "definition_version", "parameters", "secret_env",
    "schedule_id", "scheduled_for",
)  # fmt: skip
_RUN_JSON_FIELDS = ("parameters", "secret_env")

#: What a job that waits (dependencies) or an array job also records; None when
#: left out. ``waiting_for`` and ``status_message`` apply once it is submitted;
#: ``array_indexes`` is a list of int.
WAITING_FIELDS = (
    "waiting_for", "status_message", "array_spec", "array_size", "array_max_running",
    "array_indexes",
)  # fmt: skip


@dataclass
class NewJob:
    """A job to store (``insert_jobs``).

    Attributes
    ----------
    fields : dict
        Every ``NEW_JOB_FIELDS`` name -> its value (``timeout`` in seconds,
        ``memory_mb`` in MiB; ``args`` a list, ``env`` a dict), and any of
        ``RUN_FIELDS``, ``WAITING_FIELDS`` and ``retry`` (a dict, as
        ``retries.parse_retry`` returns it; the others are stored null).
    actor_id : int
        The user who made it (recorded in its events).
    submit : bool
        Queue it at once (QUEUED) rather than leave it READY.
    detail : str
        The detail of its first event.
    created_at : datetime.datetime
        Naive UTC.
    dependencies : list of Dependency
        The jobs it waits for (``dependencies.py``); with any,
        ``fields["waiting_for"]`` should be "dependencies".
    """

    fields: dict
    actor_id: int
    submit: bool = False
    detail: str = "created"
    created_at: datetime.datetime = field(default_factory=utcnow)
    dependencies: list["Dependency"] = field(default_factory=list)


@dataclass(frozen=True)
class Dependency:
    """One job a new job waits for.

    Attributes
    ----------
    job_id : str
    number : int
        That job's ``jobs.number``: the job it was when named (a job deleted and
        its id taken again is another).
    condition : str
        ``afterok``, ``afternotok`` or ``afterany``.
    """

    job_id: str
    number: int
    condition: str


def waiting_fields(dependencies: list[Dependency], array: bool) -> dict[str, str | None]:
    """How a new job waits once it is queued: for its dependencies (the status
    message names them: "waiting for job A (afterok), job B (afterany)"), else,
    an array job, for its tasks; else not at all.

    Parameters
    ----------
    dependencies : list of Dependency
    array : bool
        Whether it is an array job.

    Returns
    -------
    dict
        ``waiting_for`` and ``status_message`` (None when it does not wait).
    """
    if dependencies:
        named = ", ".join(
            f"job {d.job_id} ({d.condition})" for d in sorted(dependencies, key=lambda d: d.job_id)
        )
        return {"waiting_for": "dependencies", "status_message": f"waiting for {named}"}
    return {"waiting_for": "tasks" if array else None, "status_message": None}


def insert_jobs(sql: PlainSQL, jobs: list[NewJob]) -> set[str]:
    """Store new jobs, READY or (``submit``) QUEUED with the claimers woken, in one
    statement, each with its events (created; submitted).

    Parameters
    ----------
    sql : PlainSQL
    jobs : list of NewJob
        Ids must differ within a call; ``fields`` hold every ``NEW_JOB_FIELDS``.

    Returns
    -------
    set of str
        The ids stored: an id that is taken already is left out (nothing stored).
    """
    params = new_job_params(jobs)
    params.update(any_submit=any(job.submit for job in jobs), channel=QUEUED_CHANNEL)
    named = [(job.fields["id"], dependency) for job in jobs for dependency in job.dependencies]
    params.update(
        dependency_job=[job_id for job_id, _ in named],
        dependency_on=[dependency.job_id for _, dependency in named],
        dependency_number=[dependency.number for _, dependency in named],
        dependency_condition=[dependency.condition for _, dependency in named],
    )
    return {row[0] for row in sql.tuples(_INSERT_JOBS, params)}


def new_job_params(jobs: list[NewJob]) -> dict[str, object]:
    """``jobs`` as the arrays ``_INSERT_JOBS`` unnests (a schedule's fire, which
    inserts its jobs in its own statement, unnests the same ones).

    Parameters
    ----------
    jobs : list of NewJob

    Returns
    -------
    dict
        Each ``NEW_JOB_FIELDS``, ``RUN_FIELDS`` and ``WAITING_FIELDS`` name,
        ``retry``, ``submit``, ``actor_id``, ``detail`` and ``created_at`` -> a list
        with one item per job (JSON text for ``args``, ``env``, ``parameters``,
        ``secret_env`` and ``retry``).
    """
    params: dict[str, object] = {
        name: [job.fields[name] for job in jobs] for name in NEW_JOB_FIELDS
    }
    params.update(
        # As JSON text (an array of json values cannot be a statement parameter).
        args=[orjson.dumps(job.fields["args"]).decode() for job in jobs],
        env=[orjson.dumps(job.fields["env"]).decode() for job in jobs],
        submit=[job.submit for job in jobs],
        actor_id=[job.actor_id for job in jobs],
        detail=[job.detail for job in jobs],
        created_at=[job.created_at for job in jobs],
        **{
            name: [job.fields.get(name) for job in jobs]
            for name in RUN_FIELDS
            if name not in _RUN_JSON_FIELDS
        },
        **{
            name: [_json_or_none(job.fields.get(name)) for job in jobs] for name in _RUN_JSON_FIELDS
        },
        **{
            name: [job.fields.get(name) for job in jobs]
            for name in WAITING_FIELDS
            if name != "array_indexes"
        },
        # As PostgreSQL's array text ("{0,1,2}"): one int[] per job.
        array_indexes=[_int_array_or_none(job.fields.get("array_indexes")) for job in jobs],
        retry=[_json_or_none(job.fields.get("retry")) for job in jobs],
    )
    return params


def _json_or_none(value) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _int_array_or_none(value: list[int] | None) -> str | None:
    return None if value is None else "{" + ",".join(map(str, value)) + "}"


_SUBMIT_JOB = Statement(
    """
    WITH old AS (
        SELECT id, status, array_spec,
               (SELECT string_agg('job ' || depends_on || ' (' || condition || ')', ', '
                                  ORDER BY depends_on)
                FROM job_dependencies WHERE job_id = jobs.id) AS dependencies
        FROM jobs WHERE id = %(id)s AND status = ANY(%(from)s::text[]) FOR UPDATE
    ),
    -- It waits, as ``waiting_fields`` says of a job queued at its create.
    submitted AS (
        UPDATE jobs SET status = 'QUEUED', queued_at = %(now)s, modified = %(now)s,
                        waiting_for = CASE WHEN old.dependencies IS NOT NULL THEN 'dependencies'
                                           WHEN old.array_spec IS NOT NULL THEN 'tasks' END,
                        status_message = 'waiting for ' || old.dependencies
        FROM old WHERE jobs.id = old.id AND jobs.status = ANY(%(from)s::text[])
        RETURNING jobs.id, old.status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT id, status, 'QUEUED', %(actor_id)s, 'submitted', %(now)s, %(now)s
        FROM submitted
    )
    SELECT submitted.id FROM submitted
    CROSS JOIN LATERAL (SELECT pg_notify(%(channel)s, '')) AS woken
    """
)


def submit_job(sql: PlainSQL, job_id: str, actor_id: int) -> bool:
    """Queue a job (READY -> QUEUED: ``may_become(QUEUED)``) and wake the claimers.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    actor_id : int
        The user who executes it (recorded in the event).

    Returns
    -------
    bool
        True if it was queued; False if there is no such job or its state may
        not move to QUEUED (checked under a row lock; nothing is changed).
    """
    params = {
        "id": job_id,
        "now": utcnow(),
        "actor_id": actor_id,
        "channel": QUEUED_CHANNEL,
        # READY only: a RUNNING job goes back to QUEUED when its host is lost
        # (``requeue_lost_job``), never by an execute.
        "from": [s for s in may_become(JobStatus.QUEUED) if s == JobStatus.READY],
    }
    return sql.value(_SUBMIT_JOB, params) is not None


@dataclass(frozen=True)
class JobOutput:
    """A job's final record, as ``finish_job`` stores it.

    Attributes
    ----------
    return_code : int or None
        The script's exit code; None if it never ran or was lost.
    stdout, stderr : str or None
        Its output as text.
    stdout_truncated, stderr_truncated : bool
        Whether that stream passed ``jobs.max_log_bytes`` (the rest was dropped).
    """

    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False


#: The CTEs that, in the statement that ends jobs (``ended``: id, number, status),
#: settle the dependencies on them and release the jobs that waited only for
#: them: a chain's next job is claimable when its predecessor's end commits,
#: with no round trip through the waiting-jobs service. What this cannot see
#: (two dependencies ending at once, each statement blind to the other's end;
#: a dependency that can no longer hold) that service's pass does
#: (``queue/waiting.py``), with the same rules.
DEPENDENTS_CTES = """,
    settled AS (
        UPDATE job_dependencies d
        SET satisfied = {condition_holds},
            modified = %(now)s
        FROM ended
        WHERE d.depends_on_number = ended.number AND d.satisfied IS NULL
          AND ended.status = ANY(%(finished)s::text[])
        RETURNING d.job_id, d.depends_on, d.satisfied
    ),
    released AS (
        UPDATE jobs SET {released}
        FROM settled
        WHERE jobs.id = settled.job_id AND settled.satisfied
          AND jobs.status = 'QUEUED' AND jobs.waiting_for = 'dependencies'
          -- Its other dependencies (this statement's settled rows are not
          -- visible to it: those it left out by their job).
          AND NOT EXISTS (SELECT 1 FROM job_dependencies other
                          WHERE other.job_id = jobs.id AND other.satisfied IS NOT TRUE
                            AND other.depends_on_number NOT IN (SELECT number FROM ended))
        RETURNING jobs.id, jobs.waiting_for
    ),
    released_events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, 'QUEUED', 'QUEUED', 'dependencies satisfied', %(now)s, %(now)s FROM released
    ),
    dependents_woken AS (
        SELECT pg_notify(%(queued_channel)s, '')
        WHERE EXISTS (SELECT 1 FROM released WHERE waiting_for IS NULL)
        UNION ALL
        -- An array job released: the waiting-jobs service makes its tasks.
        SELECT pg_notify(%(queued_channel)s, 'tasks')
        WHERE EXISTS (SELECT 1 FROM released WHERE waiting_for = 'tasks')
    )
""".replace("{condition_holds}", waiting.CONDITION_HOLDS.format(status="ended.status")).replace(
    "{released}", waiting.RELEASED
)

# A job whose cancel was asked for ends CANCELLED unless it completed first;
# either way with its final record, in the one statement that ends it. An
# attempt that ran and ended as its retry strategy asks (``retries.py``), with
# attempts left and no cancel asked for, is recorded in ``job_attempts`` and the
# job goes back to QUEUED as its next attempt: at once, or waiting out its
# back-off (``waiting_for`` backoff until ``eligible_at``: the waiting-jobs
# service releases it).
_FINISH_JOB = Statement(
    """
    WITH target AS (
        SELECT id, status AS from_status, attempt, host, started_at,
               (retry->>'attempts')::int AS attempts,
               CASE WHEN cancel_requested_at IS NOT NULL AND %(status)s <> 'COMPLETE'
                    THEN 'CANCELLED' ELSE %(status)s END AS status,
               coalesce(status = 'RUNNING' AND cancel_requested_at IS NULL
                        AND %(status)s <> 'COMPLETE'
                        AND attempt < (retry->>'attempts')::int
                        AND retry->'on' ? %(ending)s
                        AND (%(ending)s <> 'FAILED'
                             OR jsonb_typeof(retry->'exit_codes') IS DISTINCT FROM 'array'
                             OR retry->'exit_codes' @> to_jsonb(%(return_code)s::int)),
                        false) AS retried,
               %(now)s::timestamp + make_interval(secs => least(
                   (retry->'backoff'->>'max')::float8,
                   (retry->'backoff'->>'initial')::float8
                   * power((retry->'backoff'->>'factor')::float8, attempt - 1))) AS eligible_at
        FROM jobs WHERE id = %(id)s AND status = ANY(%(from)s::text[])
          AND (%(executor)s::text IS NULL OR executor = %(executor)s::text)
          -- A QUEUED job ends here only when an executor holds it (Slurm's).
          AND (status <> 'QUEUED' OR executor IS NOT NULL)
        FOR UPDATE
    ),
    ended AS (
        UPDATE jobs SET status = CASE WHEN target.retried THEN 'QUEUED' ELSE target.status END,
                        status_message = CASE
                            WHEN target.retried AND target.eligible_at > %(now)s
                            THEN 'retry: attempt ' || target.attempt + 1 || ' of '
                                 || target.attempts || ' at '
                                 || to_char(target.eligible_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                            WHEN target.retried THEN NULL
                            WHEN target.status = 'CANCELLED' AND %(status)s <> 'CANCELLED'
                            THEN 'cancelled by a user' || coalesce('; ' || %(message)s, '')
                            ELSE %(message)s END,
                        modified = %(now)s,
                        finished_at = CASE WHEN target.retried THEN NULL ELSE %(now)s END,
                        return_code = CASE WHEN target.retried THEN NULL ELSE %(return_code)s END,
                        stdout = CASE WHEN target.retried THEN NULL ELSE %(stdout)s END,
                        stderr = CASE WHEN target.retried THEN NULL ELSE %(stderr)s END,
                        stdout_truncated = NOT target.retried AND %(stdout_truncated)s,
                        stderr_truncated = NOT target.retried AND %(stderr_truncated)s,
                        -- The next attempt: claimed afresh, anywhere, handed to Slurm again.
                        attempt = jobs.attempt + CASE WHEN target.retried THEN 1 ELSE 0 END,
                        queued_at = CASE WHEN target.retried THEN %(now)s ELSE jobs.queued_at END,
                        started_at = CASE WHEN target.retried THEN NULL ELSE jobs.started_at END,
                        executor = CASE WHEN target.retried THEN NULL ELSE jobs.executor END,
                        host = CASE WHEN target.retried THEN NULL ELSE jobs.host END,
                        slurm_job_id = CASE WHEN target.retried THEN NULL
                                            ELSE jobs.slurm_job_id END,
                        slurm_node = CASE WHEN target.retried THEN NULL ELSE jobs.slurm_node END,
                        waiting_for = CASE WHEN target.retried AND target.eligible_at > %(now)s
                                           THEN 'backoff' ELSE jobs.waiting_for END,
                        eligible_at = CASE WHEN target.retried AND target.eligible_at > %(now)s
                                           THEN target.eligible_at ELSE jobs.eligible_at END
        FROM target WHERE jobs.id = target.id
        RETURNING jobs.id, jobs.number, target.from_status, jobs.status, target.retried,
                  target.attempt, target.attempts, target.host, target.started_at,
                  target.eligible_at
    ),
    attempt_ended AS (
        INSERT INTO job_attempts (job_id, number, status, status_message, return_code, host,
                                  started_at, finished_at, stdout, stderr, stdout_truncated,
                                  stderr_truncated)
        SELECT id, attempt, %(status)s, %(message)s, %(return_code)s, host, started_at,
               %(now)s, %(stdout)s, %(stderr)s, %(stdout_truncated)s, %(stderr_truncated)s
        FROM ended WHERE retried
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, from_status, status,
               CASE WHEN retried
                    THEN 'attempt ' || attempt || ' ended ' || %(status)s
                         || coalesce(' (' || %(detail)s || ')', '') || '; attempt '
                         || attempt + 1 || ' of ' || attempts
                         || CASE WHEN eligible_at > %(now)s
                                 THEN ' at ' || to_char(eligible_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                                 ELSE ' now' END
                    ELSE %(detail)s END,
               %(now)s, %(now)s
        FROM ended
    ),
    woken AS (SELECT pg_notify(%(ended_channel)s, id) FROM ended WHERE NOT retried),
    -- A retry is a job queued: the claimers (at once) or the waiting-jobs service
    -- (its back-off's end) take it from here.
    retry_woken AS (
        SELECT pg_notify(%(queued_channel)s, '') WHERE EXISTS (SELECT 1 FROM ended WHERE retried)
    )
    """
    + DEPENDENTS_CTES
    + """
    SELECT (SELECT count(*) FROM ended), (SELECT count(*) FROM woken),
           (SELECT count(*) FROM retry_woken), (SELECT count(*) FROM dependents_woken)
    """
)


def finish_job(
    sql: PlainSQL,
    job_id: str,
    status: JobStatus,
    output: JobOutput | None = None,
    message: str | None = None,
    executor: str | None = None,
    host_lost: bool = False,
) -> bool:
    """RUNNING (or QUEUED, held by a Slurm executor) -> a final state, with the
    job's final record (return code, output, finished_at): one statement, so no
    reader ever sees the one without the other. Called only once every process
    of the job has ended (or its host is lost).

    A job whose cancel was asked for (``cancel_requested_at``) ends CANCELLED
    unless it completed first. Sends ``ENDED_CHANNEL`` (waiters answer). The
    jobs that waited only for it are released in the same statement
    (``DEPENDENTS_CTES``).

    A RUNNING job whose ending its ``retry`` strategy names (``retries.py``:
    ``status``, or ``HOST_LOST`` with ``host_lost``; a FAILED one's exit code in
    ``exit_codes``), with attempts left and no cancel asked for, is retried
    instead: this attempt is stored in ``job_attempts`` (its output too), and the
    job is QUEUED as its next attempt (``attempt`` + 1; its start, executor,
    host, output and Slurm ids cleared), claimable at once or waiting out its
    back-off (``waiting_for`` backoff, ``eligible_at``, a status message saying
    until when), with an event saying why; ``QUEUED_CHANNEL`` is sent, not
    ``ENDED_CHANNEL``.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    status : JobStatus
        How it ended: one of ``FINISHED``.
    output : JobOutput, optional
        Its return code and output (none: all null).
    message : str, optional
        Why (``status_message``, and the event's detail).
    executor : str, optional
        Only if it is still this executor's ("host:pid"): a job taken from an
        executor whose host was judged lost may run elsewhere by now.
    host_lost : bool, optional
        It ends (SERVER_ERROR) because its host or Slurm node was lost: a
        strategy's ``HOST_LOST`` retries it, not ``SERVER_ERROR``.

    Returns
    -------
    bool
        Whether this call ended the job (or this attempt of it, retried). False,
        changing nothing, if its state
        may not move to ``status`` or to CANCELLED (``may_become`` of both: the
        cancel may turn the one into the other), e.g. it ended already.

    Raises
    ------
    ValueError
        ``status`` is not a final state.
    """
    if status not in FINISHED:
        raise ValueError(f"{status!r} is not a final state")
    allowed = set(may_become(JobStatus(status)))
    # QUEUED -> COMPLETE | FAILED is an array job's end, by its tasks
    # (queue/waiting.py): a QUEUED job held by an executor only fails to start.
    allowed -= (
        {JobStatus.QUEUED.value} if status in (JobStatus.COMPLETE, JobStatus.FAILED) else set()
    )
    if status != JobStatus.COMPLETE:
        allowed &= set(may_become(JobStatus.CANCELLED))
    output = output or JobOutput()
    detail = message or (
        f"exit code {output.return_code}" if output.return_code is not None else None
    )
    params = {
        "id": job_id,
        "status": status.value,
        "message": message,
        "detail": detail,
        "now": utcnow(),
        "return_code": output.return_code,
        "stdout": output.stdout,
        "stderr": output.stderr,
        "stdout_truncated": output.stdout_truncated,
        "stderr_truncated": output.stderr_truncated,
        "ended_channel": ENDED_CHANNEL,
        "queued_channel": QUEUED_CHANNEL,
        "finished": sorted(s.value for s in FINISHED),
        "from": sorted(allowed),
        "executor": executor,
        "ending": "HOST_LOST" if host_lost else status.value,
    }
    return sql.value(_FINISH_JOB, params) == 1
