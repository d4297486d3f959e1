"""Marshmallow schemas: request bodies are validated by them, responses dumped by
them, and the OpenAPI document is generated from them."""

import datetime
import os
import re
from pathlib import Path

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    pre_dump,
    validate,
    validates,
    validates_schema,
)

from . import definitions, retries
from .fields import ArrayField, DependsOn, FullMatch, JsonBoolean, RetryField, storable_text
from .job_paths import JOB_NAME_PATTERN, job_dir
from .job_states import JobStatus
from .webhooks import events as webhook_payload
from .webhooks import targets as webhook_targets

#: execve(2): the longest single string the kernel copies into a new program,
#: an argument or an environment entry "KEY=VALUE", its terminating NUL included
#: (MAX_ARG_STRLEN = 32 pages, include/uapi/linux/binfmts.h). Longer: E2BIG,
#: "Argument list too long".
MAX_ARG_STRLEN = 32 * 4096
#: What each string costs of the kernel's argument space besides its bytes and
#: NUL: its pointer in argv or envp (fs/exec.c counts both).
POINTER_BYTES = 8
#: Argument space kept for what the service itself passes: the wrapper, setpriv
#: and sandbox arguments, the job directory and cgroup paths, the interpreter
#: and "./script", and the environment it sets (PATH, HOME, USER, LOGNAME,
#: LANG, TMPDIR, SHELL_SERVICE_JOB_ID). About 2 KiB today; the rest is margin.
RESERVED_EXEC_BYTES = 16 * 1024


def exec_space() -> int:
    """Bytes of argument space a job's ``args`` and ``env`` may fill together.

    Linux gives a new program's arguments and environment (strings, NULs and
    pointers) a quarter of the stack limit of the process that calls execve(2),
    at most 3/4 of 8 MiB and at least 128 KiB (fs/exec.c); ``SC_ARG_MAX`` is
    that quarter as this process sees it (2 MiB under the usual 8 MiB stack
    limit; the executor runs under the same limit as the app).

    Returns
    -------
    int
        Bytes: the kernel's limit less ``RESERVED_EXEC_BYTES`` for the service's own.
    """
    kernel = max(min(os.sysconf("SC_ARG_MAX"), 6 * 1024 * 1024), 128 * 1024)
    return kernel - RESERVED_EXEC_BYTES


def check_exec_limits(args: list[str], env: dict[str, str]) -> None:
    """Refuse ``args`` and ``env`` the kernel could not pass to the job's shell.

    The limits are execve(2)'s ("Limits on size of arguments and environment"):
    each argument and each environment entry ``KEY=VALUE`` is at most
    MAX_ARG_STRLEN - 1 = 131071 bytes in UTF-8 (the NUL makes 131072); and all
    of them together cost at most ``exec_space()`` bytes, each string counting
    its UTF-8 length, its NUL and an 8-byte pointer. Past either, the job would
    be accepted and then end SERVER_ERROR "Argument list too long".

    Parameters
    ----------
    args : list of str
        The job's arguments.
    env : dict of str to str
        Its variables (the values a job will run with: on a change, the stored
        ones merged with the new).

    Raises
    ------
    marshmallow.ValidationError
        Keyed by field, ``args`` (naming the item) or ``env`` (naming the
        variable); the messages give the limit.
    """
    errors: dict[str, list[str]] = {}
    longest = MAX_ARG_STRLEN - 1
    arg_sizes = [len(arg.encode()) for arg in args]
    for index, size in enumerate(arg_sizes):
        if size > longest:
            errors.setdefault("args", []).append(
                f"item {index} is {size} bytes in UTF-8; one argument may be at most "
                f"{longest} bytes (execve(2): MAX_ARG_STRLEN {MAX_ARG_STRLEN} with its NUL)"
            )
    entry_sizes = {key: len(f"{key}={value}".encode()) for key, value in env.items()}
    for key, size in entry_sizes.items():
        if size > longest:
            errors.setdefault("env", []).append(
                f"{key}: {key}=VALUE is {size} bytes in UTF-8; one variable may be at most "
                f"{longest} bytes (execve(2): MAX_ARG_STRLEN {MAX_ARG_STRLEN} with its NUL)"
            )
    if errors:
        raise ValidationError(errors)
    total = sum(arg_sizes) + sum(entry_sizes.values())
    total += (len(arg_sizes) + len(entry_sizes)) * (1 + POINTER_BYTES)
    space = exec_space()
    if total > space:
        field = "args" if sum(arg_sizes) >= sum(entry_sizes.values()) else "env"
        raise ValidationError(
            {
                field: [
                    f"args and env together take {total} bytes of argument space (each string "
                    f"its UTF-8 bytes, a NUL and an {POINTER_BYTES}-byte pointer); at most "
                    f"{space} fit (execve(2): ARG_MAX {space + RESERVED_EXEC_BYTES} on this "
                    f"host, less {RESERVED_EXEC_BYTES} for the service's own)"
                ]
            }
        )


#: What PostgreSQL's ``integer`` holds: every integer column a request sets.
INT32_RANGE = (-(2**31), 2**31 - 1)
#: What PostgreSQL's ``bigint`` holds, which is also C's ``off_t``: the largest
#: file offset Python hands to the kernel.
INT64_RANGE = (-(2**63), 2**63 - 1)


