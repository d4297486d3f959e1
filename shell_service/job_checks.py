"""The limits a job must fit before it is stored or queued, from config and from what
the live executors publish: its queue, its options against the queue's maxima and
the shells installed, its memory against the hosts (or Slurm nodes) that serve the
queue, and execve(2)'s limits on its args and env. The API's handlers and the
scheduler (a schedule's fire) check a job with the same functions; each raises
``APIError`` with the 4xx the API answers (the scheduler records its message).
"""

import datetime
import time

from marshmallow import ValidationError

from baselayer.app.handlers.base import APIError

from . import queue, queues, retries, schemas


def queue_or_400(cfg, name: str | None) -> queues.Queue:
    """The queue called ``name`` (None: the default queue, the first configured).

    Parameters
    ----------
    cfg : Config
    name : str or None

    Returns
    -------
    queues.Queue

    Raises
    ------
    APIError
        400 naming the field and listing the queues, when none is called ``name``.
    """
    found = queues.queue_named(cfg, name)
    if found is None:
        names = ", ".join(q.name for q in queues.configured_queues(cfg))
        error = f"no queue is called {name!r}; the queues are: {names}"
        raise APIError(400, f"Invalid request body: queue: {error}", {"errors": {"queue": [error]}})
    return found


def check_job_options(
    body: dict, jobs_cfg: dict, job_queue: queues.Queue | None, allowed_shells: list[str]
) -> None:
    """The limits that come from config (the schema checks the rest): the script's
    size, the shell, ``timeout``, ``cpus``, ``memory_mb`` against ``job_queue``'s
    maxima (not checked when ``job_queue`` is None: none of them is in ``body``),
    and a ``retry``'s attempts against ``jobs.max_attempts``.

    Parameters
    ----------
    body : dict
        The validated request body (or a PATCH's changes, or a stored job's
        fields): only the fields present are checked.
    jobs_cfg : dict
        The config's ``jobs`` section (``max_script_bytes``, ``max_attempts``).
    job_queue : queues.Queue or None
        The queue whose maxima bound ``timeout`` (seconds), ``cpus`` and
        ``memory_mb`` (MiB).
    allowed_shells : list of str
        The interpreters installed here (``shells.available_shells``).

    Raises
    ------
    APIError
        413 for a script over ``jobs.max_script_bytes``; 400 naming each field over
        its limit and the limit.
    """
    max_script = int(jobs_cfg["max_script_bytes"])
    if len(body.get("code", "").encode()) > max_script:
        raise APIError(
            413, f"code: the script is over {max_script} bytes (config jobs.max_script_bytes)"
        )
    errors = {}
    if "shell" in body and body["shell"] not in allowed_shells:
        errors["shell"] = [f"must be one of: {', '.join(allowed_shells)}"]
    if job_queue is not None:
        for option, maximum in job_queue.maxima.items():
            if body.get(option, 0) > maximum:
                errors[option] = [f"must be at most {maximum} (queue {job_queue.name}'s maximum)"]
    settings = retries.RetrySettings(max_attempts=int(jobs_cfg.get("max_attempts", 10)))
    retry_problem = retries.check_attempts(body.get("retry"), settings)
    if retry_problem is not None:
        errors["retry"] = [retry_problem]
    if errors:
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        raise APIError(400, f"Invalid request body: {message}", {"errors": errors})


#: Seconds an app worker keeps what the live executors published (their hosts'
#: memory budgets, the Slurm partitions' largest nodes): a job's create must not
#: cost a statement more.
HOST_BUDGETS_TTL = 5.0
_published: dict = {"at": -HOST_BUDGETS_TTL, "executors": []}


def live_published(sql) -> list[tuple[str, dict]]:
    """(executor id, what it publishes) of the live executors, as read at most
    HOST_BUDGETS_TTL seconds ago."""
    now = time.monotonic()
    if now - _published["at"] > HOST_BUDGETS_TTL:
        within = datetime.timedelta(seconds=3 * queue.HEARTBEAT_INTERVAL)
        executors = [(e["id"], e.get("published") or {}) for e in queue.live_executors(sql, within)]
        _published.update(at=now, executors=executors)
    return _published["executors"]


