"""Schedules and their fires: every statement on ``schedules`` and ``schedule_fires``.

Exactly once: a schedule's tick is fired (or skipped) by ``fire_ticks``, one
statement per batch of schedules that, for each schedule, (1) moves
``schedules.next_fire_at`` from the tick the scheduler read to the next one, a
compare-and-set (``WHERE next_fire_at = <the tick read> AND enabled``), (2)
inserts the tick's ``schedule_fires`` rows only for the schedules whose
compare-and-set matched (their key, (schedule, tick), refuses a second row for
a tick), and (3) inserts the fired job, its events and the NOTIFY only for the
fire rows inserted. PostgreSQL runs the statement atomically; two schedulers
(on one host or several) that read the same due tick both try, and the
second's UPDATE waits on the first's row lock, then re-reads the row
(READ COMMITTED) and no longer matches, so it inserts nothing. A crash
anywhere leaves the tick either wholly fired or not at all. Why not ``FOR
UPDATE SKIP LOCKED``: it needs a transaction held across the scheduler's
Python work (the fire-time checks) and the connection is autocommit (one
statement per call, ``baselayer.app.plain_sql``); the compare-and-set needs no
lock held between statements and batches the whole pass into one round trip.
A PATCH or a pause between the read and the fire changes ``next_fire_at`` or
``enabled``: the fire does not match and nothing is fired.
"""

import datetime
from dataclasses import dataclass, field

import orjson
import psycopg2.errors

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement, statement

from .channels import QUEUED_CHANNEL
from .transitions import NEW_JOB_CTES, NewJob, new_job_params

#: The columns a schedule is written with (``insert_schedule``, ``update_schedule``).
SCHEDULE_FIELDS = (
    "definition_id", "version", "description", "parameters", "secret_parameters",
    "overrides", "cron", "timezone", "enabled", "overlap", "catch_up", "next_fire_at",
)  # fmt: skip
_JSON = ("parameters", "secret_parameters", "overrides")

_SCHEDULE_COLUMNS = """
    s.id, s.owner_id, (SELECT username FROM users WHERE users.id = s.owner_id) AS owner,
    s.definition_id, d.name AS definition,
    (SELECT username FROM users WHERE users.id = d.owner_id) AS definition_owner,
    s.version, s.description, s.parameters, s.secret_parameters, s.overrides, s.cron,
    s.timezone, s.enabled, s.overlap, s.catch_up, s.next_fire_at, s.last_job_id,
    s.created_at, s.modified
"""


def _params(fields: dict) -> dict:
    return {
        name: orjson.dumps(value).decode() if name in _JSON else value
        for name, value in fields.items()
    }


_INSERT_SCHEDULE = Statement(
    f"""
    WITH s AS (
        INSERT INTO schedules (owner_id, definition_id, version, description, parameters,
                               secret_parameters, overrides, cron, timezone, enabled, overlap,
                               catch_up, next_fire_at, created_at, modified)
        VALUES (%(owner_id)s, %(definition_id)s, %(version)s, %(description)s,
                %(parameters)s::jsonb, %(secret_parameters)s::jsonb, %(overrides)s::jsonb,
                %(cron)s, %(timezone)s, %(enabled)s, %(overlap)s, %(catch_up)s,
                %(next_fire_at)s, %(now)s, %(now)s)
        RETURNING *
    )
    SELECT {_SCHEDULE_COLUMNS} FROM s JOIN definitions d ON d.id = s.definition_id
    """
)


_SCHEDULES_OF = Statement("SELECT count(*) FROM schedules WHERE owner_id = %(owner_id)s")


def schedules_of(sql: PlainSQL, owner_id: int) -> int:
    """How many schedules ``owner_id`` has (``ix_schedules_owner_id``)."""
    return sql.value(_SCHEDULES_OF, {"owner_id": owner_id})


