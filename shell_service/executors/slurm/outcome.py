"""What Slurm's job states mean for a job here.

The job's own init (``job_init.c``, the batch script's one command) writes the
job's end record, ``exit_status``, in its directory on the shared filesystem,
as on a local host: when it is there, it says how the job ended (exit code,
our own timeout, the cancel). Slurm's state says whether the job still lives,
and why it ended when the init could not write its record (a memory kill, a
lost node, Slurm's own time limit). The table is the research's
(``slurm-research-2026-11-30.md``, "State mapping"), measured on Slurm 22.05.
"""

from ...job_states import JobStatus

#: Slurm keeps the job waiting: QUEUED here, its reason shown.
PENDING = frozenset(
    {"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
)
#: Its processes run (or are being ended, or are stopped): RUNNING here.
RUNNING = frozenset(
    {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "RESIZING", "SUSPENDED", "STOPPED"}
)
#: Slurm has ended it.
ENDED = frozenset(
    {
        "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "BOOT_FAIL",
        "DEADLINE", "OUT_OF_MEMORY", "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "LAUNCH_FAILED",
    }
)  # fmt: skip

#: The node Slurm ran the job on failed: "node lost" (or queued again).
NODE_LOST = frozenset({"NODE_FAIL", "BOOT_FAIL", "LAUNCH_FAILED"})

#: Slurm's own ends of a running job: its TERM reaches the job's init, whose record
#: then says only "killed by signal 15"; the state says why.
ENDED_BY_SLURM = NODE_LOST | {"CANCELLED", "TIMEOUT", "DEADLINE", "PREEMPTED"}

#: What slurmstepd writes to the job's Slurm log when it kills a job over its
#: memory (without cgroups: ``JobAcctGatherParams=OverMemoryKill``).
MEMORY_KILL_MARKERS = ("Exceeded job memory limit", "exceeded memory limit")

OUT_OF_MEMORY_MESSAGE = "killed: out of memory (the job's memory_mb limit)"


def pending_message(reason: str) -> str:
    """The status message of a job Slurm keeps pending, from its reason
    ("Priority", "Resources", "None" when it has none yet)."""
    if not reason or reason == "None":
        return "pending in Slurm"
    return f"pending in Slurm: {reason}"


def outcome_without_record(
    state: str | None,
    reason: str,
    node: str | None,
    ran: bool,
    cancel_requested: bool,
    slurm_log: str,
    cancelled_by: int | None = None,
) -> tuple[JobStatus, str | None, str | None]:
    """How a job ended that left no end record: its init never ran, or was killed
    (SIGKILL: a memory kill, a lost node, Slurm's own time limit past KillWait).

    Parameters
    ----------
    state : str or None
        Slurm's final state; None when Slurm no longer knows the job (and its
        record did not show up within the queue's ``lost_grace``).
    reason : str
        Slurm's reason for that state.
    node : str or None
        Where it ran.
    ran : bool
        Whether its init started (its ``work/`` directory exists).
    cancel_requested : bool
        A user asked to cancel it.
    slurm_log : str
        The end of the job's Slurm log (what slurmstepd and the batch shell wrote).
    cancelled_by : int, optional
        Who cancelled it in Slurm (a uid, from sacct where the site has accounting).

    Returns
    -------
    tuple
        ``(status, message, limit)``: a final JobStatus, the status message, and
        the limit that ended it ("memory", "timeout" or None; for the metrics).
    """
    if cancel_requested:
        return JobStatus.CANCELLED, None, None
    if state == "OUT_OF_MEMORY" or any(marker in slurm_log for marker in MEMORY_KILL_MARKERS):
        return JobStatus.FAILED, OUT_OF_MEMORY_MESSAGE, "memory"
    if state in ("TIMEOUT", "DEADLINE"):
        return JobStatus.TIMED_OUT, f"Slurm's time limit ended it ({state})", "timeout"
    if state == "CANCELLED":
        who = f" by uid {cancelled_by}" if cancelled_by is not None else ""
        return JobStatus.CANCELLED, f"cancelled in Slurm{who}, not through this service", None
    if state in NODE_LOST:
        where = f"node {node}" if node else "its node"
        return JobStatus.SERVER_ERROR, f"node lost: {where} failed (Slurm {state})", None
    if state is None:
        return JobStatus.SERVER_ERROR, "lost by Slurm: it no longer knows the job", None
    if not ran:
        last = _last_line(slurm_log)
        detail = f"{state}, {reason}" + (f": {last}" if last else "")
        return JobStatus.SERVER_ERROR, f"Slurm could not launch the job ({detail})", None
    if state == "PREEMPTED":
        return JobStatus.SERVER_ERROR, "preempted by Slurm", None
    if state == "FAILED":
        return JobStatus.FAILED, f"killed by Slurm ({reason})", None
    return JobStatus.SERVER_ERROR, f"ended by Slurm ({state}) without an end record", None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