#: An integer in text: an optional sign and ASCII digits.
ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
#: A decimal number in text, in ASCII (an exponent allowed).
ASCII_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class Integer(fields.Integer):
    """An integer the system can hold: within ``representable`` (a PostgreSQL
    ``integer`` by default; ``INT64_RANGE`` for a ``bigint`` or a file offset).

    The bounds are folded into the field's own ``validate.Range`` (one check,
    one message: "Must be greater than or equal to 1 and less than or equal to
    2147483647."), so a value outside them is a 400 naming the field rather than
    a database or OS error (a 500), and the OpenAPI document shows them as
    ``minimum``/``maximum``. Request schemas use this, never ``fields.Integer``.
    """

    def __init__(self, *, representable: tuple[int, int] = INT32_RANGE, **kwargs):
        low, high = representable
        validators = kwargs.pop("validate", None) or []
        if callable(validators):
            validators = [validators]
        others = []
        for validator in validators:
            if isinstance(validator, validate.Range):
                if validator.min is not None:
                    low = max(low, validator.min)
                if validator.max is not None:
                    high = min(high, validator.max)
            else:
                others.append(validator)
        super().__init__(validate=[validate.Range(min=low, max=high), *others], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        # Python's int() also reads other scripts' digits ("３"), "1_000" and
        # surrounding spaces: a number in text (a query's) is ASCII digits only.
        if isinstance(value, str) and not ASCII_INTEGER.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Float(fields.Float):
    """A number that, given as text (a query's), is written in ASCII digits, as
    ``Integer``'s (``float()`` also reads other scripts' digits and ``1_0``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not ASCII_NUMBER.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class UTCDateTime(fields.DateTime):
    """ISO 8601, with or without a zone ("Z", "+02:00"); stored as naive UTC, and
    answered with its zone (RFC 3339, as OpenAPI's date-time requires).

    A time whose UTC form falls outside years 1-9999 (Python's ``datetime``; the
    ``timestamp`` columns hold more) is a ValidationError, so a 400 naming the
    field: ``0001-01-01T00:00:00+14:00`` is in year 0 in UTC, and
    ``9999-12-31T23:59:59-23:59`` in year 10000. Years past 9999 do not parse."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            try:
                parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
            except OverflowError:
                raise ValidationError(
                    "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in UTC"
                )
        return parsed


# ---- envelope ---------------------------------------------------------------


class ErrorEnvelope(Schema):
    """Every error response: ``status`` "error", ``data`` (``errors`` by field for a
    400 of validation), ``message`` (what went wrong) and ``version``.
    """

    status = fields.String(required=True, metadata={"example": "error"})
    data = fields.Dict(required=True)
    message = fields.String(required=True, metadata={"description": "What went wrong"})
    version = fields.String(required=True)


def success_envelope(name: str, data_field: fields.Field, **extra: fields.Field) -> type[Schema]:
    """The success envelope with ``data`` of a given shape, as a named schema class.

    Parameters
    ----------
    name : str
        The schema's (and the OpenAPI component's) name.
    data_field : marshmallow.fields.Field
        The shape of ``data``.
    **extra : marshmallow.fields.Field
        Fields beside ``data`` (paging, counts).

    Returns
    -------
    type of Schema
        With ``status``, ``data``, ``message``, ``version`` and the ``extra`` fields.
    """
    return Schema.from_dict(
        {
            "status": fields.String(required=True, metadata={"example": "success"}),
            "data": data_field,
            "message": fields.String(required=True),
            "version": fields.String(
                required=True,
                metadata={"description": "Package version with the git hash"},
            ),
            **extra,
        },
        name=name,
    )


# ---- jobs -------------------------------------------------------------------


def job_name_not_dots(value: str) -> None:
    """A job's name may not be dots only: "." and ".." would name a directory that
    is not the job's own (``job_paths.job_dir``, which refuses them too).

    Raises
    ------
    marshmallow.ValidationError
    """
    try:
        job_dir(Path("/"), value)
    except ValueError:
        raise ValidationError("must not consist of dots only")


#: The OpenAPI shape of a ``retry`` strategy (``retries.parse_retry``).
RETRY_JSON_SCHEMA = {
    "type": "object",
    "nullable": True,
    "additionalProperties": False,
    "properties": {
        "attempts": {
            "type": "integer",
            "minimum": 1,
            "maximum": retries.MAX_ATTEMPTS,
            "description": "Attempts in all, the first included (default 3; at most config "
            "jobs.max_attempts). 1: no retry",
        },
        "on": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(retries.ENDINGS)},
            "description": "The endings that retry (default [FAILED]): FAILED (a non-zero "
            "exit code), TIMED_OUT, SERVER_ERROR (the service could not start or watch it), "
            "HOST_LOST (its host or Slurm node was lost). A cancel never retries",
        },
        "exit_codes": {
            "type": "array",
            "nullable": True,
            "minItems": 1,
            "maxItems": 255,
            "items": {"type": "integer", "minimum": 1, "maximum": 255},
            "description": "The exit codes of a FAILED ending that retry (AWS Batch's "
            "evaluateOnExit); left out or null: every non-zero one. Needs FAILED in `on`",
        },
        "backoff": {
            "type": "object",
            "additionalProperties": False,
            "description": "Seconds before attempt n+1 once attempt n ended: "
            "min(max, initial * factor^(n-1)); meanwhile the job is QUEUED with "
            "waiting_for `backoff` until eligible_at. Default: no wait",
            "properties": {
                "initial": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": retries.MAX_BACKOFF_SECONDS,
                    "description": "default 0",
                },
                "factor": {
                    "type": "number",
                    "minimum": 1,
                    "maximum": retries.MAX_FACTOR,
                    "description": "default 2",
                },
                "max": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": retries.MAX_BACKOFF_SECONDS,
                    "description": "at least initial; default 3600 (or initial)",
                },
            },
        },
    },
    "example": {"attempts": 3, "exit_codes": [75], "backoff": {"initial": 10}},
}


class JobCreate(Schema):
    """The body of ``POST /api/jobs``: a job's code and options (only ``code`` is required).

    Units: ``timeout`` in seconds, ``memory_mb`` in MiB, ``code`` at most
    ``jobs.max_script_bytes`` UTF-8 bytes (checked by the handler, as are the other
    config limits). ``args`` and ``env`` must fit execve(2)'s limits
    (``check_exec_limits``). Loading raises ``marshmallow.ValidationError`` keyed
    by field (the handler answers 400).
    """

    id = fields.String(
        validate=[
            FullMatch(
                JOB_NAME_PATTERN,
                error="must be 1-128 characters, each a letter, digit, '_', '.' or '-'",
            ),
            job_name_not_dots,
        ],
        metadata={
            "description": "The job's name, unique across the service. "
            "Made up (job_<random hex>) when left out.",
            "example": "hello_world",
        },
    )
    code = fields.String(
        required=True,
        validate=[validate.Length(min=1, error="must not be empty"), storable_text],
        metadata={"description": "The script to run", "example": "echo 'hello world'"},
    )

    shell = fields.String(
        metadata={
            "description": "Interpreter: one of config jobs.shells found on the host",
            "example": "bash",
        }
    )
    args = fields.List(
        fields.String(validate=storable_text),
        validate=validate.Length(max=1000),
        metadata={"description": "Arguments: $1, $2, ... in the script"},
    )
    env = fields.Dict(
        keys=fields.String(
            validate=FullMatch(
                r"[A-Za-z_][A-Za-z0-9_]{0,127}",
                error="environment variable names are letters, digits and '_', "
                "not starting with a digit",
            )
        ),
        values=fields.String(validate=storable_text),
        metadata={"description": "Variables added to the job's clean environment"},
    )
    stdin = fields.String(
        validate=storable_text,
        metadata={"description": "Text given to the script on standard input"},
    )
    timeout = Integer(
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "Seconds the job may run (default and most: its queue's)"},
    )
    priority = Integer(
        strict=True,
        validate=validate.Range(min=-100, max=100),
        metadata={"description": "Higher starts first among your own queued jobs"},
    )
    cpus = Integer(
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "CPUs the job may use (default and most: its queue's)"},
    )
    memory_mb = Integer(
        strict=True,
        validate=validate.Range(min=16),
        metadata={"description": "Memory the job may use, MiB (default and most: its queue's)"},
    )
    queue = fields.String(
        validate=[validate.Length(min=1, max=64), storable_text],
        metadata={
            "description": "The named queue it waits and runs in (GET /api/queues); "
            "default: the first configured. Its limits bound timeout, cpus and memory_mb",
            "example": "default",
        },
    )
    requeue_on_host_loss = JsonBoolean(
        metadata={
            "description": "If the host running it is lost (config hosts.lost_after without "
            "a heartbeat), queue it again instead of ending it SERVER_ERROR (default false)"
        },
    )
    execute = JsonBoolean(
        load_default=False,
        metadata={"description": "Queue the job at once, as POST .../execute would"},
    )
    depends_on = DependsOn(
        metadata={
            "description": "Jobs it waits for, each with Slurm's condition: `afterok` (it "
            "ended COMPLETE; an array: every task did), `afternotok` (it ended otherwise), "
            "`afterany` (it ended). A list of `{job, condition}` (condition default "
            "afterok) or Slurm's text `afterok:A:B,afterany:C`. At most 100; each a job "
            "you may see (another's: 404; none: 400). Queued, it waits (`waiting_for`: "
            "dependencies) until all hold; one that can no longer hold ends it CANCELLED",
            "example": [{"job": "prepare", "condition": "afterok"}],
            "oneOf": [
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "job": {"type": "string"},
                            "condition": {
                                "type": "string",
                                "enum": ["afterok", "afternotok", "afterany"],
                            },
                        },
                        "required": ["job"],
                    },
                },
                {"type": "string"},
            ],
        }
    )
    retry = RetryField(
        metadata={
            "description": 'Its retry strategy (README "Retries"), AWS Batch\'s and '
            "Slurm's requeue: how many attempts, which endings retry, the back-off. Each "
            "attempt's end is recorded (`attempts` in GET /api/jobs/{id}, its output in "
            "/log?attempt=N); the script sees SHELL_SERVICE_ATTEMPT (1 first). Null: none",
            **RETRY_JSON_SCHEMA,
        }
    )
    array = ArrayField(
        metadata={
            "description": "Make it an array job: one task per index, each a job "
            "`<id>:<index>` whose script sees SHELL_SERVICE_ARRAY_INDEX, "
            "SHELL_SERVICE_ARRAY_ID and SHELL_SERVICE_ARRAY_SIZE. A size, as a number "
            "(100: indexes 0-99), or Slurm's `--array` text: `0-999`, `1,3,5-9`, "
            "`0-15:4`, `3` (index 3 alone), with `%N` "
            "at the end for at most N tasks at once. Indexes below config "
            "arrays.max_size. The array job ends COMPLETE when every task did, else "
            "FAILED (CANCELLED after a cancel)",
            "example": "0-99%10",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }
    )

    @validates_schema
    def _passable_to_execve(self, data: dict, **kwargs) -> None:
        # On a change (JobUpdate) the handler checks again with the stored values.
        check_exec_limits(data.get("args", []), data.get("env", {}))