def insert_schedule(sql: PlainSQL, owner_id: int, fields: dict) -> dict | None:
    """Store a new schedule.

    Parameters
    ----------
    sql : PlainSQL
    owner_id : int
        Who it runs as.
    fields : dict
        Every ``SCHEDULE_FIELDS`` name -> value (``parameters``,
        ``secret_parameters`` and ``overrides`` dicts; ``next_fire_at`` naive UTC;
        ``version`` None for "latest").

    Returns
    -------
    dict or None
        The schedule (``schedule_row``'s columns); None when its definition was
        deleted meanwhile (the foreign key refused it).
    """
    params = _params(fields)
    params.update(owner_id=owner_id, now=utcnow())
    try:
        return sql.row(_INSERT_SCHEDULE, params)
    except psycopg2.errors.ForeignKeyViolation:
        return None


_SCHEDULE = Statement(
    f"""
    SELECT {_SCHEDULE_COLUMNS} FROM schedules s JOIN definitions d ON d.id = s.definition_id
    WHERE s.id = %(id)s
    """
)


def schedule_row(sql: PlainSQL, schedule_id: int) -> dict | None:
    """One schedule, or None.

    Returns
    -------
    dict or None
        ``id``, ``owner_id``, ``owner`` (username), ``definition_id``,
        ``definition`` (its name), ``definition_owner``, ``version`` (None:
        latest), ``description``, ``parameters``, ``secret_parameters`` (never
        to be shown), ``overrides``, ``cron``, ``timezone``, ``enabled``,
        ``overlap``, ``catch_up``, ``next_fire_at`` (naive UTC), ``last_job_id``,
        ``created_at``, ``modified``.
    """
    return sql.row(_SCHEDULE, {"id": schedule_id})


_LIST_SCHEDULES = Statement(
    f"""
    SELECT {_SCHEDULE_COLUMNS} FROM schedules s JOIN definitions d ON d.id = s.definition_id
    WHERE %(owner_id)s::int IS NULL OR s.owner_id = %(owner_id)s::int
    ORDER BY s.id
    LIMIT %(limit)s OFFSET %(offset)s
    """
)


def list_schedules(sql: PlainSQL, owner_id: int | None, limit: int, offset: int) -> list[dict]:
    """Schedules by id: one owner's (``owner_id``), or everyone's (None).

    Returns
    -------
    list of dict
        As ``schedule_row``.
    """
    params = {"owner_id": owner_id, "limit": limit, "offset": offset}
    return sql.rows(_LIST_SCHEDULES, params)


_DEFINITION_SCHEDULES = Statement(
    f"""
    SELECT {_SCHEDULE_COLUMNS} FROM schedules s JOIN definitions d ON d.id = s.definition_id
    WHERE s.definition_id = %(definition_id)s
      AND (%(owner_id)s::int IS NULL OR s.owner_id = %(owner_id)s::int)
    ORDER BY s.id
    LIMIT %(limit)s
    """
)


def definition_schedules(
    sql: PlainSQL, definition_id: int, owner_id: int | None, limit: int = 100
) -> list[dict]:
    """The schedules that run one definition, by id: one owner's, or everyone's (None).

    Returns
    -------
    list of dict
        As ``schedule_row``; at most ``limit``.
    """
    params = {"definition_id": definition_id, "owner_id": owner_id, "limit": limit}
    return sql.rows(_DEFINITION_SCHEDULES, params)


_DEFINITION_SCHEDULE_COUNTS = Statement(
    """
    SELECT count(*) AS total, count(*) FILTER (WHERE owner_id <> %(owner_id)s) AS others
    FROM schedules WHERE definition_id = %(definition_id)s
    """
)


def definition_schedule_counts(sql: PlainSQL, definition_id: int, owner_id: int) -> dict:
    """How many schedules run one definition (deleting it deletes them all).

    Parameters
    ----------
    sql : PlainSQL
    definition_id : int
    owner_id : int
        The user asking: ``others`` counts everyone else's.

    Returns
    -------
    dict
        ``total`` and ``others``.
    """
    params = {"definition_id": definition_id, "owner_id": owner_id}
    return sql.row(_DEFINITION_SCHEDULE_COUNTS, params) or {"total": 0, "others": 0}


