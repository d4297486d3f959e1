"""Formatting for people: the job table, a job's fields, and the queued-job spinner."""

import datetime
import re
import shlex
import sys
import time
from typing import TextIO

#: Columns of ``ls``: header and job field.
LIST_COLUMNS = (
    ("ID", "id"),
    ("STATUS", "status"),
    ("QUEUE", "queue"),
    ("CODE", "return_code"),
    ("CREATED", "created_at"),
)


#: Characters a terminal acts on rather than shows: C0 controls but newline and tab,
#: DEL, and the C1 controls (ESC sequences, CSI in one byte, carriage return...).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: each control character but newline and
    tab shown as an escape (``\x1b``), so what another user wrote (a shared
    definition's script, a job's fields) cannot move the cursor, erase lines or
    retitle the window.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def format_time(value: str | None) -> str:
    """An API timestamp (ISO 8601, UTC) as ``YYYY-MM-DD HH:MM:SS``; ``-`` for none."""
    if not value:
        return "-"
    return datetime.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def cell(job: dict, field: str) -> str:
    """One table cell of a job."""
    value = job.get(field)
    if field.endswith("_at"):
        return format_time(value)
    return "-" if value is None else str(value)


def job_table(jobs: list[dict]) -> str:
    """Jobs as an aligned table with a header row (times in UTC)."""
    rows = [[header for header, _ in LIST_COLUMNS]]
    rows[0][-1] += " (UTC)"
    rows += [[cell(job, field) for _, field in LIST_COLUMNS] for job in jobs]
    return aligned(rows)


def aligned(rows: list[list[str]]) -> str:
    """Rows of cells as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def queue_table(queues: list[dict]) -> str:
    """``GET /api/queues``' answer as a table: name (* the default), jobs queued and
    running, the running limits, the maxima of a job's options, and the description."""

    def most(value) -> str:
        return "-" if value is None else str(value)

    rows = [["QUEUE", "QUEUED", "RUNNING", "MAX RUN", "PER USER", "MAX TIMEOUT", "MAX CPUS",
             "MAX MEM MB", "DESCRIPTION"]]  # fmt: skip
    for queue in queues:
        limits, jobs = queue["limits"], queue["jobs"]
        rows.append(
            [
                queue["name"] + (" *" if queue.get("default") else ""),
                str(jobs["queued"]),
                str(jobs["running"]),
                most(limits["max_running"]),
                most(limits["max_running_per_user"]),
                most(limits["timeout"]["max"]),
                most(limits["cpus"]["max"]),
                most(limits["memory_mb"]["max"]),
                queue.get("description", ""),
            ]
        )
    return aligned(rows)


def duration(start: str | None, end: str | None) -> str | None:
    """Seconds between two API timestamps, as ``1.2 s``; None without both."""
    if not (start and end):
        return None
    seconds = (
        datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)
    ).total_seconds()
    return f"{seconds:.1f} s"


def status_line(job: dict) -> str:
    """``FAILED (killed by signal 9 (SIGKILL))``: the status and the service's reason."""
    if job.get("status_message"):
        return f"{job['status']} ({job['status_message']})"
    return job["status"]


def output_line(job: dict, stream: str) -> str | None:
    """How much of a stream the job row keeps, once the job has ended."""
    text = job.get(stream)
    if text is None:
        return None
    size = len(text.encode("utf-8"))
    cut = ", truncated" if job.get(f"{stream}_truncated") else ""
    return f"{size} bytes{cut}"


def job_fields(job: dict) -> list[tuple[str, str | None]]:
    """A job's fields as (label, text) pairs, in reading order; text None: leave out."""
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in job.get("env", {}).items())
    stdin = job.get("stdin")
    return [
        ("id", job["id"]),
        ("status", status_line(job)),
        ("return code", None if job.get("return_code") is None else str(job["return_code"])),
        ("shell", job.get("shell")),
        ("args", shlex.join(job["args"]) if job.get("args") else None),
        ("env", env or None),
        ("stdin", None if stdin is None else f"{len(stdin.encode('utf-8'))} bytes"),
        ("timeout", f"{job['timeout']} s" if "timeout" in job else None),
        ("queue", job.get("queue")),
        ("host", job.get("host")),
        ("slurm job", None if job.get("slurm_job_id") is None else str(job["slurm_job_id"])),
        ("slurm node", job.get("slurm_node")),
        ("definition", definition_line(job)),
        ("parameters", parameters_line(job)),
        ("schedule", None if job.get("schedule_id") is None else schedule_line(job)),
        ("waiting for", waiting_line(job)),
        ("retry", retry_line(job)),
        ("depends on", dependencies_line(job)),
        ("array", array_line(job)),
        ("array tasks", array_tasks_line(job)),
        (
            "array task",
            None
            if job.get("array_id") is None
            else f"{job.get('array_index')} of array {job['array_id']} "
            f"({job.get('array_size')} tasks)",
        ),
        ("priority", str(job.get("priority", 0))),
        ("cpus", str(job["cpus"]) if "cpus" in job else None),
        ("memory", f"{job['memory_mb']} MiB" if "memory_mb" in job else None),
        ("submitter", str(job.get("submitter_id"))),
        ("created", format_time(job.get("created_at")) + " UTC"),
        ("queued", job.get("queued_at") and format_time(job["queued_at"]) + " UTC"),
        ("started", job.get("started_at") and format_time(job["started_at"]) + " UTC"),
        ("finished", job.get("finished_at") and format_time(job["finished_at"]) + " UTC"),
        ("waited", duration(job.get("queued_at"), job.get("started_at"))),
        ("ran", duration(job.get("started_at"), job.get("finished_at"))),
        ("stdout", output_line(job, "stdout")),
        ("stderr", output_line(job, "stderr")),
    ]