class JobUpdate(JobCreate):
    """A READY job's changes: any of the create fields but ``id``, ``execute``,
    ``depends_on`` and ``array`` (fixed at its create: a change could make a
    dependency cycle)."""

    class Meta:
        exclude = ("id", "execute", "depends_on", "array")


class Job(Schema):
    """A job as responses show it (dump only), with its output once it has ended.

    Times are RFC 3339, UTC; ``timeout`` in seconds, ``memory_mb`` in MiB.
    """

    id = fields.String(required=True)
    code = fields.String(required=True)
    shell = fields.String(required=True)
    args = fields.List(fields.String(), required=True)
    env = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    stdin = fields.String(allow_none=True)
    timeout = fields.Integer(required=True)
    priority = fields.Integer(required=True)
    cpus = fields.Integer(required=True)
    memory_mb = fields.Integer(required=True)
    queue = fields.String(required=True, metadata={"description": "The queue it waits and runs in"})
    requeue_on_host_loss = fields.Boolean(required=True)
    host = fields.String(
        allow_none=True,
        metadata={"description": "The host (config hosts.name) that ran it; null until it starts"},
    )
    slurm_job_id = fields.Integer(
        allow_none=True,
        metadata={"description": "A Slurm queue's job: its job id in Slurm, once submitted"},
    )
    slurm_node = fields.String(
        allow_none=True,
        metadata={"description": "A Slurm queue's job: the node Slurm ran it on"},
    )
    definition_id = fields.Integer(
        allow_none=True,
        metadata={"description": "A run of a definition: its id (null once it is deleted)"},
    )
    definition_name = fields.String(
        allow_none=True, metadata={"description": "A run of a definition: its name"}
    )
    definition_version = fields.Integer(
        allow_none=True, metadata={"description": "A run of a definition: the version it ran"}
    )
    parameters = fields.Dict(
        allow_none=True,
        metadata={
            "description": "A run of a definition: its parameter values (a secret's shown "
            "as ********)"
        },
    )
    schedule_id = fields.Integer(
        allow_none=True, metadata={"description": "Fired by a schedule: its id"}
    )
    scheduled_for = UTCDateTime(
        allow_none=True, metadata={"description": "Fired by a schedule: the tick it fired for"}
    )
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in JobStatus]))
    status_message = fields.String(
        allow_none=True,
        metadata={
            "description": "Why the service ended the job, if it did; while a Slurm "
            "queue's job is pending, Slurm's reason (Priority, Resources...)"
        },
    )
    return_code = fields.Integer(allow_none=True)
    stdout = fields.String(allow_none=True)
    stderr = fields.String(allow_none=True)
    stdout_truncated = fields.Boolean(
        required=True, metadata={"description": "stdout was longer than jobs.max_output_bytes"}
    )
    stderr_truncated = fields.Boolean(required=True)
    submitter_id = fields.Integer(required=True)
    created_at = UTCDateTime(required=True)
    modified = UTCDateTime(required=True)
    queued_at = UTCDateTime(allow_none=True)
    started_at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)
    cancel_requested_at = UTCDateTime(
        allow_none=True,
        metadata={"description": "when a cancel was asked for while it ran (it ends soon)"},
    )
    waiting_for = fields.String(
        allow_none=True,
        validate=validate.OneOf(["dependencies", "backoff", "tasks"]),
        metadata={
            "description": "A QUEUED job that may not start yet, and why (as Slurm's "
            "pending Reason): `dependencies` (status_message names them), `backoff` (a "
            "retry, until eligible_at), `tasks` (an array job: its tasks run). Null: it "
            "starts when there is room"
        },
    )
    eligible_at = UTCDateTime(
        allow_none=True,
        metadata={
            "description": "A job waiting out a retry's back-off (`waiting_for`: backoff): "
            "when it may start again"
        },
    )
    retry = fields.Dict(
        allow_none=True,
        metadata={
            "description": "Its retry strategy, every default filled in (null: none)",
            **{k: v for k, v in RETRY_JSON_SCHEMA.items() if k != "example"},
        },
    )
    attempt = fields.Integer(
        required=True,
        metadata={
            "description": "The attempt under way, or the last made (1 first; more after a "
            "retry). Status, host, times, return code and output are this attempt's"
        },
    )
    array_spec = fields.String(
        allow_none=True,
        metadata={
            "description": "An array job: its `array` as asked (a size n as `0-<n-1>`), "
            "e.g. `0-99%10`"
        },
    )
    array_size = fields.Integer(
        allow_none=True,
        metadata={"description": "An array job, or a task of one: how many tasks the array has"},
    )
    array_id = fields.String(
        allow_none=True, metadata={"description": "A task of an array: the array job's id"}
    )
    array_index = fields.Integer(
        allow_none=True, metadata={"description": "A task of an array: its index"}
    )


#: The fields of a job in responses, in order (job lists read exactly these columns).
JOB_FIELDS = tuple(Job._declared_fields)


class JobId(Schema):
    """A job's id: the answer to creating or rerunning one."""

    id = fields.String(required=True, metadata={"example": "hello_world"})


class JobState(Schema):
    """A job's id and its state after an execute or a cancel."""

    id = fields.String(required=True)
    status = fields.String(required=True, metadata={"example": "QUEUED"})


