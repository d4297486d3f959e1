"""Job arrays: the ``array`` a job asks for, in Slurm's ``--array`` syntax.

An array job runs one task per index; each task is a job of its own whose
script sees ``SHELL_SERVICE_ARRAY_INDEX`` (and ``..._ARRAY_ID``, ``..._ARRAY_SIZE``).
The syntax is sbatch(1)'s ``--array``: a comma-separated list of indexes and
ranges (``0-999``, ``1,3,5-9``), a range may have a step (``0-15:4`` is 0, 4,
8, 12), and a ``%N`` suffix bounds how many tasks run at once. A bare size
(the JSON integer ``100``) means ``0-99``, as AWS Batch's array ``size``.

As in Slurm, every index is below the configured maximum (``arrays.max_size``,
Slurm's ``MaxArraySize``), so an array has at most that many tasks.
"""

import re
from dataclasses import dataclass

#: One item of the list: an index, or a range with an optional step.
_ITEM = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9})(?::([0-9]{1,9}))?)?")
_LIMIT = re.compile(r"%([0-9]{1,9})")


@dataclass(frozen=True)
class ArraySpec:
    """An array as asked for.

    Attributes
    ----------
    spec : str
        Its canonical text, e.g. ``"0-999%50"`` (a size ``n`` becomes ``"0-<n-1>"``).
    indexes : list of int
        Every task index, ascending, each once.
    max_running : int or None
        How many tasks may run at once (``%N``); None: no bound of its own (the
        queue's limits still hold).
    """

    spec: str
    indexes: list[int]
    max_running: int | None


class ArraySpecError(ValueError):
    """An ``array`` the service cannot run; ``str()`` says why, for a 400."""


def parse_array(value: int | str, max_size: int) -> ArraySpec:
    """Read an ``array`` (a size, or sbatch's ``--array`` syntax).

    Parameters
    ----------
    value : int or str
        A size (1 to ``max_size``), or text such as ``"0-999%50"``, ``"1,3,5-9"``,
        ``"0-15:4"``.
    max_size : int
        ``arrays.max_size``: every index must be below it.

    Returns
    -------
    ArraySpec

    Raises
    ------
    ArraySpecError
        Not a size or that syntax; an index at or past ``max_size``; a range that
        ends before it starts; a zero step or ``%0``; no index at all.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ArraySpecError("must be a size (an integer) or a string such as '0-99%10'")
    if isinstance(value, int):
        if not 1 <= value <= max_size:
            raise ArraySpecError(f"a size must be 1 to {max_size} (arrays.max_size)")
        return ArraySpec(f"0-{value - 1}", list(range(value)), None)
    text = value.strip()
    list_part, _, limit_part = text.partition("%")
    max_running = None
    if limit_part or text.endswith("%"):
        match = _LIMIT.fullmatch("%" + limit_part)
        if match is None or int(match[1]) < 1:
            raise ArraySpecError("'%N' (tasks running at once) needs a whole number N >= 1")
        max_running = int(match[1])
    indexes: set[int] = set()
    for item in list_part.split(","):
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise ArraySpecError(
                f"{item.strip()!r} is not an index or a range: use e.g. '0-999', '1,3,5-9', "
                "'0-15:4', with '%N' at the end for N at once"
            )
        start = int(match[1])
        end = int(match[2]) if match[2] is not None else start
        step = int(match[3]) if match[3] is not None else 1
        if end < start:
            raise ArraySpecError(f"range {item.strip()!r} ends before it starts")
        if step < 1:
            raise ArraySpecError(f"range {item.strip()!r} has a step of 0")
        if end >= max_size:
            raise ArraySpecError(
                f"index {end} is past the most allowed, {max_size - 1} (arrays.max_size)"
            )
        indexes.update(range(start, end + 1, step))
    ordered = sorted(indexes)
    canonical = ",".join(part.strip() for part in list_part.split(","))
    if max_running is not None:
        canonical += f"%{max_running}"
    return ArraySpec(canonical, ordered, max_running)


def task_id(array_id: str, index: int) -> str:
    """A task's job id: ``<array job id>:<index>``, as AWS Batch names an array's
    children (``job_paths.TASK_ID_PATTERN``; Slurm's ``123_7`` would be a name a
    user could take first).

    Parameters
    ----------
    array_id : str
        The array job's id.
    index : int

    Returns
    -------
    str
    """
    return f"{array_id}:{index}"


#: The longest id an array job may have: its tasks' ids add ":" and an index
#: below arrays.max_size (at most 9 digits), within a job id's 128 characters.
MAX_ARRAY_ID_LENGTH = 128 - 10