def definition_line(job: dict) -> str | None:
    """The definition a job ran from, with its version; None for a plain job."""
    if not job.get("definition_name"):
        return None
    gone = " (deleted since)" if job.get("definition_id") is None else ""
    return f"{job['definition_name']} version {job.get('definition_version')}{gone}"


def parameters_line(job: dict) -> str | None:
    """A run's parameter values, NAME=VALUE separated by spaces (secrets come masked)."""
    values = job.get("parameters")
    if not values:
        return None
    shown = (",".join(v) if isinstance(v, list) else str(v) for v in values.values())
    return " ".join(f"{name}={shlex.quote(text)}" for name, text in zip(values, shown, strict=True))


def dependencies_line(job: dict) -> str | None:
    """A job's dependencies: ``afterok:A (COMPLETE, satisfied), afterany:B (RUNNING)``."""
    found = job.get("depends_on") or []
    if not found:
        return None

    def one(dependency: dict) -> str:
        state = dependency.get("status") or "deleted"
        settled = dependency.get("satisfied")
        verdict = "" if settled is None else (", satisfied" if settled else ", not satisfied")
        return f"{dependency['condition']}:{dependency['job']} ({state}{verdict})"

    return ", ".join(one(dependency) for dependency in found)


def array_line(job: dict) -> str | None:
    """An array job's indexes, as asked (``0-99%10``)."""
    if not job.get("array_spec"):
        return None
    return f"{job['array_spec']} ({job.get('array_size')} tasks)"


def array_tasks_line(job: dict) -> str | None:
    """An array job's tasks per state: ``COMPLETE 3, RUNNING 2, PENDING 5``."""
    counts = job.get("array_tasks")
    if not counts:
        return None
    return ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))


def schedule_line(job: dict) -> str:
    """The schedule that fired a job, and the tick it fired for."""
    tick = job.get("scheduled_for")
    return f"{job['schedule_id']}" + (f", tick {format_time(tick)} UTC" if tick else "")


def indented(text: str, prefix: str = "    ") -> str:
    """Every line of ``text`` after ``prefix``."""
    return "\n".join(prefix + line for line in text.splitlines()) or prefix


def event_line(event: dict) -> str:
    """One state change: time, transition, who and why."""
    transition = f"{event.get('from_status') or '(new)'} -> {event['to_status']}"
    actor = f" by user {event['actor_id']}" if event.get("actor_id") is not None else ""
    detail = f": {event['detail']}" if event.get("detail") else ""
    return f"{format_time(event['created_at'])}  {transition}{actor}{detail}"


def waiting_line(job: dict) -> str | None:
    """``waiting for``: why a QUEUED job may not start yet; a back-off's end."""
    reason = job.get("waiting_for")
    if reason == "backoff" and job.get("eligible_at"):
        return f"backoff (until {format_time(job['eligible_at'])} UTC)"
    return reason


def retry_line(job: dict) -> str | None:
    """``retry``: the strategy in one line ("attempt 2 of 3, on FAILED exit 75,
    back-off 10 s x2 up to 600 s"); None without one."""
    retry = job.get("retry")
    if not retry:
        return None
    on = ", ".join(retry.get("on") or [])
    codes = retry.get("exit_codes")
    if codes:
        on = on.replace("FAILED", "FAILED exit " + ",".join(map(str, codes)))
    text = f"attempt {job.get('attempt', 1)} of {retry.get('attempts')}, on {on}"
    backoff = retry.get("backoff") or {}
    if backoff.get("initial"):
        text += (
            f", back-off {backoff['initial']:g} s x{backoff.get('factor', 2):g}"
            f" up to {backoff.get('max', 0):g} s"
        )
    return text


def attempt_line(attempt: dict) -> str:
    """One attempt of ``show``: number, state (exit code), host, start, run time, message."""
    state = attempt["status"]
    if attempt.get("return_code") is not None:
        state += f" (exit {attempt['return_code']})"
    parts = [f"{attempt['number']}: {state}"]
    if attempt.get("host"):
        parts.append(f"on {attempt['host']}")
    if attempt.get("started_at"):
        parts.append(f"started {format_time(attempt['started_at'])}")
    ran = duration(attempt.get("started_at"), attempt.get("finished_at"))
    if ran:
        parts.append(f"ran {ran}")
    if attempt.get("status_message"):
        parts.append(f"- {attempt['status_message']}")
    return " ".join(parts)


def job_details(job: dict, events: list[dict]) -> str:
    """``show``: the job's fields, its attempts (a retried job's), its script and
    its history."""
    fields = [(label, text) for label, text in job_fields(job) if text is not None]
    width = max(len(label) for label, _ in fields) + 1
    lines = [f"{label + ':':<{width}} {text}" for label, text in fields]
    attempts = job.get("attempts") or []
    if job.get("retry") or len(attempts) > 1:
        lines += ["attempts (UTC):", *(indented(attempt_line(a)) for a in attempts)]
    lines += ["code:", indented(job.get("code", ""))]
    if events:
        lines += ["history (UTC):", *(indented(event_line(event)) for event in events)]
    return "\n".join(lines)


class Spinner:
    """A one-line progress indicator on a terminal; nothing at all on anything else.

    Parameters
    ----------
    stream
        Where to draw (stderr).
    """

    FRAMES = "|/-\\"

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.frame = 0
        self.drawn = False

    def tick(self, text: str) -> None:
        """Redraw the line: the next frame, ``text`` and the seconds since the start."""
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        frame = self.FRAMES[self.frame % len(self.FRAMES)]
        self.frame += 1
        self.stream.write(f"\r\x1b[K{frame} {text} ({elapsed:.0f} s)")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        """Erase the line, so output that follows starts clean."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False