class StatusList(fields.List):
    """Job states, repeated (``status=A&status=B``) or comma-separated (``status=A,B``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = [value]
        value = [part for item in value for part in str(item).split(",") if part]
        return super()._deserialize(value, attr, data, **kwargs)


class JobListQuery(Schema):
    """The query of ``GET /api/jobs``: paging (``limit``, ``cursor`` or ``offset``), filters
    and ``include_output``.
    """

    limit = Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000),
        metadata={"description": "Most jobs to return (1-1000)"},
    )
    cursor = fields.String(
        validate=[validate.Length(max=512), storable_text],
        metadata={"description": "Continue after the last page: its `next_cursor`"},
    )
    offset = Integer(
        load_default=0,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "Jobs to skip (a cursor is faster for deep pages)"},
    )
    status = StatusList(
        fields.String(validate=validate.OneOf([s.value for s in JobStatus])),
        metadata={"description": "Only jobs in these states (repeat, or comma-separate)"},
    )
    created_after = UTCDateTime(metadata={"description": "ISO 8601 (UTC unless zoned)"})
    created_before = UTCDateTime(metadata={"description": "ISO 8601 (UTC unless zoned)"})
    id_prefix = fields.String(
        validate=[validate.Length(min=1, max=128), storable_text],
        metadata={"description": "Only jobs whose id starts with this"},
    )
    submitter_id = Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Only this user's jobs (admins; others see only their own)"},
    )
    queue = fields.String(
        validate=[validate.Length(min=1, max=64), storable_text],
        metadata={"description": "Only jobs of this queue"},
    )
    definition = fields.String(
        data_key="definition",
        attribute="definition_name",
        validate=[validate.Length(min=1, max=64), storable_text],
        metadata={
            "description": "Only runs of definitions of this name (as the job recorded it: "
            "also after the definition was deleted)"
        },
    )
    schedule = Integer(
        data_key="schedule",
        attribute="schedule_id",
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Only the jobs this schedule fired"},
    )
    array = fields.String(
        data_key="array",
        attribute="array_id",
        validate=[validate.Length(min=1, max=128), storable_text],
        metadata={"description": "Only the tasks of this array job"},
    )
    include_output = fields.Boolean(
        load_default=False,
        metadata={"description": "Include stdout and stderr (left out by default)"},
    )


class JobReadQuery(Schema):
    """The query of ``GET /api/jobs/{job_id}``: ``wait``, seconds (0-60) for the job to end."""

    wait = Float(
        load_default=0,
        validate=validate.Range(min=0, max=60),
        metadata={
            "description": "Seconds (at most 60) to wait for the job to end before "
            "answering; it answers as soon as the job ends"
        },
    )


class JobLogQuery(Schema):
    """The query of ``GET /api/jobs/{job_id}/log``: ``stream``, byte ``offset`` (or
    ``tail``), ``follow``, ``download``."""

    stream = fields.String(load_default="stdout", validate=validate.OneOf(["stdout", "stderr"]))
    offset = Integer(
        load_default=0,
        representable=INT64_RANGE,
        validate=validate.Range(min=0),
        metadata={"description": "Byte to start from: the `offset` a previous call returned"},
    )
    follow = fields.Boolean(
        load_default=False,
        metadata={"description": "Keep the response open, streaming text until the job ends"},
    )
    attempt = Integer(
        validate=validate.Range(min=1),
        metadata={
            "description": "An attempt's output (1 first): an earlier one's as stored at its "
            "end (404 for one that does not exist); default the current attempt's. With "
            "`follow`, where the stream starts (`offset` is in this attempt's output): it "
            "goes on through every later attempt"
        },
    )
    one_attempt = fields.Boolean(
        load_default=False,
        metadata={
            "description": "With `follow` and `attempt`: the stream ends once that attempt "
            "has ended and its text is all out (a client that resumes a broken follow "
            "counts its bytes per attempt: `attempt=N&offset=M`)"
        },
    )
    tail = Integer(
        representable=INT64_RANGE,
        validate=validate.Range(min=0),
        metadata={
            "description": "Start this many bytes before the file's end (at a character's "
            "start) instead of at `offset`: the last part of a big log"
        },
    )
    download = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The whole file as it is now, raw bytes, as an attachment "
            "(`application/octet-stream`, streamed); not with `offset`, `tail`, `follow` or "
            "`one_attempt` (a 400)"
        },
    )


class JobLog(Schema):
    """A piece of a job's output: ``text``, the byte ``offset`` to go on from, ``finished``,
    and the file's ``size``."""

    text = fields.String(required=True)
    offset = fields.Integer(required=True, metadata={"description": "Where to continue from"})
    finished = fields.Boolean(required=True, metadata={"description": "The job has ended"})
    size = fields.Integer(
        required=True,
        metadata={"description": "The output file's size in bytes when it was read"},
    )


class JobEvent(Schema):
    """One state change of a job: from, to, who (``actor_id``; null: the service), when."""

    id = fields.Integer(required=True)
    job_id = fields.String(required=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(required=True)
    actor_id = fields.Integer(allow_none=True)
    detail = fields.String(allow_none=True)
    created_at = UTCDateTime(required=True)


# ---- users and tokens -------------------------------------------------------


class UserCreate(Schema):
    """The body of ``POST /api/users``: a ``username`` (1-64 of ``[A-Za-z0-9_.@-]``)."""

    username = fields.String(
        required=True,
        metadata={"example": "ada"},
        validate=FullMatch(
            r"[A-Za-z0-9_.@-]{1,64}",
            error="must be 1-64 characters, each a letter, digit, '_', '.', '@' or '-'",
        ),
    )


class User(Schema):
    """A user as responses show it."""

    id = fields.Integer(required=True)
    username = fields.String(required=True)
    is_admin = fields.Boolean(required=True)
    disabled = fields.Boolean(required=True)
    created_at = UTCDateTime(required=True)


class UserUpdate(Schema):
    """The body of ``PATCH /api/users/{user_id}``: ``disabled`` and/or ``admin``."""

    disabled = JsonBoolean(
        metadata={
            "description": "true: the user's tokens stop working at once and their "
            "unfinished jobs are cancelled"
        }
    )
    admin = JsonBoolean(metadata={"description": "Grant (true) or remove the admin role"})


class TokenCreate(Schema):
    """The body of ``POST /api/tokens``: a ``name``, whose token (``user_id``, admins) and
    an optional ``expires_at`` in the future.
    """

    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=128), storable_text],
        metadata={"description": "A label to recognise the token by", "example": "laptop"},
    )
    # strict: 1.5 is an error, not user 1.
    user_id = Integer(
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Whose token (admins only; yourself by default)"},
    )
    expires_at = UTCDateTime(
        metadata={"description": "When the token stops working (ISO 8601, UTC); never if left out"}
    )

    @validates("expires_at")
    def _in_the_future(self, value, **kwargs) -> None:
        if value <= datetime.datetime.now(datetime.UTC).replace(tzinfo=None):
            raise ValidationError("must be in the future")


class Token(Schema):
    """A token as listed: never its secret."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    user_id = fields.Integer(required=True)
    expires_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime(required=True)


class NewToken(Schema):
    """A token just made: its id and its secret, shown this once."""

    id = fields.Integer(required=True)
    token = fields.String(
        required=True,
        metadata={"description": "The secret: shown this once, never again"},
    )


class Sysinfo(Schema):
    """``GET /api/sysinfo``'s ``data``: version, live executors (``executors``, and
    ``workers``, its deprecated alias), jobs per
    state, capacity (``memory_budget_mb``, ``running_memory_mb`` in MiB) and isolation.
    """

    version = fields.String(required=True)
    executors = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "Executors alive (one a host): id (host:pid), last_seen, running"},
    )
    workers = fields.List(
        fields.Dict(),
        required=True,
        metadata={
            "description": "Deprecated: the same list as `executors`, under its old name,"
            " kept for old clients",
            "deprecated": True,
        },
    )
    capacity = fields.Dict(
        required=True,
        metadata={
            "description": "max_running and memory_budget_mb (the live executors' slots "
            "and MiB together, as each publishes them), max_running_per_user (the jobs: "
            "section's; each queue may set its own: GET /api/queues), running, "
            "running_memory_mb"
        },
    )
    jobs_by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    isolation = fields.Dict(
        required=True,
        metadata={
            "description": "As the executor heard from last publishes it ({} if none ran"
            " within the hour): run_as (user account | service user), containment (pid namespace"
            " | subreaper: how every process of a job is ended with it), private_tmp, cgroups"
            " (version and controllers), rlimits, sandbox"
        },
    )


class OptionLimits(Schema):
    """A job option's default (when a job names none) and maximum in one queue."""

    default = fields.Integer(required=True, metadata={"description": "When a job names none"})
    max = fields.Integer(required=True, metadata={"description": "The most a job may ask for"})


