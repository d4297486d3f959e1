"""Each API user's Unix account: the identity that user's jobs run as (issue 11, section 3).

On every host, for the API user with id N (``jobs.accounts`` in the config):

    passwd   <name>:x:<uid>:<uid>:shell_service <prefix> user <N> <key>:<home>:/bin/sh
             uid = uid_base + N; a group of the same name and number; a locked
             password (no login); no subuid range, mail spool or lastlog entry
    home     <homes_dir>/<name>  owned by the uid, 0700 when made, kept between jobs
    tmp      <tmp_dir>/<name>    owned by the uid, 0700 when made: the launcher mounts
             it over /tmp and /var/tmp in that user's jobs

and one row in the ``unix_accounts`` table (``UnixAccount``), shared by every host.

The name is the prefix and the username, lowercased, every character outside
``[a-z0-9_-]`` turned into ``_``, cut to 32 characters (the longest name useradd
takes). When that name is already another user's row, or the host has it (user or
group) under another number, or it is empty or looks like a fallback (``u`` and
digits), the name is ``<prefix>u<N>`` instead. The name is fixed once the row exists.

Whose account is it (the rules that keep one user's files from another):

- The passwd comment (GECOS) carries a marker with no user-controlled text:
  ``shell_service <prefix> user <N> <key>``, ``key`` being random and stored in the
  row. An entry is reused only when its name, uid, gid, home and marker all match
  the row (another host, or an earlier run, made it).
- The uid under another name, the name under another uid, or the name and uid
  without our marker: ``AccountError``; someone else's account is never taken over.
- A database recreated on a host that keeps old accounts (``make db_init`` on an
  empty database): user id N may now be someone else. Their new row has a new key,
  so the old entry's marker does not match and ``ensure`` raises ``AccountError``
  saying what the operator can do (remove the old account and its home, or, if it
  really is the same person, copy the old key into the row). Old user N's home is
  never handed to new user N.

What runs as root here, and how (the code runs as root; the username is hostile):
``/usr/sbin/groupadd``, ``useradd`` and ``userdel`` by absolute path with the
environment ``PROGRAM_ENV`` and stdin from /dev/null; the username reaches them
only as the sanitised name. The per-user directories are made with ``mkdir`` in a
parent opened with ``O_NOFOLLOW`` and are never descended into: one that already
exists must be a real directory (not a symlink) owned by the account's uid, or one
of our own (root-owned) left half made by a crash or a concurrent executor.

When the service does not run as root it cannot switch users: jobs run as the
service's own user (``Account.uid`` is ours, ``tmp`` is ``None``: no private /tmp),
and each API user still gets a home of their own, ``<homes_dir>/<name>`` (owned by
the service's user, so it does not keep users' files apart: the README must say so).
"""

import grp
import logging
import os
import pwd
import re
import secrets
import stat
import subprocess
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from baselayer.app.config import Config
from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL

from .. import queue
from .job_files import usable_dir
from .job_removal import remove_tree_as_owner

log = logging.getLogger(__name__)

#: The whole environment of every program run here as root.
PROGRAM_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
GROUPADD = "/usr/sbin/groupadd"
USERADD = "/usr/sbin/useradd"
USERDEL = "/usr/sbin/userdel"
GROUPDEL = "/usr/sbin/groupdel"
#: The login shell in the passwd entry (what ``$SHELL`` and ``getpwuid`` say).
LOGIN_SHELL = "/bin/sh"
#: Longest user name useradd accepts.
MAX_NAME = 32
#: User ids per stack: a stack's uids are [uid_base, uid_base + UID_SPAN).
UID_SPAN = 2**24
#: Highest usable uid: the kernel takes uids to 2**32 - 2, but tools read them as
#: signed 32-bit numbers (bubblewrap's uid map fails with EINVAL above 2**31 - 1).
MAX_UID = 2**31 - 1
PREFIX_PATTERN = re.compile(r"[a-z_][a-z0-9_-]{0,15}")
NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
#: Exit codes of useradd/groupadd: the name or the number is taken (a concurrent
#: executor may just have made it), and the passwd/group files are locked or unwritable.
TAKEN = (4, 9)
BUSY = (1, 10)
ATTEMPTS = 5