def update_schedule(sql: PlainSQL, schedule_id: int, changes: dict) -> dict | None:
    """Change a schedule's columns.

    Parameters
    ----------
    sql : PlainSQL
    schedule_id : int
    changes : dict
        Some ``SCHEDULE_FIELDS`` names -> new values (the names are checked
        against it: only they reach the statement's text).

    Returns
    -------
    dict or None
        The schedule as changed (``schedule_row``); None if it is gone.

    Raises
    ------
    ValueError
        A name in ``changes`` is not a ``SCHEDULE_FIELDS`` name.
    """
    unknown = set(changes) - set(SCHEDULE_FIELDS)
    if unknown:
        raise ValueError(f"not schedule columns: {sorted(unknown)}")
    names = sorted(changes)
    sets = ", ".join(
        f"{name} = %({name})s::jsonb" if name in _JSON else f"{name} = %({name})s" for name in names
    )
    text = f"""
        WITH s AS (
            UPDATE schedules SET {sets}, modified = %(now)s WHERE id = %(id)s RETURNING *
        )
        SELECT {_SCHEDULE_COLUMNS} FROM s JOIN definitions d ON d.id = s.definition_id
    """
    params = _params(changes)
    params.update(id=schedule_id, now=utcnow())
    return sql.row(statement(text), params)


def delete_schedule(sql: PlainSQL, schedule_id: int) -> bool:
    """Delete a schedule and its fires (its jobs stay; their ``schedule_id`` becomes null).

    Returns
    -------
    bool
        Whether it was there.
    """
    return (
        sql.row("DELETE FROM schedules WHERE id = %(id)s RETURNING id", {"id": schedule_id})
        is not None
    )


_RECENT_FIRES = Statement(
    """
    SELECT f.schedule_id, f.tick, f.job_id, f.skipped, f.created_at, j.status AS job_status
    FROM unnest(%(ids)s::int[]) AS ids(id)
    CROSS JOIN LATERAL (
        SELECT * FROM schedule_fires WHERE schedule_id = ids.id
        ORDER BY tick DESC LIMIT %(per_schedule)s
    ) AS f
    LEFT JOIN jobs j ON j.id = f.job_id
    ORDER BY f.schedule_id, f.tick DESC
    """
)


def recent_fires(
    sql: PlainSQL, schedule_ids: list[int], per_schedule: int
) -> dict[int, list[dict]]:
    """The last fires of each schedule, newest tick first, with each job's status.

    Parameters
    ----------
    sql : PlainSQL
    schedule_ids : list of int
    per_schedule : int
        Most fires per schedule.

    Returns
    -------
    dict
        Schedule id -> list of ``{"tick", "job_id", "job_status", "skipped",
        "created_at"}`` (``job_status`` None once the job is deleted; ``job_id``
        None for a skip, whose reason is ``skipped``).
    """
    fires: dict[int, list[dict]] = {schedule_id: [] for schedule_id in schedule_ids}
    params = {"ids": schedule_ids, "per_schedule": per_schedule}
    for row in sql.rows(_RECENT_FIRES, params):
        fires[row.pop("schedule_id")].append(row)
    return fires


_DUE = Statement(
    """
    SELECT s.id, s.owner_id, u.username AS owner, u.disabled AS owner_disabled,
           EXISTS (SELECT 1 FROM user_acls WHERE user_id = u.id AND acl_id = %(admin_acl)s
                   UNION ALL
                   SELECT 1 FROM user_roles ur JOIN role_acls ra USING (role_id)
                   WHERE ur.user_id = u.id AND ra.acl_id = %(admin_acl)s) AS owner_is_admin,
           s.definition_id, d.name AS definition_name, d.owner_id AS definition_owner_id,
           d.shared AS definition_shared, s.version AS pinned_version,
           s.parameters, s.secret_parameters, s.overrides, s.cron, s.timezone, s.overlap,
           s.catch_up, s.next_fire_at, s.last_job_id,
           v.version, v.code, v.shell, v.args, v.env, v.stdin, v.options,
           v.parameters AS specs,
           j.status AS last_job_status, j.finished_at AS last_job_finished_at
    FROM schedules s
    JOIN users u ON u.id = s.owner_id
    JOIN definitions d ON d.id = s.definition_id
    LEFT JOIN definition_versions v
           ON v.definition_id = d.id AND v.version = COALESCE(s.version, d.latest_version)
    LEFT JOIN jobs j ON j.id = s.last_job_id
    WHERE s.enabled AND s.next_fire_at <= %(now)s
      AND (s.next_fire_at, s.id) > (%(after_at)s::timestamp, %(after_id)s::int)
    ORDER BY s.next_fire_at, s.id
    LIMIT %(limit)s
    """
)