class QueueLimits(Schema):
    """A queue's limits: jobs running at once (all hosts; per user), its memory
    budget (MiB) and each job option's default and maximum."""

    max_running = fields.Integer(
        allow_none=True,
        required=True,
        metadata={
            "description": "Its jobs running at once, all hosts together (null: no limit "
            "but the hosts' capacity)"
        },
    )
    max_running_per_user = fields.Integer(
        required=True, metadata={"description": "One user's jobs of this queue running at once"}
    )
    memory_budget_mb = fields.Integer(
        allow_none=True,
        required=True,
        metadata={
            "description": "MiB its running jobs may ask for together (null: no budget "
            "but the hosts')"
        },
    )
    timeout = fields.Nested(OptionLimits, required=True, metadata={"description": "Seconds"})
    cpus = fields.Nested(OptionLimits, required=True)
    memory_mb = fields.Nested(OptionLimits, required=True, metadata={"description": "MiB"})


class QueueJobs(Schema):
    """A queue's jobs now: QUEUED, RUNNING, and RUNNING per host."""

    queued = fields.Integer(required=True)
    running = fields.Integer(required=True)
    running_by_host = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Running jobs per host (hosts.name)"},
    )


class Queue(Schema):
    """One queue as ``GET /api/queues`` shows it (``handlers/api/queues.py``)."""

    name = fields.String(required=True, metadata={"example": "default"})
    description = fields.String(required=True)
    default = fields.Boolean(
        required=True, metadata={"description": "Jobs that name no queue go here"}
    )
    executor = fields.String(
        required=True, metadata={"description": "The kind that runs its jobs: local"}
    )
    hosts = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The hosts that serve it; empty: every host"},
    )
    limits = fields.Nested(QueueLimits, required=True)
    jobs = fields.Nested(QueueJobs, required=True, metadata={"description": "Counted now"})


# Success envelopes, one per response shape, named for the docs.
# ---- definitions ---------------------------------------------------------------


class DefinitionCreate(JobUpdate):
    """The body of ``POST /api/definitions``: a job's fields as defaults (as
    ``JobCreate``'s, without ``id`` and ``execute``), its ``name``, a
    ``description``, its typed ``parameters`` (``definitions.ParameterSpec``) and
    ``shared``. Only ``name`` and ``code`` are required.
    """

    name = fields.String(
        required=True,
        validate=FullMatch(
            definitions.NAME_PATTERN,
            error="must be one word of 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or '_'",
        ),
        metadata={"description": "Unique among your definitions", "example": "nightly_load"},
    )
    description = fields.String(
        validate=[validate.Length(max=65536), storable_text],
        metadata={"description": "What it does (shown with it)"},
    )
    parameters = fields.List(
        fields.Nested(definitions.ParameterSpec),
        validate=validate.Length(max=definitions.MAX_PARAMETERS),
        metadata={"description": "Its typed parameters, in order (positional ones in this order)"},
    )
    shared = JsonBoolean(
        metadata={"description": "Every user may read and run it (default false: only you)"}
    )

    @validates_schema
    def _parameters_apart(self, data: dict, **kwargs) -> None:
        definitions.check_parameter_specs(data.get("parameters", []))


class DefinitionReplace(DefinitionCreate):
    """The body of ``PUT /api/definitions/{name}``: a whole new version (``name``
    cannot change; fields left out are left out of the version)."""

    class Meta:
        exclude = ("id", "execute", "name")


class DefinitionQuery(Schema):
    """Naming one definition: ``owner``, the username of its owner, when several
    definitions you may see have the name (yours is found first)."""

    owner = fields.String(
        validate=[validate.Length(min=1, max=255), storable_text],
        metadata={"description": "Its owner's username (default: yours, else the shared one)"},
    )


class DefinitionVersionsQuery(DefinitionQuery):
    """The query of ``GET /api/definitions/{name}/versions``: ``owner`` and paging
    (each version holds its whole script: a page is at most 100)."""

    limit = Integer(load_default=20, validate=validate.Range(min=1, max=100))
    offset = Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class DefinitionListQuery(Schema):
    """The query of ``GET /api/definitions``: paging."""

    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = Integer(load_default=0, validate=validate.Range(min=0, max=100_000))


class RunOverrides(Schema):
    """The job options a run may set over its definition's (within the queue's limits)."""

    queue = JobCreate._declared_fields["queue"]
    timeout = JobCreate._declared_fields["timeout"]
    cpus = JobCreate._declared_fields["cpus"]
    memory_mb = JobCreate._declared_fields["memory_mb"]
    priority = JobCreate._declared_fields["priority"]
    requeue_on_host_loss = JobCreate._declared_fields["requeue_on_host_loss"]
    retry = JobCreate._declared_fields["retry"]
    env = fields.Dict(
        keys=fields.String(
            validate=FullMatch(
                definitions.ENV_NAME_PATTERN,
                error="environment variable names are letters, digits and '_', "
                "not starting with a digit",
            )
        ),
        values=fields.String(validate=storable_text),
        metadata={"description": "Variables over the definition's (its parameters' win)"},
    )


class DefinitionRun(DefinitionQuery):
    """The body of ``POST /api/definitions/{name}/run`` (``owner`` may also be given
    in the query)."""

    parameters = fields.Dict(
        keys=fields.String(validate=[validate.Length(min=1, max=64), storable_text]),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        metadata={
            "description": "Parameter name -> value (a string, number, boolean, or a list "
            "for a multichoice); left out: its default"
        },
    )
    overrides = fields.Nested(RunOverrides, load_default=dict)
    version = Integer(
        validate=validate.Range(min=1),
        metadata={"description": "The version to run (default: the latest)"},
    )
    id = JobCreate._declared_fields["id"]
    array = JobCreate._declared_fields["array"]
    depends_on = JobCreate._declared_fields["depends_on"]


class DefinitionVersion(Schema):
    """One version of a definition, as shown (dump only)."""

    version = fields.Integer(required=True)
    description = fields.String(allow_none=True)
    code = fields.String(required=True)
    shell = fields.String(allow_none=True, metadata={"description": "null: the default shell"})
    args = fields.List(fields.String(), required=True)
    env = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    stdin = fields.String(allow_none=True)
    options = fields.Dict(
        required=True,
        metadata={"description": "The job options it sets (the rest: the queue's defaults)"},
    )
    parameters = fields.List(fields.Nested(definitions.ParameterSpec), required=True)
    author = fields.String(allow_none=True, metadata={"description": "Who made this version"})
    created_at = UTCDateTime(required=True)


class Definition(DefinitionVersion):
    """A definition: who owns it, whether it is shared, and a version of it (the
    latest, unless one was asked for)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    owner = fields.String(required=True, metadata={"description": "Its owner's username"})
    owner_id = fields.Integer(required=True)
    shared = fields.Boolean(required=True)
    latest_version = fields.Integer(required=True)
    modified = UTCDateTime(required=True)


class DefinitionSummary(Schema):
    """A definition in a list: its latest version's description, no script."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    owner = fields.String(required=True)
    owner_id = fields.Integer(required=True)
    shared = fields.Boolean(required=True)
    latest_version = fields.Integer(required=True)
    description = fields.String(allow_none=True)
    created_at = UTCDateTime(required=True)
    modified = UTCDateTime(required=True)


# ---- webhooks


