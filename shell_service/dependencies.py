"""Job dependencies: a job that waits for other jobs to end, with Slurm's
conditions (sbatch(1) ``--dependency``):

* ``afterok``: the other job ended COMPLETE (an array job: every task did);
* ``afternotok``: it ended in any other final state (FAILED, TIMED_OUT,
  CANCELLED, SERVER_ERROR);
* ``afterany``: it ended, however.

A job with dependencies is QUEUED but waits (``waiting_for = 'dependencies'``)
until all of them hold. When one can no longer hold (``afterok`` on a job that
failed), the job ends CANCELLED naming it, as Slurm does by default
(``kill_invalid_depend``), so nothing waits for ever (``queue/waiting.py``).
"""

import re

#: Slurm's conditions the service keeps (its others need job arrays' pairing or
#: a start, not an end).
CONDITIONS = ("afterok", "afternotok", "afterany")

#: The most dependencies one job may have.
MAX_DEPENDENCIES = 100

_SLURM_ITEM = re.compile(r"(afterok|afternotok|afterany):(.+)")


class DependencyError(ValueError):
    """A ``depends_on`` the service cannot take; ``str()`` says why, for a 400."""


def ambiguous_task(condition: str, before: str, number: str) -> str:
    """Why ``CONDITION:...:BEFORE:NUMBER`` in Slurm's text is refused: an array
    task's id is ``<array id>:<index>`` (``job_paths.TASK_ID_PATTERN``), so it may
    name task ``BEFORE:NUMBER`` or the jobs ``BEFORE`` and ``NUMBER``.

    Parameters
    ----------
    condition, before, number : str

    Returns
    -------
    str
    """
    before, number = before[:140], number[:20]
    return (
        f"'{before}:{number}' could be array '{before}''s task {number} or the jobs "
        f"'{before}' and '{number}': name a task in the list form, "
        f'[{{"job": "{before}:{number}", "condition": "{condition}"}}]; for the two '
        f"jobs, give '{number}' an item of its own ('{condition}:{before},{condition}:{number}')"
    )


def parse_depends_on(value: object) -> list[tuple[str, str]]:
    """Read a ``depends_on``: a list of ``{"job": id, "condition": c}`` (condition
    ``afterok`` when left out), or Slurm's text ``"afterok:A:B,afterany:C"``.

    Parameters
    ----------
    value : list of dict, or str
        In the text, a job whose id is digits only may not follow another job
        (``afterok:A:7`` could name array ``A``'s task 7): the list form names
        an array's task (``{"job": "A:7"}``).

    Returns
    -------
    list of (str, str)
        Each job id with its condition, in the order given.

    Raises
    ------
    DependencyError
        A wrong shape, an unknown condition or key, a job named twice, more than
        ``MAX_DEPENDENCIES``. (Whether each job exists and may be seen is the
        caller's check.)
    """
    pairs: list[tuple[str, str]] = []
    if isinstance(value, str):
        for item in value.split(","):
            match = _SLURM_ITEM.fullmatch(item.strip())
            if match is None:
                raise DependencyError(
                    f"{item.strip()!r}: use CONDITION:JOB[:JOB...] with CONDITION one of "
                    + ", ".join(CONDITIONS)
                )
            job_ids = match[2].split(":")
            for before, job_id in zip(job_ids, job_ids[1:], strict=False):
                if job_id.isascii() and job_id.isdigit():
                    raise DependencyError(ambiguous_task(match[1], before, job_id))
            pairs.extend((job_id, match[1]) for job_id in job_ids)
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("job"), str):
                raise DependencyError('each item must be {"job": "<id>", "condition": "afterok"}')
            unknown = set(item) - {"job", "condition"}
            if unknown:
                raise DependencyError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
            condition = item.get("condition", "afterok")
            if condition not in CONDITIONS:
                raise DependencyError(
                    f"condition {condition!r} is not one of {', '.join(CONDITIONS)}"
                )
            pairs.append((item["job"], condition))
    else:
        raise DependencyError("must be a list of {job, condition} or a string like 'afterok:A:B'")
    if not pairs:
        raise DependencyError("names no job")
    if len(pairs) > MAX_DEPENDENCIES:
        raise DependencyError(f"at most {MAX_DEPENDENCIES} dependencies")
    seen: set[str] = set()
    for job_id, _ in pairs:
        if not job_id:
            raise DependencyError("an empty job id")
        if job_id in seen:
            raise DependencyError(f"job {job_id!r} is named twice")
        seen.add(job_id)
    return pairs