def due_schedules(
    sql: PlainSQL,
    now: datetime.datetime,
    limit: int,
    admin_acl: str,
    after: tuple[datetime.datetime, int] = (datetime.datetime.min, 0),
) -> list[dict]:
    """The enabled schedules whose next tick has come (``ix_schedules_due``), earliest
    first, with what a fire needs: the owner, the definition, its version (the
    pinned one, or the latest) and the previous run's state.

    Parameters
    ----------
    sql : PlainSQL
    now : datetime.datetime
        Naive UTC.
    limit : int
        Most schedules.
    admin_acl : str
        The ACL that makes a user an admin (``baselayer.app.models.ADMIN_ACL``).
    after : (datetime.datetime, int), optional
        Only schedules after this (``next_fire_at``, ``id``): the last row of
        the previous batch.

    Returns
    -------
    list of dict
        The schedule's columns (``version`` as ``pinned_version``), ``owner``,
        ``owner_disabled``, ``owner_is_admin``, ``definition_name``,
        ``definition_owner_id``, ``definition_shared``, the version's
        ``version``, ``code``, ``shell``, ``args``, ``env``, ``stdin``,
        ``options`` and ``specs`` (its parameters; all None when the version is
        gone), ``last_job_status`` and ``last_job_finished_at`` (None: no
        such job).
    """
    params = {
        "now": now,
        "limit": limit,
        "admin_acl": admin_acl,
        "after_at": after[0],
        "after_id": after[1],
    }
    return sql.rows(_DUE, params)


_NEXT_DUE = Statement(
    "SELECT min(next_fire_at) FROM schedules WHERE enabled AND next_fire_at > %(now)s"
)


def next_due_after(sql: PlainSQL, now: datetime.datetime) -> datetime.datetime | None:
    """The earliest ``next_fire_at`` after ``now`` of the enabled schedules (naive
    UTC), or None (``ix_schedules_due``)."""
    return sql.value(_NEXT_DUE, {"now": now})


@dataclass
class TickOutcome:
    """What the scheduler does with one due schedule (``fire_ticks``).

    Attributes
    ----------
    schedule_id : int
    read_next_fire_at : datetime.datetime
        ``next_fire_at`` as the scheduler read it (the compare-and-set's old value).
    next_fire_at : datetime.datetime
        Its new value: the tick after now (naive UTC).
    skips : list of (datetime.datetime, str)
        Ticks recorded as skipped, with the reason.
    job : NewJob or None
        The job fired (``fields`` with ``schedule_id`` and ``scheduled_for``, the
        fired tick); None when nothing fires.
    """

    schedule_id: int
    read_next_fire_at: datetime.datetime
    next_fire_at: datetime.datetime
    skips: list[tuple[datetime.datetime, str]] = field(default_factory=list)
    job: NewJob | None = None