#: A webhook URL's length (one message: ``_webhook_url`` leaves it to this).
_URL_LENGTH = validate.Length(
    min=1,
    max=webhook_targets.MAX_URL_LENGTH,
    error=f"must be 1 to {webhook_targets.MAX_URL_LENGTH} characters long",
)


def _webhook_url(value: str) -> None:
    # The rules that need no DNS; the address check is the handler's (it resolves).
    if len(value) > webhook_targets.MAX_URL_LENGTH:
        return  # the field's Length says so, once
    try:
        webhook_targets.check_url(value)
    except webhook_targets.TargetRefused as exc:
        raise ValidationError(str(exc)) from None


def _no_repeats(value: list) -> None:
    if len(set(value)) != len(value):
        raise ValidationError("must not name an event twice")


class WebhookCreate(Schema):
    """A new webhook: where to POST, on which events, for which jobs."""

    url = fields.String(
        required=True,
        validate=[_URL_LENGTH, _webhook_url],
        metadata={
            "description": "http:// or https:// URL the service POSTs each event to. "
            "Its host must not be or resolve to a loopback, private, link-local or "
            "otherwise non-public address (config webhooks.allow_networks lists exceptions); "
            "redirects are not followed",
            "example": "https://ci.example.org/hooks/shell-service",
        },
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(webhook_payload.EVENTS)),
        load_default=lambda: [webhook_payload.FINISHED],
        validate=[validate.Length(min=1, max=len(webhook_payload.EVENTS)), _no_repeats],
        metadata={
            "description": "Events wanted: started (the job began running), finished "
            "(any end), completed, failed, timed_out, cancelled, server_error. Default: "
            "[finished]. One job event is one delivery, named by its own end if asked "
            "for, else finished",
            "example": ["failed", "timed_out"],
        },
    )
    definition = fields.String(
        allow_none=True,
        validate=[validate.Length(min=1, max=64), storable_text],
        metadata={
            "description": "Only runs of this definition (a name you may see, yours first; "
            "definition_owner picks another user's shared one)"
        },
    )
    definition_owner = fields.String(
        allow_none=True,
        validate=[validate.Length(min=1, max=255), storable_text],
        metadata={"description": "The username owning `definition`, when several do"},
    )
    schedule_id = Integer(
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "Only jobs this schedule fired"},
    )
    queue = fields.String(
        allow_none=True,
        validate=[validate.Length(min=1, max=64), storable_text],
        metadata={"description": "Only jobs of this queue"},
    )
    array = fields.String(
        allow_none=True,
        validate=[validate.Length(min=1, max=128), storable_text],
        metadata={"description": "Only this array job (its id) and its tasks"},
    )
    secret = fields.String(
        validate=[validate.Length(min=16, max=256), storable_text],
        metadata={
            "description": "Key of the HMAC-SHA256 signature (X-Shell-Service-Signature). "
            "Default: 43 random characters, shown once in this answer"
        },
    )
    enabled = JsonBoolean(load_default=True, metadata={"description": "Default true"})
    description = fields.String(
        allow_none=True, validate=[validate.Length(max=1000), storable_text]
    )


class WebhookUpdate(WebhookCreate):
    """A webhook's changes: any of its fields (a filter set to null: no filter)."""

    url = fields.String(
        validate=[_URL_LENGTH, _webhook_url],
        metadata={"description": "A new URL, checked as at create"},
    )
    events = fields.List(
        fields.String(validate=validate.OneOf(webhook_payload.EVENTS)),
        validate=[validate.Length(min=1, max=len(webhook_payload.EVENTS)), _no_repeats],
        metadata={"description": "Events wanted (as at create)"},
    )
    enabled = JsonBoolean()


class WebhookFilters(Schema):
    """Which jobs a webhook fires for (null: any)."""

    definition = fields.String(
        allow_none=True, attribute="definition_name", metadata={"description": "Its name"}
    )
    definition_id = fields.Integer(allow_none=True)
    schedule_id = fields.Integer(allow_none=True)
    queue = fields.String(allow_none=True)
    array = fields.String(allow_none=True, attribute="array_id")


class Webhook(Schema):
    """A webhook as responses show it (never its secret but in the answer to its create)."""

    id = fields.Integer(required=True)
    owner = fields.String(required=True, metadata={"description": "Its owner's username"})
    owner_id = fields.Integer(required=True)
    url = fields.String(required=True)
    events = fields.List(fields.String(), required=True)
    filters = fields.Nested(WebhookFilters, required=True)
    enabled = fields.Boolean(required=True)
    description = fields.String(allow_none=True)
    created_at = UTCDateTime(required=True)
    modified = UTCDateTime(required=True)

    @pre_dump
    def _with_filters(self, row: dict, **kwargs) -> dict:
        # The filters are columns of the row: shown grouped.
        return {**row, "filters": row}


class NewWebhook(Webhook):
    """A created webhook, with its secret (shown this once)."""

    secret = fields.String(
        required=True, metadata={"description": "The signing key: keep it, it is not shown again"}
    )


class WebhookListQuery(Schema):
    """The query of ``GET /api/webhooks``."""

    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = Integer(load_default=0, validate=validate.Range(min=0, max=100_000))


class WebhookDeliveryQuery(WebhookListQuery):
    """The query of ``GET /api/webhooks/{id}/deliveries``."""

    status = fields.String(
        validate=validate.OneOf(["pending", "delivered", "failed"]),
        metadata={"description": "Only deliveries in this state"},
    )


class WebhookAttempt(Schema):
    """One POST of a delivery."""

    number = fields.Integer(required=True, metadata={"description": "1 for the first"})
    started_at = UTCDateTime(required=True)
    duration_ms = fields.Integer(required=True, metadata={"description": "Milliseconds"})
    status_code = fields.Integer(
        allow_none=True, metadata={"description": "The HTTP status; null without a response"}
    )
    error = fields.String(allow_none=True, metadata={"description": "null: delivered"})
    next_retry_at = UTCDateTime(
        allow_none=True, metadata={"description": "When the next attempt is due; null: none"}
    )


class WebhookDelivery(Schema):
    """One event sent to a webhook: its state and every attempt."""

    id = fields.Integer(
        required=True, metadata={"description": "The X-Shell-Service-Delivery header's value"}
    )
    webhook_id = fields.Integer(required=True)
    event = fields.String(required=True, metadata={"description": "An event, or ping"})
    job_id = fields.String(allow_none=True)
    job_event_id = fields.Integer(allow_none=True)
    status = fields.String(
        required=True,
        metadata={
            "description": "pending (next_attempt_at), delivered (a 2xx), failed (another "
            "4xx, a redirect, a refused target, or retries given up)"
        },
    )
    attempt_count = fields.Integer(required=True, attribute="attempts")
    next_attempt_at = UTCDateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = UTCDateTime(required=True)
    finished_at = UTCDateTime(allow_none=True)
    attempts = fields.List(fields.Nested(WebhookAttempt), required=True, attribute="attempt_list")


class Dependency(Schema):
    """One dependency of a job, as ``GET /api/jobs/{job_id}`` shows it."""

    job = fields.String(required=True, metadata={"description": "The job it waits for"})
    condition = fields.String(
        required=True, validate=validate.OneOf(["afterok", "afternotok", "afterany"])
    )
    satisfied = fields.Boolean(
        allow_none=True,
        metadata={"description": "Null until that job ends; then whether the condition held"},
    )
    status = fields.String(
        allow_none=True,
        metadata={"description": "That job's state now (null: it was deleted)"},
    )


