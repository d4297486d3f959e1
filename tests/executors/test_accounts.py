"""Each API user's Unix account (shell_service/executors/accounts.py): real passwd
entries, groups and directories on this host, made as root. Every test removes what
it made (``made`` fixture); the cfg fixture's accounts (prefix ``ssu-`` in tests/config.test.yaml)
are apart from any stack's."""

import copy
import os
import pwd
import re
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from baselayer.app.config import Config
from baselayer.app.models import User
from shell_service.executors import accounts as accounts_module
from shell_service.executors import job_files
from shell_service.executors.accounts import (
    PROGRAM_ENV,
    UID_SPAN,
    Account,
    AccountError,
    Accounts,
    derived_name,
    remove_stack_accounts,
)
from shell_service.executors.job_files import usable_dir
from shell_service.models import UnixAccount

from .. import factories

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="makes Unix accounts: needs root")

NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def homes_root(cfg):
    """Where homes are as root: the configured place, or its fallback (usable_dir)."""
    return usable_dir(cfg.path("jobs.accounts.homes_dir"), True, "homes")


def tmp_root(cfg):
    return usable_dir(cfg.path("jobs.accounts.tmp_dir"), True, "tmp")


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=PROGRAM_ENV, capture_output=True, text=True, check=False)


def passwd(name: str):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def plant(name: str, uid: int, comment: str) -> None:
    """A passwd entry (and group) made behind the service's back."""
    done = run("/usr/sbin/groupadd", "--gid", str(uid), name)
    assert done.returncode == 0, done.stderr
    done = run(
        *("/usr/sbin/useradd", "--system", "--no-log-init", "--no-create-home", "--no-user-group"),
        *("--uid", str(uid), "--gid", str(uid), "--comment", comment, name),
    )
    assert done.returncode == 0, done.stderr


def remove(name: str) -> None:
    run("/usr/sbin/userdel", name)
    run("/usr/sbin/groupdel", name)


@pytest.fixture
def accounts(cfg, session_factory):
    return Accounts(cfg)


@pytest.fixture
def made(cfg):
    """Names of passwd entries and groups a test made (or may have made): removed
    after it, with their directories."""
    names: list[str] = []
    yield names
    settings = accounts_module.Settings.from_config(cfg)
    for name in filter(None, names):
        remove(name)
        for parent in (settings.homes_dir, settings.tmp_dir):
            path = parent / name
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


def expected_name(cfg, user) -> str:
    return derived_name(cfg["jobs.accounts.prefix"], user.username)


def row_of(session_factory, user_id: int) -> UnixAccount | None:
    with session_factory() as session:
        return session.get(UnixAccount, user_id)


def assert_private(path: Path, uid: int) -> None:
    st = os.lstat(path)
    assert stat.S_ISDIR(st.st_mode)
    assert (st.st_uid, st.st_gid) == (uid, uid)
    assert stat.S_IMODE(st.st_mode) == 0o700