_FIRE = Statement(
    """
    WITH batch AS (
        SELECT * FROM unnest(%(s_id)s::int[], %(s_read)s::timestamp[], %(s_next)s::timestamp[],
                             %(s_job)s::text[])
            AS b(schedule_id, read_next_fire_at, next_fire_at, job_id)
    ),
    advanced AS (
        UPDATE schedules s
        SET next_fire_at = b.next_fire_at, last_job_id = COALESCE(b.job_id, s.last_job_id),
            modified = %(now)s
        FROM batch b
        WHERE s.id = b.schedule_id AND s.next_fire_at = b.read_next_fire_at AND s.enabled
        RETURNING s.id
    ),
    fired AS (
        INSERT INTO schedule_fires (schedule_id, tick, job_id, skipped, created_at, modified)
        SELECT f.schedule_id, f.tick, f.job_id, f.skipped, %(now)s, %(now)s
        FROM unnest(%(f_schedule)s::int[], %(f_tick)s::timestamp[], %(f_job)s::text[],
                    %(f_skipped)s::text[]) AS f(schedule_id, tick, job_id, skipped)
        JOIN advanced ON advanced.id = f.schedule_id
        ON CONFLICT (schedule_id, tick) DO NOTHING
        RETURNING schedule_id, job_id
    ),
    """
    + NEW_JOB_CTES.replace(
        "{only}", "WHERE new.id IN (SELECT job_id FROM fired WHERE job_id IS NOT NULL)"
    )
    + """,
    woken AS (
        SELECT pg_notify(%(channel)s, '') WHERE EXISTS (SELECT 1 FROM job)
    )
    SELECT (SELECT array_agg(id) FROM advanced) AS advanced,
           (SELECT array_agg(id) FROM job) AS jobs,
           (SELECT count(*) FROM woken) AS woken
    """
)


def fire_ticks(sql: PlainSQL, outcomes: list[TickOutcome]) -> tuple[set[int], set[str]]:
    """Advance due schedules, record their skips and insert (QUEUED) the jobs they
    fire, waking the claimers: one statement for the whole batch, exactly once
    per tick (see the module docstring).

    Parameters
    ----------
    sql : PlainSQL
    outcomes : list of TickOutcome
        At most one per schedule.

    Returns
    -------
    advanced : set of int
        The schedules this call advanced (the others were fired by someone else,
        changed or paused since they were read: nothing of theirs was stored).
    jobs : set of str
        The ids of the jobs it inserted.
    """
    if not outcomes:
        return set(), set()
    jobs = [outcome.job for outcome in outcomes if outcome.job is not None]
    fires: list[tuple[int, datetime.datetime, str | None, str | None]] = []
    for outcome in outcomes:
        fires.extend((outcome.schedule_id, tick, None, why) for tick, why in outcome.skips)
        if outcome.job is not None:
            tick = outcome.job.fields["scheduled_for"]
            fires.append((outcome.schedule_id, tick, outcome.job.fields["id"], None))
    params = new_job_params(jobs)
    params.update(
        s_id=[o.schedule_id for o in outcomes],
        s_read=[o.read_next_fire_at for o in outcomes],
        s_next=[o.next_fire_at for o in outcomes],
        s_job=[o.job.fields["id"] if o.job is not None else None for o in outcomes],
        f_schedule=[f[0] for f in fires],
        f_tick=[f[1] for f in fires],
        f_job=[f[2] for f in fires],
        f_skipped=[f[3] for f in fires],
        now=utcnow(),
        channel=QUEUED_CHANNEL,
    )
    row = sql.row(_FIRE, params)
    assert row is not None  # the statement always answers one row
    return set(row["advanced"] or ()), set(row["jobs"] or ())


_PRUNE_FIRES = Statement(
    """
    WITH old AS (
        SELECT schedule_id, tick FROM schedule_fires WHERE created_at < %(before)s
        ORDER BY created_at LIMIT %(limit)s
    )
    DELETE FROM schedule_fires f USING old
    WHERE f.schedule_id = old.schedule_id AND f.tick = old.tick
    RETURNING 1
    """
)


def prune_fires(sql: PlainSQL, before: datetime.datetime, limit: int = 10_000) -> int:
    """Delete fire records made before ``before`` (naive UTC), at most ``limit`` of them.

    The jobs fired stay; only the record of which tick made which job (or why a
    tick was skipped) goes. Exactly-once does not depend on it: a schedule's
    ``next_fire_at`` is past every tick it recorded.

    Returns
    -------
    int
        How many were deleted.
    """
    return len(sql.tuples(_PRUNE_FIRES, {"before": before, "limit": limit}))
