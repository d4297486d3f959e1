"""Slurm's client commands, run as asyncio subprocesses.

Each command runs by its absolute path (``slurm.bin_dir``) with the fixed
environment of ``slurm_cluster.client_environment``: nothing of the service's
own environment reaches a command, or, through sbatch, a job. Nothing a user
sent is on a command line: a job's script, args and env travel in files of its
directory (``batch.py``).

A command that cannot reach the controller (it is restarting: such a command
fails after about 9 s), or runs past ``COMMAND_TIMEOUT``, raises
``SlurmUnavailable``: the caller changes nothing and tries again later. Any
other failure of sbatch is Slurm refusing the job (``SlurmRefused``).
"""

import asyncio
import logging
import os
from dataclasses import dataclass

from baselayer.app.config import Config

from ...slurm_cluster import client_command, client_environment

log = logging.getLogger(__name__)

#: Seconds a Slurm command may take before it counts as "Slurm unreachable".
COMMAND_TIMEOUT = 30.0

#: Words of a Slurm command's error that mean the controller could not be reached
#: (not that it refused anything): try again later.
UNREACHABLE_MARKERS = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "Zero Bytes were transmitted",
    "Connection refused",
    "Communication connection failure",
    "Resource temporarily unavailable",
    "Transport endpoint is not connected",
    "slurmctld is not responding",
)

#: squeue's fields, in order (``%j``, the name, last: it is the one that may hold
#: the separator).
SQUEUE_FORMAT = "%i|%T|%r|%N|%j"


class SlurmUnavailable(Exception):
    """Slurm could not be asked (controller unreachable, command timed out or
    missing): nothing is known, nothing may change."""


class SlurmRefused(Exception):
    """sbatch refused the job; the message is Slurm's."""


@dataclass(frozen=True)
class SlurmRecord:
    """One job as ``squeue`` lists it.

    Attributes
    ----------
    slurm_job_id : int
    state : str
        Slurm's long state name (PENDING, RUNNING, COMPLETED, ...).
    reason : str
        Why it is pending, or how it ended ("None" when Slurm has none).
    node : str or None
        Its node (list), once it has one.
    name : str
        Its job name (ours: the job's id).
    """

    slurm_job_id: int
    state: str
    reason: str
    node: str | None
    name: str


def parse_squeue(text: str) -> dict[int, SlurmRecord]:
    """``squeue --noheader --format=SQUEUE_FORMAT``'s output, by Slurm job id.

    Lines that are not a job (an array's range, an empty line) are skipped.

    Parameters
    ----------
    text : str

    Returns
    -------
    dict of int to SlurmRecord
    """
    records = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 4)
        if len(parts) != 5 or not parts[0].isdigit():
            continue
        job_id, state, reason, node, name = parts
        state = state.split()[0] if state.split() else state  # "CANCELLED by 0"
        records[int(job_id)] = SlurmRecord(
            int(job_id), state, reason, node if node not in ("", "(null)") else None, name
        )
    return records


def unreachable(message: str) -> bool:
    """Whether a Slurm command's error says the controller could not be reached."""
    return any(marker in message for marker in UNREACHABLE_MARKERS)