class AccountError(Exception):
    """An account cannot be made or used as it is; the message says why and what to do."""


@dataclass(frozen=True)
class Account:
    """A Unix identity jobs run as.

    Attributes
    ----------
    name : str
        The passwd name.
    uid : int
    gid : int
        Its own group, the same number as ``uid`` (the service's gid without root).
    home : Path
        ``<homes_dir>/<name>``, owned by ``uid``, 0700 when made, kept between jobs.
    tmp : Path or None
        ``<tmp_dir>/<name>``, owned by ``uid``, 0700: the launcher mounts it on
        /tmp. None when the service does not run as root: jobs then run as the
        service's own user and get no private /tmp.
    """

    name: str  # passwd name
    uid: int
    gid: int  # its own group, same number as uid
    home: Path  # <homes_dir>/<name>, owned by uid, mode 0700, persists
    tmp: Path | None  # <tmp_dir>/<name>, owned by uid, 0700: the launcher mounts it on /tmp


@dataclass(frozen=True)
class Settings:
    """``jobs.accounts`` of a config, checked (``from_config``).

    Attributes
    ----------
    prefix : str
        Every account name's start.
    uid_base : int
        User id N's uid is ``uid_base + N``.
    homes_dir, tmp_dir : Path
        As configured, resolved against the project root.
    """

    prefix: str
    uid_base: int
    homes_dir: Path  # as configured, resolved against the project root
    tmp_dir: Path

    @classmethod
    def from_config(cls, cfg: Config) -> "Settings":
        """``jobs.accounts`` of ``cfg``, checked.

        Parameters
        ----------
        cfg : Config

        Returns
        -------
        Settings

        Raises
        ------
        AccountError
            A value is unusable (the message names the key and what it may be).
        """
        prefix = str(cfg["jobs.accounts.prefix"])
        if not PREFIX_PATTERN.fullmatch(prefix):
            raise AccountError(
                f"jobs.accounts.prefix {prefix!r}: a lowercase letter or '_', then at most"
                " 15 of a-z, 0-9, '_' and '-'"
            )
        uid_base = cfg["jobs.accounts.uid_base"]
        if not isinstance(uid_base, int) or not 65536 <= uid_base <= MAX_UID + 1 - UID_SPAN:
            raise AccountError(
                f"jobs.accounts.uid_base {uid_base!r}: a whole number from 65536 to"
                f" {MAX_UID + 1 - UID_SPAN} (its stack's uids are uid_base + user id,"
                f" user ids below {UID_SPAN})"
            )
        return cls(
            prefix,
            uid_base,
            cfg.path("jobs.accounts.homes_dir"),
            cfg.path("jobs.accounts.tmp_dir"),
        )

    def marker(self, user_id: int, key: str) -> str:
        """The passwd comment of a user's account: no user-controlled text.

        Parameters
        ----------
        user_id : int
        key : str
            The random key of the user's ``unix_accounts`` row.

        Returns
        -------
        str
            ``shell_service <prefix> user <user_id> <key>``.
        """
        return f"shell_service {self.prefix} user {user_id} {key}"

    def marker_user(self, gecos: str) -> int | None:
        """The user id in a marker of this stack's.

        Parameters
        ----------
        gecos : str
            A passwd comment.

        Returns
        -------
        int or None
            None when ``gecos`` is not one of this stack's markers.
        """
        match = re.fullmatch(rf"shell_service {re.escape(self.prefix)} user (\d+) [0-9a-f]+", gecos)
        return int(match.group(1)) if match else None

    def owns_uid(self, uid: int) -> bool:
        """Whether ``uid`` is in this stack's range, ``[uid_base, uid_base + 2**24)``.

        Parameters
        ----------
        uid : int

        Returns
        -------
        bool
        """
        return self.uid_base <= uid < self.uid_base + UID_SPAN