class JobAttempt(Schema):
    """One attempt of a job (AWS Batch's attempts): an ended one from
    ``job_attempts``, the current or last one from the job's own columns."""

    number = fields.Integer(required=True, metadata={"description": "1 first"})
    status = fields.String(
        required=True,
        metadata={"description": "How it ended (FAILED, TIMED_OUT...), or the job's state"},
    )
    status_message = fields.String(allow_none=True)
    return_code = fields.Integer(allow_none=True)
    host = fields.String(allow_none=True, metadata={"description": "The host that ran it"})
    started_at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)
    stdout_truncated = fields.Boolean(
        required=True,
        metadata={
            "description": "Its stdout as stored was cut at jobs.max_output_bytes (an "
            "earlier attempt's `/log?attempt=N` is what was stored)"
        },
    )
    stderr_truncated = fields.Boolean(required=True)


class JobDetail(Job):
    """One job as ``GET /api/jobs/{job_id}`` answers it: a job's fields, its
    dependencies, an array job's task counts, and its attempts."""

    depends_on = fields.List(
        fields.Nested(Dependency),
        required=True,
        metadata={"description": "The jobs it waits for (empty: none)"},
    )
    array_tasks = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        allow_none=True,
        metadata={
            "description": "An array job: its tasks per state; `PENDING` counts those not "
            "made yet (tasks are made as they become due). Null for other jobs"
        },
    )
    attempts = fields.List(
        fields.Nested(JobAttempt),
        required=True,
        metadata={
            "description": "Its attempts, first first: each ended one, then the current "
            "(or last) once it has started or ended. Empty while the first waits"
        },
    )


JobEnvelope = success_envelope("JobEnvelope", fields.Nested(JobDetail, required=True))
JobListEnvelope = success_envelope(
    "JobListEnvelope",
    fields.List(fields.Nested(Job), required=True),
    total=fields.Integer(
        required=True, metadata={"description": "Jobs matching the filters (up to 10,000)"}
    ),
    total_capped=fields.Boolean(
        required=True, metadata={"description": "More than `total` match: the count stopped"}
    ),
    next_cursor=fields.String(
        allow_none=True, required=True, metadata={"description": "`cursor` for the next page"}
    ),
)
JobIdEnvelope = success_envelope("JobIdEnvelope", fields.Nested(JobId, required=True))
JobStateEnvelope = success_envelope("JobStateEnvelope", fields.Nested(JobState, required=True))
JobLogEnvelope = success_envelope("JobLogEnvelope", fields.Nested(JobLog, required=True))
JobEventListEnvelope = success_envelope(
    "JobEventListEnvelope", fields.List(fields.Nested(JobEvent), required=True)
)
UserEnvelope = success_envelope("UserEnvelope", fields.Nested(User, required=True))
UserListEnvelope = success_envelope(
    "UserListEnvelope", fields.List(fields.Nested(User), required=True)
)
TokenListEnvelope = success_envelope(
    "TokenListEnvelope", fields.List(fields.Nested(Token), required=True)
)
NewTokenEnvelope = success_envelope("NewTokenEnvelope", fields.Nested(NewToken, required=True))
EmptyEnvelope = success_envelope("EmptyEnvelope", fields.Dict(required=True))
SysinfoEnvelope = success_envelope("SysinfoEnvelope", fields.Nested(Sysinfo, required=True))
DefinitionEnvelope = success_envelope(
    "DefinitionEnvelope", fields.Nested(Definition, required=True)
)
DefinitionListEnvelope = success_envelope(
    "DefinitionListEnvelope", fields.List(fields.Nested(DefinitionSummary), required=True)
)
DefinitionVersionListEnvelope = success_envelope(
    "DefinitionVersionListEnvelope", fields.List(fields.Nested(DefinitionVersion), required=True)
)
QueueEnvelope = success_envelope("QueueEnvelope", fields.Nested(Queue, required=True))
QueueListEnvelope = success_envelope(
    "QueueListEnvelope", fields.List(fields.Nested(Queue), required=True)
)

WebhookEnvelope = success_envelope("WebhookEnvelope", fields.Nested(Webhook, required=True))
NewWebhookEnvelope = success_envelope(
    "NewWebhookEnvelope", fields.Nested(NewWebhook, required=True)
)
WebhookListEnvelope = success_envelope(
    "WebhookListEnvelope", fields.List(fields.Nested(Webhook), required=True)
)
WebhookDeliveryEnvelope = success_envelope(
    "WebhookDeliveryEnvelope", fields.Nested(WebhookDelivery, required=True)
)
WebhookDeliveryListEnvelope = success_envelope(
    "WebhookDeliveryListEnvelope", fields.List(fields.Nested(WebhookDelivery), required=True)
)

#: Everything the OpenAPI document names, by component name.
COMPONENTS = {
    "Error": ErrorEnvelope,
    "JobCreate": JobCreate,
    "JobUpdate": JobUpdate,
    "Job": Job,
    "JobEvent": JobEvent,
    "UserCreate": UserCreate,
    "UserUpdate": UserUpdate,
    "User": User,
    "TokenCreate": TokenCreate,
    "Token": Token,
    "NewToken": NewToken,
    "Sysinfo": Sysinfo,
    "JobEnvelope": JobEnvelope,
    "JobListEnvelope": JobListEnvelope,
    "JobIdEnvelope": JobIdEnvelope,
    "JobStateEnvelope": JobStateEnvelope,
    "JobEventListEnvelope": JobEventListEnvelope,
    "JobLogEnvelope": JobLogEnvelope,
    "UserEnvelope": UserEnvelope,
    "UserListEnvelope": UserListEnvelope,
    "TokenListEnvelope": TokenListEnvelope,
    "NewTokenEnvelope": NewTokenEnvelope,
    "EmptyEnvelope": EmptyEnvelope,
    "SysinfoEnvelope": SysinfoEnvelope,
    "Queue": Queue,
    "QueueEnvelope": QueueEnvelope,
    "QueueListEnvelope": QueueListEnvelope,
    "DefinitionCreate": DefinitionCreate,
    "DefinitionReplace": DefinitionReplace,
    "DefinitionRun": DefinitionRun,
    "Definition": Definition,
    "DefinitionVersion": DefinitionVersion,
    "DefinitionEnvelope": DefinitionEnvelope,
    "DefinitionListEnvelope": DefinitionListEnvelope,
    "DefinitionVersionListEnvelope": DefinitionVersionListEnvelope,
    "WebhookCreate": WebhookCreate,
    "WebhookUpdate": WebhookUpdate,
    "WebhookEnvelope": WebhookEnvelope,
    "NewWebhookEnvelope": NewWebhookEnvelope,
    "WebhookListEnvelope": WebhookListEnvelope,
    "WebhookDeliveryEnvelope": WebhookDeliveryEnvelope,
    "WebhookDeliveryListEnvelope": WebhookDeliveryListEnvelope,
}


# ---- schedules ----------------------------------------------------------------


class VersionOrLatest(fields.Field):
    """A definition's version: a positive integer, or ``"latest"`` (loaded as None:
    the latest version when each tick fires)."""

    def __init__(self, **kwargs):
        metadata = {
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": INT32_RANGE[1]},
                {"type": "string", "enum": ["latest"]},
            ],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "latest" or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError('must be a version number (1, 2, ...) or "latest"')
        if not 1 <= value <= INT32_RANGE[1]:
            raise ValidationError(f"must be between 1 and {INT32_RANGE[1]}")
        return value