def test_ensure_makes_a_user_with_a_private_home_and_tmp(cfg, accounts, session_factory, made):
    P = cfg["jobs.accounts.prefix"]
    user = factories.UserFactory(username=f"Ada.Lovelace_{os.urandom(3).hex()}")
    name = expected_name(cfg, user)
    made.append(name)
    subuid_before = Path("/etc/subuid").read_text()
    lastlog_before = os.stat("/var/log/lastlog").st_size

    account = accounts.ensure(user.id, user.username)

    uid = cfg["jobs.accounts.uid_base"] + user.id
    assert account == Account(
        name,
        uid,
        uid,
        homes_root(cfg) / name,
        tmp_root(cfg) / name,
    )
    assert name.startswith(P + "ada_lovelace_")
    entry = pwd.getpwnam(name)
    assert (entry.pw_uid, entry.pw_gid) == (uid, uid)
    assert entry.pw_dir == str(account.home)
    assert entry.pw_shell == "/bin/sh"
    assert (
        entry.pw_gecos == f"shell_service {P} user {user.id} {row_of(session_factory, user.id).key}"
    )
    assert pwd.getpwuid(uid).pw_name == name
    assert_private(account.home, uid)
    assert_private(account.tmp, uid)
    for parent in (account.home.parent, account.tmp.parent):
        st = os.lstat(parent)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o711)
    # The side effects useradd has without --system and --no-log-init: none.
    assert Path("/etc/subuid").read_text() == subuid_before
    assert not os.path.lexists(f"/var/mail/{name}")
    assert os.stat("/var/log/lastlog").st_size == lastlog_before
    shadow = [
        line for line in Path("/etc/shadow").read_text().splitlines() if line.startswith(name + ":")
    ]
    assert shadow and shadow[0].split(":")[1] == "!"  # locked: no password login
    # `id` and `whoami` of the account, as a job would run them.
    whoami = subprocess.run(
        [
            "/usr/bin/setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "/usr/bin/whoami",
        ],
        env=PROGRAM_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    assert whoami.stdout.strip() == name


def test_a_second_ensure_is_cached_and_a_new_process_reuses_the_account(
    cfg, accounts, session_factory, made, monkeypatch
):
    user = factories.UserFactory()
    made.append(expected_name(cfg, user))
    first = accounts.ensure(user.id, user.username)
    # Cached: no database, no passwd lookup, no program.
    monkeypatch.setattr(accounts_module, "run_program", None)
    monkeypatch.setattr(accounts, "database_url", None)
    assert accounts.ensure(user.id, user.username) is first
    monkeypatch.undo()
    # Another executor (or this one restarted): the same row, entry and dirs.
    (first.home / "kept").write_text("mine")
    again = Accounts(cfg)
    calls = []
    monkeypatch.setattr(accounts_module, "run_program", lambda argv: calls.append(argv))
    assert again.ensure(user.id, user.username) == first
    assert calls == []  # nothing to make
    assert (first.home / "kept").read_text() == "mine"


def test_a_concurrent_executor_having_made_it_first_is_accepted(cfg, session_factory, made):
    """useradd/groupadd answer "already exists": what is there is read back and accepted."""
    user = factories.UserFactory()
    made.append(expected_name(cfg, user))
    one, two = Accounts(cfg), Accounts(cfg)
    account = one.ensure(user.id, user.username)
    row = row_of(session_factory, user.id)
    marker = two.settings.marker(user.id, row.key)

    # As if the other executor made the group and the user between our look and
    # our groupadd/useradd: each answers "already exists".
    def not_there_once(method):
        calls = []

        def wrapper(*args):
            calls.append(args)
            return False if len(calls) == 1 else method(*args)

        return wrapper, calls

    two._check_group, group_calls = not_there_once(two._check_group)
    two._host_has, user_calls = not_there_once(two._host_has)
    ran = []
    real_run = accounts_module.run_program
    accounts_module.run_program = lambda argv: ran.append(real_run(argv)) or ran[-1]
    try:
        two._create(account.name, account.uid, marker, account.home, user.id)
    finally:
        accounts_module.run_program = real_run
    assert [done.returncode for done in ran] == [9, 9]  # groupadd, useradd: name taken
    assert len(group_calls) >= 2 and len(user_calls) >= 2
    # And two executors racing from nothing end with one account.
    racer = factories.UserFactory()
    made.append(expected_name(cfg, racer))
    results, errors = [], []

    def ensure(acc):
        try:
            results.append(acc.ensure(racer.id, racer.username))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    pair = (Accounts(cfg), Accounts(cfg))
    threads = [threading.Thread(target=ensure, args=(a,)) for a in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results[0] == results[1]
    assert pwd.getpwnam(results[0].name).pw_uid == results[0].uid


def test_usernames_that_sanitize_alike_get_distinct_names(cfg, accounts, made):
    P = cfg["jobs.accounts.prefix"]
    suffix = os.urandom(3).hex()
    one = factories.UserFactory(username=f"Grace.H_{suffix}")
    two = factories.UserFactory(username=f"grace@h_{suffix}")
    made += [f"{P}grace_h_{suffix}", f"{P}u{two.id}", f"{P}u{one.id}"]
    first = accounts.ensure(one.id, one.username)
    second = accounts.ensure(two.id, two.username)
    assert first.name == f"{P}grace_h_{suffix}"
    assert second.name == f"{P}u{two.id}"
    assert first.uid != second.uid and first.home != second.home and first.tmp != second.tmp


def test_a_name_the_host_has_under_another_uid_is_not_taken(cfg, accounts, made):
    P = cfg["jobs.accounts.prefix"]
    squatter = f"{P}sq{os.urandom(3).hex()}"
    made.append(squatter)
    plant(squatter, cfg["jobs.accounts.uid_base"] - 7, "someone else")
    user = factories.UserFactory(username=squatter[len(P) :])
    made.append(f"{P}u{user.id}")
    account = accounts.ensure(user.id, user.username)
    assert account.name == f"{P}u{user.id}"
    assert pwd.getpwnam(squatter).pw_gecos == "someone else"


HOSTILE = [
    "../../etc",
    "root",
    "a" * 64,
    "Ada.Lovelace@x",
    "-rf",
    "",
    "u1",
    "x/../../../tmp/y",
    "ssu-u1",
    "ssau-u1",
    ".",
    "..",
    "a\nb:c,d",
    "Ådå \u212a",
    "$(reboot)",
]


def test_hostile_usernames_give_valid_names_inside_the_dirs(cfg, accounts, made, session_factory):
    P = cfg["jobs.accounts.prefix"]
    homes = homes_root(cfg)
    tmps = tmp_root(cfg)
    suffix = os.urandom(2).hex()
    users = []
    for username in HOSTILE:
        # Usernames are unique: the exact string once per test database.
        with session_factory() as session:
            taken = session.scalar(select(User.id).where(User.username == username))
        users.append(
            factories.UserFactory(username=username if taken is None else username + suffix)
        )
    for user in users:
        made += [expected_name(cfg, user) or "", f"{P}u{user.id}"]
    names = set()
    for user in users:
        account = accounts.ensure(user.id, user.username)
        assert NAME.fullmatch(account.name), account.name
        assert account.name.startswith(P) and len(account.name) <= 32
        assert account.home.parent == homes and account.tmp.parent == tmps
        assert os.path.realpath(account.home) == str(homes / account.name)
        assert pwd.getpwnam(account.name).pw_uid == account.uid
        assert_private(account.home, account.uid)
        names.add(account.name)
    assert len(names) == len(users)
    by_username = {
        u.username: a for u, a in ((u, accounts.ensure(u.id, u.username)) for u in users)
    }
    if "a" * 64 in by_username:
        assert by_username["a" * 64].name == P + "a" * (32 - len(P))
    if "-rf" in by_username:
        assert by_username["-rf"].name == P + "-rf"
    for fallback in ("", "u1", "."):  # nothing left, or looks like a fallback name
        if fallback in by_username:
            user_id = next(u.id for u in users if u.username == fallback)
            assert by_username[fallback].name in (f"{P}u{user_id}", P + "_")
    assert sorted(os.listdir(homes)) == sorted(os.listdir(tmps))


def test_a_symlink_at_the_home_path_is_refused_and_not_followed(cfg, accounts, made, tmp_path):
    user = factories.UserFactory()
    name = expected_name(cfg, user)
    made.append(name)
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    homes = homes_root(cfg)
    homes.mkdir(parents=True, exist_ok=True)
    (homes / name).symlink_to(target)
    with pytest.raises(AccountError, match="symbolic link"):
        accounts.ensure(user.id, user.username)
    st = os.stat(target)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o755)
    assert (homes / name).is_symlink()
    # Nor a file, nor a directory of someone else's.
    (homes / name).unlink()
    (homes / name).write_text("")
    with pytest.raises(AccountError, match="not a directory"):
        accounts.ensure(user.id, user.username)
    (homes / name).unlink()
    (homes / name).mkdir()
    os.chown(homes / name, 12345, 12345)
    with pytest.raises(AccountError, match="belongs to uid 12345"):
        accounts.ensure(user.id, user.username)
    assert os.stat(homes / name).st_uid == 12345
    # A half-made one of ours (root's, as a crash after mkdir leaves it) is finished.
    os.chown(homes / name, 0, 0)
    account = accounts.ensure(user.id, user.username)
    assert_private(account.home, account.uid)


def test_a_passwd_entry_with_our_uid_under_another_name_is_refused(cfg, accounts, made):
    user = factories.UserFactory()
    uid = cfg["jobs.accounts.uid_base"] + user.id
    other = f"other{user.id}"
    made += [other, expected_name(cfg, user)]
    plant(other, uid, "not ours")
    with pytest.raises(AccountError, match=f"uid {uid} .* already '{other}'"):
        accounts.ensure(user.id, user.username)
    assert passwd(expected_name(cfg, user)) is None
    assert pwd.getpwuid(uid).pw_name == other


def test_our_name_and_uid_without_our_marker_is_refused(cfg, accounts, made):
    user = factories.UserFactory()
    name = expected_name(cfg, user)
    uid = cfg["jobs.accounts.uid_base"] + user.id
    made.append(name)
    plant(name, uid, "an admin made this")
    with pytest.raises(AccountError, match="not made by this service"):
        accounts.ensure(user.id, user.username)
    assert not (homes_root(cfg) / name).exists()


def test_a_recreated_database_never_hands_over_an_old_users_home(cfg, session_factory, made):
    """User id N in a new database is a new person: the old entry's key differs."""
    user = factories.UserFactory()
    made.append(expected_name(cfg, user))
    old = Accounts(cfg).ensure(user.id, user.username)
    (old.home / "secret").write_text("old user's")
    with session_factory() as session:  # the database recreated: the row is gone
        session.execute(delete(UnixAccount).where(UnixAccount.user_id == user.id))
        session.commit()
    with pytest.raises(AccountError, match="another database") as error:
        Accounts(cfg).ensure(user.id, user.username)
    assert f"userdel {old.name}" in str(error.value)
    # What the message offers for the same person: the old key back in the row.
    key = pwd.getpwnam(old.name).pw_gecos.rsplit(" ", 1)[1]
    with session_factory() as session:
        session.get(UnixAccount, user.id).key = key
        session.commit()
    assert Accounts(cfg).ensure(user.id, user.username) == old


def test_programs_run_by_absolute_path_with_a_fixed_environment(
    cfg, accounts, made, monkeypatch, tmp_path
):
    fake = tmp_path / "bin"
    fake.mkdir()
    for program in ("useradd", "groupadd"):
        (fake / program).write_text("#!/bin/sh\ntouch " + str(tmp_path / "ran") + "\n")
        (fake / program).chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    monkeypatch.setenv("LD_PRELOAD", "/nonexistent.so")
    seen = []
    real = subprocess.run

    def spy(argv, **kwargs):
        seen.append((argv, kwargs))
        return real(argv, **kwargs)

    monkeypatch.setattr(accounts_module.subprocess, "run", spy)
    user = factories.UserFactory()
    made.append(expected_name(cfg, user))
    accounts.ensure(user.id, user.username)
    assert [argv[0] for argv, _ in seen] == ["/usr/sbin/groupadd", "/usr/sbin/useradd"]
    for argv, kwargs in seen:
        assert kwargs["env"] == {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
        assert kwargs["stdin"] == subprocess.DEVNULL
        assert argv[-2] == "--"  # the name is never taken for an option
    useradd = seen[1][0]
    # Measured on Debian 12: without --system, useradd gives a uid within UID_MAX a
    # 65536-id subuid/subgid range (rootless user namespaces) and, with
    # CREATE_MAIL_SPOOL=yes, a mail spool; without --no-log-init it writes the
    # uid's lastlog record (a sparse file of hundreds of GB for a uid near 3e9).
    assert {"--system", "--no-log-init", "--no-create-home"} <= set(useradd)
    assert not (tmp_path / "ran").exists()


def test_user_ids_outside_the_range_and_bad_settings_are_refused(cfg, session_factory):
    with pytest.raises(AccountError, match="user id"):
        Accounts(cfg).ensure(UID_SPAN, "big")
    for key, value in (
        ("prefix", "Bad"),
        ("prefix", "a:b"),
        ("uid_base", 1000),
        ("uid_base", 2**32),
    ):
        bad = Config(copy.deepcopy(dict(cfg)), cfg.root)
        bad["jobs"]["accounts"][key] = value
        with pytest.raises(AccountError, match=f"jobs.accounts.{key}"):
            Accounts(bad)


def test_without_root_every_user_is_the_service_with_a_home_of_their_own(
    cfg, session_factory, made
):
    accounts = Accounts(cfg, as_root=False)
    user = factories.UserFactory()
    made.append(expected_name(cfg, user))
    account = accounts.ensure(user.id, user.username)
    assert (account.uid, account.gid, account.tmp) == (os.geteuid(), os.getegid(), None)
    assert account.name == pwd.getpwuid(os.geteuid()).pw_name
    assert account.home == cfg.path("jobs.accounts.homes_dir") / expected_name(cfg, user)
    assert_private(account.home, os.geteuid())  # root here: uid and gid 0
    assert passwd(expected_name(cfg, user)) is None  # no account made


def test_an_unreachable_configured_place_falls_back(
    cfg, session_factory, made, tmp_path, monkeypatch
):
    """A project under a 0700 directory: job users could not reach their homes there."""
    fallback_root = cfg.path("app.run_dir") / "fallback_unit"
    monkeypatch.setattr(job_files, "FALLBACK_ROOT", fallback_root)
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    unit = Config(copy.deepcopy(dict(cfg)), cfg.root)
    unit["jobs"]["accounts"].update(homes_dir=str(closed / "homes"), tmp_dir=str(closed / "tmp"))
    user = factories.UserFactory()
    made.append(expected_name(cfg, user))
    account = Accounts(unit).ensure(user.id, user.username)
    assert account.home.parent.parent.parent == fallback_root
    assert account.home.parent.name == "homes" and account.tmp.parent.name == "tmp"
    assert job_files.others_can_traverse(account.home.parent)
    assert not (closed / "homes").exists()
    assert pwd.getpwnam(account.name).pw_dir == str(account.home)
    remove(account.name)
    subprocess.run(["rm", "-rf", "--one-file-system", str(fallback_root)], check=True)


def test_remove_stack_accounts_removes_exactly_ours(cfg, session_factory, made):
    """A stack of its own (prefix <prefix>r, the uids past the cfg fixture's), so that the
    accounts other tests of this session made stay."""
    P = cfg["jobs.accounts.prefix"]
    stack = Config(copy.deepcopy(dict(cfg)), cfg.root)
    base = cfg["jobs.accounts.uid_base"] + UID_SPAN
    place = cfg.path("app.run_dir") / f"remove_{os.urandom(3).hex()}"
    stack["jobs"]["accounts"].update(
        prefix=P + "r", uid_base=base, homes_dir=str(place / "homes"), tmp_dir=str(place / "tmp")
    )
    homes = homes_root(stack)  # the usable place (a clone under /tmp has its fallback)
    try:
        users = [factories.UserFactory(), factories.UserFactory()]
        mine = [Accounts(stack).ensure(u.id, u.username) for u in users]
        made += [a.name for a in mine]
        (mine[0].home / "data").write_text("x")
        os.symlink("/etc", mine[0].tmp / "link")  # what a job might leave: not followed
        # Not ours: the prefix and a uid in range, another marker; ours in form but
        # outside the range; a marker of ours with another prefix.
        far = UID_SPAN
        strangers = [
            (f"{P}rstranger{os.urandom(2).hex()}", base + UID_SPAN - 1, "an admin's"),
            # (a marker that matches its uid, which is past the range)
            (f"{P}rfar{os.urandom(2).hex()}", base + UID_SPAN, f"shell_service {P}r user {far} ab"),
            (f"{P}x{os.urandom(2).hex()}", base + 1, f"shell_service {P}x user 1 ab"),
        ]
        for name, uid, comment in strangers:
            made.append(name)
            plant(name, uid, comment)
        # A directory an account that is gone left behind; one of root's.
        leftover = homes / f"{P}rgone"
        leftover.mkdir()
        os.chown(leftover, base + 99, base + 99)
        roots = homes / f"{P}rroot"
        roots.mkdir()

        assert remove_stack_accounts(stack) == 2

        for account in mine:
            assert passwd(account.name) is None
            assert not os.path.lexists(account.home) and not os.path.lexists(account.tmp)
            assert not any(g for g in open("/etc/group") if g.startswith(account.name + ":"))
        assert os.path.isdir("/etc") and os.path.exists("/etc/passwd")
        for name, uid, comment in strangers:
            assert (pwd.getpwnam(name).pw_uid, pwd.getpwnam(name).pw_gecos) == (uid, comment)
        assert not leftover.exists()
        assert roots.is_dir()
        assert remove_stack_accounts(stack) == 0
    finally:
        remove_stack_accounts(stack)
        for directory in (place, homes, tmp_root(stack)):
            subprocess.run(["rm", "-rf", "--one-file-system", str(directory)], check=True)


def test_make_test_cleans_up_before_and_after(monkeypatch):
    """The runner's hook (app.test_cleanup_module), called around the stack."""
    from baselayer.tools import test_runner

    calls = []
    monkeypatch.setattr(test_runner, "start_or_explain", lambda cfg: calls.append("start") or True)
    monkeypatch.setattr(test_runner, "stop_stack", lambda cfg: calls.append("stop"))
    monkeypatch.setattr(
        test_runner.subprocess, "call", lambda cmd, **kw: calls.append("pytest") or 0
    )
    monkeypatch.setattr(
        test_runner.importlib,
        "import_module",
        lambda name: type("M", (), {"cleanup": staticmethod(lambda cfg: calls.append(name))}),
    )
    assert test_runner.run_tests([]) == 0
    assert calls == ["tests.stack_cleanup", "start", "pytest", "stop", "tests.stack_cleanup"]


def test_ensure_timing(cfg, accounts, made):
    user = factories.UserFactory()
    made.append(expected_name(cfg, user))
    start = time.perf_counter()
    accounts.ensure(user.id, user.username)
    first = time.perf_counter() - start
    start = time.perf_counter()
    accounts.ensure(user.id, user.username)
    cached = time.perf_counter() - start
    print(f"ensure: first {first * 1000:.1f} ms, cached {cached * 1e6:.1f} us")
    assert cached < first


@pytest.mark.parametrize(
    "configured, hidden",
    [
        ("/tmp/x/run/jobs", True),  # a clone under /tmp, as CI makes
        ("/var/tmp/project/run/homes", True),
        ("/dev/shm/jobs", True),
        ("/tmp", True),
        ("/srv/project/run/jobs", False),
        ("/tmpfoo/run/jobs", False),
    ],
)
def test_dirs_jobs_would_not_see_go_to_the_fallback(configured, hidden):
    """A job's /tmp is its user's own: job directories, homes and tmp dirs of a
    project under /tmp would be out of its sight, so they go elsewhere."""
    from shell_service.executors.job_files import FALLBACK_ROOT, hidden_from_jobs, usable_dir

    assert hidden_from_jobs(Path(configured)) is hidden
    if hidden:
        assert usable_dir(Path(configured), True, "jobs").is_relative_to(FALLBACK_ROOT)


def test_a_home_left_by_a_removed_account_is_not_handed_to_a_new_one(
    cfg, accounts, session_factory, made
):
    """userdel without removing the home, then a user with the same id (another
    database, say): the new account must not get the earlier one's files."""
    user = factories.UserFactory()
    name = expected_name(cfg, user)
    made.append(name)
    uid = cfg["jobs.accounts.uid_base"] + user.id
    home = homes_root(cfg) / name
    home.mkdir(parents=True)
    os.chown(home, uid, uid)
    (home / "earlier.txt").write_text("someone else's\n")
    with pytest.raises(AccountError, match="left from an earlier account"):
        accounts.ensure(user.id, user.username)
    assert passwd(name) is None
    assert (home / "earlier.txt").read_text() == "someone else's\n"
    subprocess.run(["rm", "-rf", "--one-file-system", str(home)], check=True)
    assert accounts.ensure(user.id, user.username).home == home