class SlurmClient:
    """The Slurm client commands of one cluster (config ``slurm:``).

    Parameters
    ----------
    cfg : Config
    """

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.env = client_environment(cfg)

    async def run(self, name: str, args: list[str]) -> tuple[int, str, str]:
        """Run Slurm command ``name`` with ``args``; its exit code, stdout and stderr.

        Raises
        ------
        SlurmUnavailable
            The command is missing, or ran past COMMAND_TIMEOUT seconds (killed).
        """
        command = client_command(self.cfg, name)
        try:
            process = await asyncio.create_subprocess_exec(
                command,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd="/",
            )
        except OSError as exc:
            raise SlurmUnavailable(f"cannot run {command}: {exc.strerror or exc}") from None
        try:
            out, err = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise SlurmUnavailable(f"{name} took more than {COMMAND_TIMEOUT:.0f} s") from None
        return (
            process.returncode or 0,
            out.decode(errors="replace"),
            err.decode(errors="replace").strip(),
        )

    async def submit(self, options: list[str], script: str) -> int:
        """``sbatch --parsable OPTIONS SCRIPT``: the Slurm job id.

        Parameters
        ----------
        options : list of str
            sbatch's options (``batch.sbatch_options``).
        script : str
            The batch script's absolute path.

        Returns
        -------
        int

        Raises
        ------
        SlurmUnavailable
            The controller could not be reached (nothing was submitted, as far as
            sbatch knows: the caller looks the job up by name before it tries again).
        SlurmRefused
            Slurm refused the job (sbatch's message).
        """
        code, out, err = await self.run("sbatch", ["--parsable", *options, script])
        if code != 0:
            if unreachable(err):
                raise SlurmUnavailable(err)
            raise SlurmRefused(err.removeprefix("sbatch: error: ") or f"sbatch exited {code}")
        first = out.strip().split(";", 1)[0]  # "id" or "id;cluster"
        if not first.isdigit():
            raise SlurmUnavailable(f"sbatch answered {out.strip()!r}, not a job id")
        return int(first)

    async def jobs(
        self, partition: str | None = None, name: str | None = None
    ) -> dict[int, SlurmRecord]:
        """The jobs Slurm knows (every state, until it forgets them after
        MinJobAge) that this service's user submitted, in one ``squeue``.

        Parameters
        ----------
        partition : str, optional
            Only this partition's.
        name : str, optional
            Only the jobs of this name (one of ours: a job's id).

        Returns
        -------
        dict of int to SlurmRecord

        Raises
        ------
        SlurmUnavailable
            squeue failed (the answer is unknown, not empty).
        """
        args = ["--noheader", "--states=all", f"--format={SQUEUE_FORMAT}"]
        args.append(f"--user={os.geteuid()}")
        if partition:
            args.append(f"--partition={partition}")
        if name:
            args.append(f"--name={name}")
        code, out, err = await self.run("squeue", args)
        if code != 0:
            raise SlurmUnavailable(err or f"squeue exited {code}")
        return parse_squeue(out)

    async def cancel(self, slurm_job_ids: list[int]) -> None:
        """``scancel`` the jobs (TERM to every process of a running one, KILL after
        Slurm's KillWait; a pending one never runs). A job Slurm no longer knows
        is no error.

        Raises
        ------
        SlurmUnavailable
            The controller could not be reached.
        """
        if not slurm_job_ids:
            return
        code, _, err = await self.run("scancel", [str(i) for i in slurm_job_ids])
        if code != 0 and unreachable(err):
            raise SlurmUnavailable(err)
        if code != 0:
            log.warning("scancel %s: %s", slurm_job_ids, err)

    async def signal_batch(self, slurm_job_ids: list[int], signal: str = "TERM") -> bool:
        """``scancel --batch --signal=SIGNAL``: the signal to each job's batch shell
        alone (our job init, which then ends the job's processes itself, as on a
        local host), none to its children.

        Returns
        -------
        bool
            Whether scancel said nothing was wrong (False: a job not running yet,
            say; the caller falls back to ``cancel``).

        Raises
        ------
        SlurmUnavailable
            The controller could not be reached.
        """
        if not slurm_job_ids:
            return True
        args = ["--batch", f"--signal={signal}", *(str(i) for i in slurm_job_ids)]
        code, _, err = await self.run("scancel", args)
        if code != 0 and unreachable(err):
            raise SlurmUnavailable(err)
        return code == 0

    async def largest_node(self, partition: str | None) -> dict | None:
        """The most memory (MiB) and CPUs one node of ``partition`` (None: the
        default partition's) has, from one ``sinfo``; None when Slurm cannot say.
        Raises nothing."""
        args = ["--noheader", "--format=%m %c"]
        if partition:
            args.append(f"--partition={partition}")
        try:
            code, out, _ = await self.run("sinfo", args)
        except SlurmUnavailable:
            return None
        return parse_largest_node(out) if code == 0 else None

    async def final_state(self, slurm_job_id: int, name: str) -> tuple[str, str | None] | None:
        """How Slurm ended a job it no longer lists (squeue forgets after
        MinJobAge): ``(state, node)`` from ``sacct`` where the site keeps
        accounting, else from ``sacct -c`` (the controller's job completion file,
        where it keeps one); None when neither can say. Only a record of this
        ``name`` counts (ids restart when a controller's state is reset, and a
        completion file keeps the old ones). Raises nothing."""
        args = ["--noheader", "--parsable2", "-X", f"--jobs={slurm_job_id}"]
        args.append("--format=State,NodeList,JobName")
        for extra in ([], ["-c"]):
            try:
                code, out, _ = await self.run("sacct", [*extra, *args])
            except SlurmUnavailable:
                return None
            found = parse_final_state(out, name) if code == 0 else None
            if found is not None:
                return found
        return None

    async def cancelled_by(self, slurm_job_id: int) -> int | None:
        """Who cancelled a job, from ``sacct`` ("CANCELLED by 1234"): only where the
        site keeps accounting (slurmdbd); None when it does not, or cannot say.
        Raises nothing."""
        args = ["--noheader", "--parsable2", "-X", f"--jobs={slurm_job_id}", "--format=State"]
        try:
            code, out, _ = await self.run("sacct", args)
        except SlurmUnavailable:
            return None
        return parse_cancelled_by(out) if code == 0 else None


def parse_largest_node(text: str) -> dict | None:
    """``sinfo --format='%m %c'`` (memory MiB, CPUs per node, a line per node
    group; "1000+" where a group's nodes differ) as ``{"memory_mb", "cpus"}``,
    the largest of each; None when there is no node."""
    memory, cpus = [], []
    for line in text.splitlines():
        words = [w.rstrip("+") for w in line.split()]
        if len(words) == 2 and all(w.isdigit() for w in words):
            memory.append(int(words[0]))
            cpus.append(int(words[1]))
    return {"memory_mb": max(memory), "cpus": max(cpus)} if memory else None


def parse_final_state(text: str, name: str) -> tuple[str, str | None] | None:
    """sacct's ``State|NodeList|JobName`` lines: the last one named ``name`` as
    ``(state, node)``; None when there is none."""
    found = None
    for line in text.splitlines():
        parts = line.strip().split("|", 2)
        if len(parts) == 3 and parts[0] and parts[2] == name:
            node = parts[1] if parts[1] not in ("", "None assigned") else None
            found = (parts[0].split()[0], node)
    return found


def parse_cancelled_by(text: str) -> int | None:
    """The uid in sacct's "CANCELLED by <uid>" (None: none there)."""
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "CANCELLED" and words[1] == "by" and words[2].isdigit():
            return int(words[2])
    return None