class ScheduleCreate(Schema):
    """The body of ``POST /api/schedules``. Loading raises ``ValidationError`` keyed by
    field (400); the cron expression, the time zone and the parameters are checked by
    the handler (400 naming the field or ``parameters.<name>``)."""

    definition = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), storable_text],
        metadata={"description": "The definition's name (yours, or one shared with you)"},
    )
    owner = fields.String(
        validate=[validate.Length(min=1, max=255), storable_text],
        metadata={
            "description": "The definition's owner's username, when several you may "
            "see have that name"
        },
    )
    version = VersionOrLatest(
        metadata={
            "description": 'A version number, or "latest": the latest at each tick. Left '
            "out: latest for your own definition; for someone else's shared one, its "
            "latest version now (pinned: its owner's later changes do not run as you "
            'unless you ask for "latest")'
        },
    )
    description = fields.String(
        validate=[validate.Length(max=4096), storable_text], allow_none=True
    )
    parameters = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        validate=validate.Length(max=100),
        metadata={
            "description": "Parameter values, checked against the version now and at each tick"
        },
    )
    cron = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=255), storable_text],
        metadata={
            "description": "Five fields (minute hour day-of-month month day-of-week) or "
            "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
            "example": "30 2 * * *",
        },
    )
    timezone = fields.String(
        load_default="UTC",
        validate=[validate.Length(min=1, max=64), storable_text],
        metadata={
            "description": "IANA time zone the cron expression is read in",
            "example": "Europe/Berlin",
        },
    )
    enabled = JsonBoolean(load_default=True)
    overlap = fields.String(
        load_default="skip",
        validate=validate.OneOf(["skip", "queue", "allow"]),
        metadata={
            "description": "When the previous run has not ended: skip the tick (recorded), "
            "queue it (it fires when the run ends; at most one waits), or allow both"
        },
    )
    catch_up = fields.String(
        load_default="none",
        validate=validate.OneOf(["none", "latest"]),
        metadata={
            "description": "Ticks missed while the service was down: none (one recorded "
            "skip) or latest (the latest fires once)"
        },
    )
    overrides = fields.Nested(RunOverrides, load_default=dict)


class ScheduleUpdate(ScheduleCreate):
    """A schedule's changes (``PATCH``): any of the create fields but the definition."""

    class Meta:
        exclude = ("definition", "owner")


class ScheduleTime(Schema):
    """A tick: in UTC, and in the schedule's time zone (RFC 3339 with its offset)."""

    utc = UTCDateTime(required=True)
    local = fields.String(required=True, metadata={"example": "2026-11-30T02:30:00+01:00"})


class ScheduleFire(Schema):
    """One recorded tick: the job it fired (and the job's state), or why it was skipped."""

    tick = UTCDateTime(required=True)
    job_id = fields.String(allow_none=True)
    job_status = fields.String(
        allow_none=True, metadata={"description": "null once the job is deleted"}
    )
    skipped = fields.String(allow_none=True, metadata={"description": "why the tick did not fire"})
    recorded_at = UTCDateTime(required=True)


class Schedule(Schema):
    """A schedule as responses show it; secret parameters as ``********``."""

    id = fields.Integer(required=True)
    owner = fields.String(allow_none=True, metadata={"description": "who its jobs run as"})
    definition = fields.String(required=True)
    definition_owner = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True, metadata={"description": "null: the latest"})
    description = fields.String(allow_none=True)
    parameters = fields.Dict(required=True)
    overrides = fields.Dict(required=True)
    cron = fields.String(required=True)
    timezone = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    overlap = fields.String(required=True)
    catch_up = fields.String(required=True)
    next_fire_at = UTCDateTime(required=True, metadata={"description": "the next tick it owes"})
    next_fires = fields.List(
        fields.Nested(ScheduleTime),
        required=True,
        metadata={"description": "its next ticks (none while paused)"},
    )
    waiting = fields.Boolean(
        required=True,
        metadata={"description": "a due tick waits for the previous run (overlap queue)"},
    )
    last_job_id = fields.String(allow_none=True)
    last_fires = fields.List(fields.Nested(ScheduleFire), required=True)
    created_at = UTCDateTime(required=True)
    modified = UTCDateTime(required=True)


class ScheduleListQuery(Schema):
    """The query of ``GET /api/schedules``: paging."""

    limit = Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = Integer(load_default=0, validate=validate.Range(min=0, max=100_000))


ScheduleEnvelope = success_envelope("ScheduleEnvelope", fields.Nested(Schedule, required=True))
ScheduleListEnvelope = success_envelope(
    "ScheduleListEnvelope", fields.List(fields.Nested(Schedule), required=True)
)

COMPONENTS.update(
    {
        "ScheduleCreate": ScheduleCreate,
        "ScheduleUpdate": ScheduleUpdate,
        "Schedule": Schedule,
        "ScheduleEnvelope": ScheduleEnvelope,
        "ScheduleListEnvelope": ScheduleListEnvelope,
    }
)


# ---- stats --------------------------------------------------------------------


class StatsQuery(Schema):
    """The query of ``GET /api/stats``."""

    hours = Integer(
        load_default=24,
        validate=validate.Range(min=1, max=168),
        metadata={"description": "Hours shown, the current one included (1-168)"},
    )
    submitter_id = Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={
            "description": "Admins: this user's jobs only (everyone's by default). "
            "Others always get their own"
        },
    )


class StatsPeriod(Schema):
    """The jobs ended over the hours shown."""

    finished = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "Per outcome: COMPLETE, FAILED, TIMED_OUT, CANCELLED, SERVER_ERROR"
        },
    )
    failed = fields.Integer(
        required=True, metadata={"description": "FAILED, TIMED_OUT and SERVER_ERROR together"}
    )
    waits = fields.Integer(
        required=True, metadata={"description": "Jobs among them that started (had a wait)"}
    )
    wait_p50 = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "Median queue wait (queued -> started), seconds; null: none"},
    )
    wait_p95 = fields.Float(
        required=True, allow_none=True, metadata={"description": "95th percentile, seconds"}
    )


class StatsHour(StatsPeriod):
    """One hour (of the jobs' ends)."""

    hour = UTCDateTime(required=True, metadata={"description": "The hour's start (UTC)"})
    failed = fields.Integer()


class StatsNow(Schema):
    """Jobs per state and queue now."""

    by_state = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "Every state: READY, QUEUED and RUNNING counted now; the ended "
            "ones are every job that ended since the stats began (deleted ones too)"
        },
    )
    by_queue = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        required=True,
        metadata={"description": "Queue -> its jobs READY, QUEUED and RUNNING now"},
    )


class Stats(Schema):
    """``GET /api/stats``'s ``data`` (``shell_service/stats.py``)."""

    submitter_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "Whose jobs; null: everyone's"}
    )
    since = UTCDateTime(required=True, metadata={"description": "The first hour's start"})
    until = UTCDateTime(required=True, metadata={"description": "Now"})
    now = fields.Nested(StatsNow, required=True)
    period = fields.Nested(StatsPeriod, required=True)
    hours = fields.List(
        fields.Nested(StatsHour), required=True, metadata={"description": "Oldest first"}
    )
    wait_resolution = fields.Float(
        required=True,
        metadata={
            "description": "How far a percentile may be from the true wait (relative, for "
            "waits of 1 ms and more): the waits are counted in log-spaced buckets"
        },
    )
    rolled_until = UTCDateTime(
        required=True,
        allow_none=True,
        metadata={
            "description": "The hourly rollups hold the ends before this; later "
            "ones are counted from the jobs"
        },
    )


StatsEnvelope = success_envelope("StatsEnvelope", fields.Nested(Stats, required=True))

COMPONENTS.update({"StatsQuery": StatsQuery, "Stats": Stats, "StatsEnvelope": StatsEnvelope})