def derived_name(prefix: str, username: str) -> str | None:
    """The account name made from a username.

    ``prefix`` + ``username`` lowercased, each character outside [a-z0-9_-] made
    '_', cut to 32 characters.

    Parameters
    ----------
    prefix : str
    username : str
        The API username (hostile text).

    Returns
    -------
    str or None
        None when nothing is left of the username or it looks like a fallback
        name (``u`` and digits, which ``fallback_name`` keeps for itself).
    """
    part = re.sub(r"[^a-z0-9_-]", "_", username.lower())
    part = (prefix + part)[:MAX_NAME][len(prefix) :]
    if not part or re.fullmatch(r"u[0-9]+", part):
        return None
    return prefix + part


def fallback_name(prefix: str, user_id: int) -> str:
    """The account name of a user whose derived name cannot be used.

    Parameters
    ----------
    prefix : str
    user_id : int

    Returns
    -------
    str
        ``<prefix>u<user id>``: unique per user, at most 16 + 1 + 8 characters.
    """
    return f"{prefix}u{user_id}"


def run_program(argv: list[str]) -> subprocess.CompletedProcess:
    """Run a system program as we are (root), in a fixed environment.

    Absolute path, ``PROGRAM_ENV`` only, stdin from /dev/null, cwd /, output
    captured (text) for error messages.

    Parameters
    ----------
    argv : list of str
        The program by absolute path, and its arguments.

    Returns
    -------
    subprocess.CompletedProcess
        Whatever its exit code (the caller checks it).

    Raises
    ------
    subprocess.TimeoutExpired
        It ran for over 60 seconds.
    """
    assert os.path.isabs(argv[0]), argv
    return subprocess.run(
        argv,
        env=dict(PROGRAM_ENV),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        cwd="/",
        timeout=60,
        check=False,
    )


def _entry(lookup, key):
    """``lookup(key)`` (``pwd.getpwnam``, ``grp.getgrgid``...), or None when the
    host has no such user or group."""
    try:
        return lookup(key)
    except KeyError:
        return None


