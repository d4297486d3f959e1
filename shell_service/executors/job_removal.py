"""Removing a job's directory: the job's own files as the job's user, the rest as us.

A job directory (``job_files.JobFiles``) is root's, flat, and holds only files
the launcher and the init made; its ``work/`` is the job user's and holds
whatever the job made there: any depth (a Python ``rmtree`` recurses and fails
past ~1,000 levels), any size (hundreds of thousands of files), and names,
modes and symlinks of the job's choosing. So what ``work/`` holds is removed by
``/usr/bin/find work -mindepth 1 -delete`` (fts: no depth limit, never follows
a symlink) run as the account that owns it, after ``/bin/chmod -R u+rwX`` as
that account (a directory the job made unreadable would stop it): the
service's rights never touch anything the job wrote, and the user can remove
nothing they could not remove themselves. Then we remove the empty ``work/``
(its parent is ours), the job directory's own files through its descriptor,
and the directory.

Both programs by absolute path, with a fixed environment (ARCHITECTURE.md, the
privilege boundary). Blocking (a large ``work/`` takes seconds): call it from a
thread, never from an event loop.
"""

import os
import stat
import subprocess
from pathlib import Path

FIND = "/usr/bin/find"
CHMOD = "/bin/chmod"
PROGRAM_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


class RemovalError(OSError):
    """A job directory could not be removed (the message says what was left)."""


def _run_as_owner(argv: list[str], owner: os.stat_result) -> subprocess.CompletedProcess:
    """Run ``argv`` as the account that owns ``owner`` (no groups but its own), or as
    we are when we own it (a service not run as root)."""
    drop = os.geteuid() == 0 and owner.st_uid != 0
    return subprocess.run(
        argv,
        env=dict(PROGRAM_ENV),
        cwd="/",
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        user=owner.st_uid if drop else None,
        group=owner.st_gid if drop else None,
        extra_groups=[] if drop else None,
    )


def remove_tree_as_owner(work: Path) -> None:
    """Remove the directory ``work`` and everything in it, as the account that owns it.

    Nothing when it does not exist. Blocking.

    Parameters
    ----------
    work : Path
        A job's ``work/``, a user's home or tmp directory (its parent is ours).

    Raises
    ------
    RemovalError
        Something stays, or ``work`` is not a directory.
    """
    try:
        owner = os.lstat(work)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(owner.st_mode):
        raise RemovalError(f"{work} is not a directory")
    # Errors of chmod (a file that went meanwhile) are find's to report.
    _run_as_owner([CHMOD, "-R", "u+rwX", "--", str(work)], owner)
    done = _run_as_owner([FIND, str(work), "-xdev", "-mindepth", "1", "-delete"], owner)
    try:
        os.rmdir(work)  # empty now: no link to follow
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise RemovalError(f"could not remove {work}: {done.stderr.strip()[:500]}") from exc


#: Directories of ours in a job directory, each flat and root's: a Slurm job's
#: ``submit/`` (executors/slurm/batch.py).
OWN_SUBDIRS = ("submit",)


def remove_job_directory(root: Path) -> None:
    """Remove the job directory ``root``: ``work/`` as its owner, then the directory's
    own files (and those of ``OWN_SUBDIRS``, flat, root's) and the directory.

    Nothing when it does not exist. Blocking.

    Parameters
    ----------
    root : Path
        Absolute, its parents the service's.

    Raises
    ------
    RemovalError
        Something stays (such as a directory the service did not make).
    OSError
        ``root`` cannot be opened as a directory (a symlink, say).
    """
    remove_tree_as_owner(root / "work")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        root_fd = os.open(root, flags)
    except FileNotFoundError:
        return
    try:
        for name in OWN_SUBDIRS:
            _remove_flat_dir(root_fd, name)
        for name in os.listdir(root_fd):
            try:
                os.unlink(name, dir_fd=root_fd)  # never a directory here: ours, flat
            except FileNotFoundError:
                pass
            except IsADirectoryError as exc:
                raise RemovalError(f"{root}/{name}: a directory the service did not make") from exc
    finally:
        os.close(root_fd)
    try:
        os.rmdir(root)
    except FileNotFoundError:
        pass


def _remove_flat_dir(parent_fd: int, name: str) -> None:
    """Remove ``name`` under ``parent_fd``, a flat directory of the service's (root
    0700: no job can write there): its files, then itself. Nothing if missing."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=parent_fd)
    except FileNotFoundError:
        return
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            raise RemovalError(f"{name}: not the service's")
        for entry in os.listdir(fd):
            os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)