def live_host_budgets(sql) -> dict[str, int]:
    """Host name -> the memory budget (MiB) its live executor publishes."""
    budgets: dict[str, int] = {}
    for executor_id, published in live_published(sql):
        if published.get("kind") == "slurm":
            continue  # it runs nothing on a host of its own: Slurm's nodes do
        host = published.get("host") or executor_id.rpartition(":")[0]
        budgets[host] = max(budgets.get(host, 0), int(published.get("memory_budget_mb", 0)))
    return budgets


def live_slurm_nodes(sql) -> dict[str, dict]:
    """Slurm queue -> its partition's largest node, as a live Slurm executor
    publishes it (``{"memory_mb": MiB, "cpus": n}``)."""
    nodes: dict[str, dict] = {}
    for _, published in live_published(sql):
        if published.get("kind") == "slurm":
            nodes.update(published.get("largest_nodes") or {})
    return nodes


def check_fits_a_host(sql, job_queue: queues.Queue, memory_mb: int, prefix: str) -> None:
    """A job must fit the memory budget of some live host that serves its queue, or
    it would wait for ever (and the claim skips it: it holds back no one else). No
    live host serving the queue: nothing to judge by, the job may wait for one. A
    Slurm queue's job must fit the largest node of its partition (its executor
    publishes it; none published: Slurm judges it at submission).

    Parameters
    ----------
    sql : PlainSQL
    job_queue : queues.Queue
    memory_mb : int
        What the job asks for (MiB).
    prefix : str
        Put before the message ("Invalid request body: " for a request's body).

    Raises
    ------
    APIError
        400 naming ``memory_mb`` and the largest budget of the queue's live hosts.
    """
    if job_queue.slurm is not None:
        # The largest node of its partition, as its executor last read it (sinfo).
        node = live_slurm_nodes(sql).get(job_queue.name)
        if node and memory_mb > int(node.get("memory_mb") or 0):
            error = (
                f"must be at most {node['memory_mb']}: no node of Slurm queue "
                f"{job_queue.name}'s partition has more memory"
            )
            raise APIError(400, f"{prefix}memory_mb: {error}", {"errors": {"memory_mb": [error]}})
        return
    serving = {
        host: budget for host, budget in live_host_budgets(sql).items() if job_queue.serves(host)
    }
    if serving and memory_mb > max(serving.values()):
        largest = max(serving.values())
        error = (
            f"must be at most {largest}: no host serving queue {job_queue.name} has more "
            "memory for jobs"
        )
        raise APIError(400, f"{prefix}memory_mb: {error}", {"errors": {"memory_mb": [error]}})


def check_exec_limits(args: list[str], env: dict[str, str]) -> None:
    """``schemas.check_exec_limits`` as a 400 naming the field, as ``load_body`` answers.

    Parameters
    ----------
    args : list of str
        The arguments the job will run with.
    env : dict of str to str
        The variables it will run with.

    Raises
    ------
    APIError
        400 when the kernel could not pass them to the job's shell (execve's limits).
    """
    try:
        schemas.check_exec_limits(args, env)
    except ValidationError as exc:
        messages = exc.normalized_messages()  # a dict: check_exec_limits keys by field
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items())
        raise APIError(400, f"Invalid request body: {message}", {"errors": messages})