def _open_dir(path: Path | str, dir_fd: int | None = None) -> int:
    """A directory's fd, refusing a symlink in its last component."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, dir_fd=dir_fd)


def prepare_parent(configured: Path, kind: str) -> Path:
    """The directory that holds every account's ``kind`` ("homes", "tmp").

    The configured one, or a fallback that job users can reach (``usable_dir``);
    made if missing, root-owned, mode 0711 (users may walk to their own, not list).

    Parameters
    ----------
    configured : Path
    kind : str
        "homes" or "tmp".

    Returns
    -------
    Path

    Raises
    ------
    AccountError
        It is a symlink or not a directory, is not root's, or one of its parents
        could be renamed by others (writable by group or others without the
        sticky bit).
    """
    path = usable_dir(configured, True, kind)
    path.mkdir(parents=True, exist_ok=True)
    try:
        fd = _open_dir(path)
    except OSError as exc:
        raise AccountError(f"{path} (accounts' {kind}): not a directory we can use: {exc}")
    try:
        st = os.fstat(fd)
        if st.st_uid != 0:
            raise AccountError(f"{path} (accounts' {kind}) is owned by uid {st.st_uid}, not root")
        os.fchmod(fd, 0o711)
    finally:
        os.close(fd)
    for parent in path.parents:
        st = os.lstat(parent)
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            raise AccountError(
                f"{parent} is writable by others: whoever can write there could swap"
                f" {path} (accounts' {kind}); choose another jobs.accounts.{kind}_dir"
            )
    return path


def refuse_leftover_dir(parent: Path, name: str, uid: int) -> None:
    """Before an account is made: ``parent/name`` must not already hold a user's files.

    One owned by a uid other than ours (root's) is what an earlier account left
    (its passwd entry removed, its home kept): a new user with the same id would
    get the earlier one's files.

    Parameters
    ----------
    parent : Path
    name : str
    uid : int
        The new account's uid.

    Raises
    ------
    AccountError
        Saying what to remove.
    """
    try:
        st = os.stat(parent / name, follow_symlinks=False)
    except FileNotFoundError:
        return
    if st.st_uid != os.geteuid():
        raise AccountError(
            f"{parent / name} is left from an earlier account (owned by uid {st.st_uid}) and"
            f" this host has no account {name}: a new user must not get its files. Remove"
            f" it (rm -rf {parent / name}) or, if it is this user's, make the account again"
            " with its earlier passwd entry"
        )


def make_private_dir(parent: Path, name: str, uid: int, gid: int) -> Path:
    """``parent/name``, made with mode 0700 and given to ``uid``:``gid``, or checked when
    it exists.

    An existing one must be a real directory (not a symlink) owned by ``uid``; its
    mode is then left as its owner set it. Nothing inside it is read or touched. A
    root-owned directory there is ours, half made (only root can write in the 0711
    root-owned parent): a crash between mkdir and chown, or a concurrent
    executor; it is finished.

    Parameters
    ----------
    parent : Path
    name : str
    uid, gid : int

    Returns
    -------
    Path
        ``parent/name``.

    Raises
    ------
    AccountError
        A symlink, not a directory, someone else's, or it changed while being made.
    """
    path = parent / name
    parent_fd = _open_dir(parent)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        except FileExistsError:
            pass
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise AccountError(f"{path} is a symbolic link; remove it (it was not followed)")
        if not stat.S_ISDIR(st.st_mode):
            raise AccountError(f"{path} exists and is not a directory; remove it")
        if st.st_uid == uid:
            return path
        if st.st_uid != os.geteuid():
            raise AccountError(
                f"{path} belongs to uid {st.st_uid}, not to its account's uid {uid}:"
                " someone else's files; move them away"
            )
        fd = _open_dir(name, dir_fd=parent_fd)
        try:
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise AccountError(f"{path} changed while it was being made; try again")
            os.fchmod(fd, 0o700)
            os.fchown(fd, uid, gid)
        finally:
            os.close(fd)
        return path
    finally:
        os.close(parent_fd)


def _ensure_service_dir(parent: Path, name: str) -> Path:
    """Without root: ``parent/name`` as the service's user, 0700 (a real directory)."""
    parent.mkdir(parents=True, exist_ok=True)
    return make_private_dir(parent, name, os.geteuid(), os.getegid())


class Accounts:
    """This host's Unix accounts for API users (see the module's docstring).

    One per executor process; ``ensure`` is thread-safe (a lock around making
    accounts; the cache is read without it)."""

    def __init__(self, cfg: Config, as_root: bool | None = None):
        """Read ``jobs.accounts``; nothing is made yet.

        Parameters
        ----------
        cfg : Config
            ``jobs.accounts``, and the database (the ``unix_accounts`` rows).
        as_root : bool, optional
            Whether accounts are made (by default: whether we run as root); False
            gives every API user the service's own identity.

        Raises
        ------
        AccountError
            ``jobs.accounts`` is unusable.
        """
        self.settings = Settings.from_config(cfg)
        self.database_url = database_url(cfg)
        self.as_root = os.geteuid() == 0 if as_root is None else as_root
        self._cache: dict[int, Account] = {}
        self._lock = threading.Lock()
        self._dirs: tuple[Path, Path] | None = None

    def cached(self, user_id: int) -> Account | None:
        """The account of user ``user_id`` if this process has it already.

        No blocking: the executor's event loop asks this before ``ensure``.

        Parameters
        ----------
        user_id : int

        Returns
        -------
        Account or None
        """
        return self._cache.get(user_id)

    def ensure(self, user_id: int, username: str) -> Account:
        """The account a user's jobs run as, made if missing.

        Blocking (the database, useradd): call it in a thread. Cached per process
        after the first call per user (about 20 ms then, microseconds after). Finds or
        makes the user's ``unix_accounts`` row, then makes sure this host has its
        group, passwd entry, home and tmp directory.

        Parameters
        ----------
        user_id : int
        username : str
            The API username (the account's name is derived from it the first time).

        Returns
        -------
        Account

        Raises
        ------
        AccountError
            A message for the operator: the host has a conflicting entry or
            directory, the row disagrees with ``jobs.accounts`` (prefix or uid_base
            changed), or the user id is too large for the uid range.
        """
        account = self._cache.get(user_id)
        if account is not None:
            return account
        with self._lock:
            account = self._cache.get(user_id)
            if account is None:
                account = self._ensure(user_id, username)
                self._cache[user_id] = account
            return account

    def _ensure(self, user_id: int, username: str) -> Account:
        s = self.settings
        if not 0 < user_id < UID_SPAN:
            raise AccountError(f"user id {user_id}: accounts cover user ids 1 to {UID_SPAN - 1}")
        row = self._row(user_id, username)
        if row.uid != s.uid_base + user_id or not row.name.startswith(s.prefix):
            raise AccountError(
                f"user {user_id}'s account is {row.name} (uid {row.uid}), made with another"
                f" jobs.accounts.prefix or uid_base than today's ({s.prefix!r}, {s.uid_base}):"
                " put them back"
            )
        if not self.as_root:
            homes = s.homes_dir
            home = _ensure_service_dir(homes, row.name)
            try:
                name = pwd.getpwuid(os.geteuid()).pw_name
            except KeyError:
                name = str(os.geteuid())
            return Account(name, os.geteuid(), os.getegid(), home, None)
        if self._dirs is None:
            self._dirs = (
                prepare_parent(s.homes_dir, "homes"),
                prepare_parent(s.tmp_dir, "tmp"),
            )
        homes, tmps = self._dirs
        home = homes / row.name
        marker = s.marker(user_id, row.key)
        if not self._host_has(row.name, row.uid, marker, home, user_id):
            for parent in (homes, tmps):
                refuse_leftover_dir(parent, row.name, row.uid)
            self._create(row.name, row.uid, marker, home, user_id)
        make_private_dir(homes, row.name, row.uid, row.uid)
        make_private_dir(tmps, row.name, row.uid, row.uid)
        return Account(row.name, row.uid, row.uid, home, tmps / row.name)

    def _row(self, user_id: int, username: str) -> queue.AccountRow:
        """The user's row, made if missing (safe against other executors making it).
        On a connection of its own: accounts are made in threads, several at once."""
        s = self.settings
        with closing(PlainSQL(self.database_url, "shell_service accounts")) as sql:
            row = queue.account_row(sql, user_id)
            if row is not None:
                return row
            uid = s.uid_base + user_id
            fallback = fallback_name(s.prefix, user_id)
            name = derived_name(s.prefix, username) or fallback
            if name != fallback and self._name_taken(sql, name, user_id, uid):
                name = fallback
            for candidate in dict.fromkeys([name, fallback]):
                queue.insert_account_row(sql, user_id, candidate, uid, secrets.token_hex(8))
                row = queue.account_row(sql, user_id)
                if row is not None:
                    return row
            # The fallback name and the uid are this user's alone: only a row of a
            # stack with another uid_base or prefix could hold them.
            raise AccountError(
                f"cannot record user {user_id}'s account: name {fallback} or uid {uid}"
                " is in unix_accounts for another user (jobs.accounts changed?)"
            )

    def _name_taken(self, sql: PlainSQL, name: str, user_id: int, uid: int) -> bool:
        """Whether ``name`` is another user's row, or the host's under another number."""
        other = queue.account_name_owner(sql, name)
        if other is not None and other != user_id:
            return True
        if not self.as_root:
            return False
        entry, group = _entry(pwd.getpwnam, name), _entry(grp.getgrnam, name)
        return (entry is not None and entry.pw_uid != uid) or (
            group is not None and group.gr_gid != uid
        )

    def _host_has(self, name: str, uid: int, marker: str, home: Path, user_id: int) -> bool:
        """Whether this host has the account as the row says (True), or nothing of it
        (False). Raises AccountError on anything else: never take over an account."""
        by_uid, by_name = _entry(pwd.getpwuid, uid), _entry(pwd.getpwnam, name)
        if by_uid is not None and by_uid.pw_name != name:
            raise AccountError(
                f"uid {uid} (for user {user_id}'s account {name}) is already {by_uid.pw_name!r}"
                " on this host: another account has the number; move it, or choose another"
                " jobs.accounts.uid_base"
            )
        if by_name is None:
            return False
        if by_name.pw_uid != uid:  # _row avoids such names when it picks one
            raise AccountError(f"{name} is uid {by_name.pw_uid} on this host, not {uid}")
        if by_name.pw_gecos != marker:
            raise AccountError(self._not_ours(name, uid, by_name.pw_gecos, marker, home, user_id))
        if by_name.pw_gid != uid or by_name.pw_dir != str(home):
            raise AccountError(
                f"{name} (uid {uid}) has group {by_name.pw_gid} and home {by_name.pw_dir}"
                f" on this host, not {uid} and {home} (jobs.accounts.homes_dir changed?):"
                f" fix it with usermod -g {uid} -d {home} {name}"
            )
        self._check_group(name, uid)
        return True

    def _not_ours(self, name, uid, gecos, marker, home, user_id) -> str:
        s = self.settings
        tmps = self._dirs[1] if self._dirs else s.tmp_dir
        if s.marker_user(gecos) == user_id:
            key = gecos.rsplit(" ", 1)[1]
            return (
                f"{name} (uid {uid}) on this host was made for user {user_id} of another"
                f" database (its passwd comment is {gecos!r}, this database's account is"
                f" {marker!r}): its home {home} may hold someone else's files. If they are"
                f" not wanted: userdel {name} && rm -rf {home} {tmps / name}. If"
                " this is the same person (a database restored with the same user ids):"
                f" UPDATE unix_accounts SET key = '{key}' WHERE user_id = {user_id}"
            )
        return (
            f"{name} (uid {uid}) exists on this host but was not made by this service"
            f" (its passwd comment is {gecos!r}, not {marker!r}): it is left alone;"
            " move it, or choose another jobs.accounts.uid_base and prefix"
        )

    def _check_group(self, name: str, gid: int) -> bool:
        """Whether the group exists as it should; AccountError if the name or the number
        is another group's."""
        by_gid, by_name = _entry(grp.getgrgid, gid), _entry(grp.getgrnam, name)
        if by_gid is not None and by_gid.gr_name != name:
            raise AccountError(
                f"gid {gid} (for account {name}) is already group {by_gid.gr_name!r}"
            )
        if by_name is not None and by_name.gr_gid != gid:
            raise AccountError(f"group {name} is gid {by_name.gr_gid} on this host, not {gid}")
        return by_name is not None

    def _create(self, name: str, uid: int, marker: str, home: Path, user_id: int) -> None:
        """groupadd, then useradd; when another process made either first ("already
        exists"), what it made is read back and accepted if it matches."""
        useradd = [
            USERADD,
            # A system account: no subuid/subgid range (which would let the user map
            # ids in user namespaces), no mail spool, no password ageing.
            "--system",
            # No lastlog/faillog entry (a uid near 3e9 makes /var/log/lastlog a
            # sparse file of hundreds of GB).
            "--no-log-init",
            "--no-create-home",  # made by make_private_dir
            "--no-user-group",
            "--gid", str(uid),
            "--uid", str(uid),
            "--home-dir", str(home),
            "--shell", LOGIN_SHELL,
            "--comment", marker,
            "--", name,
        ]  # fmt: skip
        groupadd = [GROUPADD, "--system", "--gid", str(uid), "--", name]
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            if not self._check_group(name, uid):
                done = run_program(groupadd)
                if done.returncode not in (0, *TAKEN, *BUSY):
                    raise AccountError(f"groupadd {name} failed: {done.stderr.strip()}")
                if done.returncode:
                    continue  # busy, or made by someone else: check again
            if self._host_has(name, uid, marker, home, user_id):
                return
            done = run_program(useradd)
            if done.returncode == 0:
                log.info("Made account %s (uid %d) for user %d", name, uid, user_id)
                return
            if done.returncode not in (*TAKEN, *BUSY):
                raise AccountError(f"useradd {name} failed: {done.stderr.strip()}")
        if self._host_has(name, uid, marker, home, user_id):
            return
        raise AccountError(f"could not make account {name}: useradd or groupadd kept failing")


def _remove_dir(parent: Path, name: str, uid_ok) -> bool:
    """Remove ``parent/name`` (``parent`` is the service's) and all in it, as its
    owner (``job_removal``), when it is a real directory whose owner passes
    ``uid_ok``. Raises job_removal.RemovalError when something stays."""
    try:
        parent_fd = _open_dir(parent)
    except FileNotFoundError:
        return False
    try:
        try:
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if not stat.S_ISDIR(st.st_mode) or not uid_ok(st.st_uid):
            return False
    finally:
        os.close(parent_fd)
    remove_tree_as_owner(Path(parent) / name)
    return True


def remove_stack_accounts(cfg: Config) -> int:
    """Remove every Unix account this config's stack made, with its group, home and
    tmp directory.

    For test stacks, whose databases (and so user ids) start afresh each run.
    Ours: the name starts with ``jobs.accounts.prefix``, the uid is in
    [uid_base, uid_base + 2**24) and the passwd comment is our marker for that
    uid. Also removes directories left in homes_dir and tmp_dir under the prefix
    by an account that is gone (owned by a uid of the range no one has). An
    account userdel refuses (its user still has processes) is logged and kept.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    int
        How many accounts were removed. Without root: only the homes (the
        service's own) are removed, and 0 is returned.

    Raises
    ------
    AccountError
        ``jobs.accounts`` is unusable.
    job_removal.RemovalError
        A directory could not be removed whole.
    """
    s = Settings.from_config(cfg)
    if os.geteuid() != 0:
        homes = s.homes_dir
        if homes.is_dir():
            for name in os.listdir(homes):
                if name.startswith(s.prefix):
                    _remove_dir(homes, name, lambda uid: uid == os.geteuid())
        return 0
    homes = usable_dir(s.homes_dir, True, "homes")
    tmps = usable_dir(s.tmp_dir, True, "tmp")
    removed = 0
    for entry in pwd.getpwall():
        if not (
            entry.pw_name.startswith(s.prefix)
            and s.owns_uid(entry.pw_uid)
            and s.marker_user(entry.pw_gecos) == entry.pw_uid - s.uid_base
        ):
            continue
        done = run_program([USERDEL, "--", entry.pw_name])
        if done.returncode != 0:
            log.warning("userdel %s failed: %s", entry.pw_name, done.stderr.strip())
            continue
        group = _entry(grp.getgrnam, entry.pw_name)
        if group is not None and group.gr_gid == entry.pw_uid:
            run_program([GROUPDEL, "--", entry.pw_name])
        removed += 1

    def unowned(uid: int) -> bool:
        # In our range, and no account has it (any more).
        return s.owns_uid(uid) and _entry(pwd.getpwuid, uid) is None

    for parent in (homes, tmps):
        if parent.is_dir():
            for name in os.listdir(parent):
                if name.startswith(s.prefix):
                    _remove_dir(parent, name, unowned)
    return removed