def complete_job(
    sql, cfg, allowed_shells: list[str], fields: dict, secret_env: dict | None = None
) -> dict:
    """A job's fields made whole from its queue's defaults and checked against every
    limit, as a create's are: for runs of a definition (``definitions.Run.fields``).

    Parameters
    ----------
    sql : PlainSQL
    cfg : Config
    allowed_shells : list of str
        The interpreters installed here (``shells.available_shells``).
    fields : dict
        ``code``, ``shell`` (None: ``jobs.default_shell``), ``args``, ``env``,
        ``stdin``, and any of ``queue`` (None or left out: the default queue),
        ``timeout``, ``cpus``, ``memory_mb``, ``priority``, ``requeue_on_host_loss``,
        ``retry`` (as ``retries.parse_retry`` returns it).
    secret_env : dict, optional
        Variables the job also gets (counted in execve's limits, never shown).

    Returns
    -------
    dict
        Every ``queue.NEW_JOB_FIELDS`` name but ``id`` and ``submitter_id``.

    Raises
    ------
    APIError
        400 or 413 as ``queue_or_400``, ``check_job_options``,
        ``check_fits_a_host`` and ``check_exec_limits`` answer.
    """
    job_queue = queue_or_400(cfg, fields.get("queue"))
    job = {
        "code": fields["code"],
        "shell": fields.get("shell") or cfg["jobs"]["default_shell"],
        "args": list(fields.get("args") or []),
        "env": dict(fields.get("env") or {}),
        "stdin": fields.get("stdin"),
        "timeout": fields.get("timeout") or job_queue.defaults["timeout"],
        "priority": fields.get("priority") or 0,
        "cpus": fields.get("cpus") or job_queue.defaults["cpus"],
        "memory_mb": fields.get("memory_mb") or job_queue.defaults["memory_mb"],
        "queue": job_queue.name,
        "requeue_on_host_loss": bool(fields.get("requeue_on_host_loss")),
        "retry": fields.get("retry"),
    }
    check_job_options(job, cfg["jobs"], job_queue, allowed_shells)
    check_exec_limits(job["args"], {**job["env"], **(secret_env or {})})
    check_fits_a_host(sql, job_queue, job["memory_mb"], "Invalid request body: ")
    return job


def workflow_fields(
    sql, cfg, body: dict, job_id: str, may_see
) -> tuple[dict, list[queue.Dependency]]:
    """A new job's ``array`` and ``depends_on`` (from a request ``body``), checked:
    the fields they add to the job and its dependencies.

    Parameters
    ----------
    sql : PlainSQL
    cfg : Config
        For ``arrays.max_size``.
    body : dict
        The loaded request: ``array`` (int or str, as ``fields.ArrayField``
        loads it) and ``depends_on`` (pairs, as ``fields.DependsOn`` loads them),
        each optional.
    job_id : str
        The new job's id.
    may_see : callable
        ``may_see(submitter_id) -> bool``: whether the caller may see a job of
        that user.

    Returns
    -------
    tuple of (dict, list of queue.Dependency)
        ``queue.waiting_fields`` and, for an array, ``array_spec``,
        ``array_size``, ``array_max_running``, ``array_indexes``; and the
        dependencies, each naming its job as it is now (its number).

    Raises
    ------
    APIError
        400: a malformed ``array``, a dependency on no job, an array id too long
        for its tasks' ids; 404: a dependency on a job the caller may not see;
        409: for an array, tasks of an earlier array of that id remain.
    """
    from .arrays import MAX_ARRAY_ID_LENGTH, ArraySpecError, parse_array
    from .queue import waiting
    from .waiting import waiting_settings

    def bad_request(field: str, error: str) -> APIError:
        return APIError(
            400, f"Invalid request body: {field}: {error}", {"errors": {field: [error]}}
        )

    array = None
    if "array" in body:
        try:
            array = parse_array(body["array"], waiting_settings(cfg).max_array_size)
        except ArraySpecError as exc:
            raise bad_request("array", str(exc))
    named = body.get("depends_on", [])
    found = waiting.job_owners(sql, [job for job, _ in named]) if named else {}
    dependencies = []
    for job, condition in named:
        if job not in found:
            raise bad_request("depends_on", f"there is no job {job!r}")
        owner, number = found[job]
        if not may_see(owner):
            raise APIError(404, f"No job with id {job!r}")
        dependencies.append(queue.Dependency(job, number, condition))
    fields: dict[str, object] = dict(queue.waiting_fields(dependencies, array is not None))
    if array is not None:
        if len(job_id) > MAX_ARRAY_ID_LENGTH:
            raise bad_request(
                "id", f"an array job's id is at most {MAX_ARRAY_ID_LENGTH} characters"
            )
        taken = waiting.task_id_taken(sql, job_id)
        if taken is not None:
            task_id, owner = taken
            if not may_see(owner):
                # Nothing of another user's jobs: as for any id taken.
                raise APIError(409, f"A job with id {job_id!r} exists already")
            raise APIError(
                409,
                f"Job {task_id!r}, a task of an earlier array {job_id!r}, exists: delete it, "
                "or give this array another id",
            )
        fields.update(
            array_spec=array.spec,
            array_size=len(array.indexes),
            array_max_running=array.max_running,
            array_indexes=array.indexes,
        )
    return fields, dependencies
