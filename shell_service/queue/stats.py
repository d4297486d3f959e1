"""The job stats' statements: the hourly rollups' upkeep and the one read of them.

``job_stats_hourly`` and ``job_stats_totals`` hold exactly the jobs that ended
(``finished_at``) before ``job_stats_cursor.rolled_until``. The stats service's
pass (``roll_up``) adds the jobs ended since, up to a moment a little in the
past (a job's end statement stamps ``finished_at`` just before it commits), and
moves the cursor on, in one statement. The read (``stats_rows``) adds, in the
same statement and snapshot, the jobs ended since the cursor (a few seconds'
worth, from ``ix_jobs_finished_at``), so the figures are current whether or not
the pass has run. A retried attempt is no end (its ``finished_at`` stays null
until the last attempt's), so a job counts once, as it finally ended.

Import it as ``queue.stats``.
"""

import datetime

from baselayer.app.plain_sql import PlainSQL, Statement

#: Whoever holds it is changing the rollups (the pass, a rebuild): others skip.
STATS_LOCK_KEY = 0x5747_5A75
#: The outcomes counted (a job's final states), as the tables' checks name them.
OUTCOMES = ("COMPLETE", "FAILED", "TIMED_OUT", "CANCELLED", "SERVER_ERROR")
#: The states of a job not ended (``ix_jobs_active``'s predicate, word for word,
#: so the planner counts from that index).
ACTIVE_PREDICATE = "status IN ('READY', 'QUEUED', 'RUNNING')"
#: ``submitter_id`` of the rows holding everyone's jobs together.
EVERYONE = 0

_OUTCOMES_SQL = "(" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")"

#: A job's queue-wait bucket (``stats.WAIT_BUCKETS``): four per doubling of the
#: wait in milliseconds from 1 ms (waits under 2^(1/4) ms are bucket 0), the
#: last (119) open-ended; -1 for a job that never started.
BUCKET_SQL = """
    CASE WHEN started_at IS NULL OR queued_at IS NULL THEN -1
         ELSE least(119, floor(4 * ln(greatest(
             extract(epoch FROM started_at - queued_at) * 1000, 1)) / ln(2)))::int
    END
"""

#: The jobs that ended in [{lower}, {upper}): ``counted`` per hour, submitter,
#: queue, outcome and bucket; ``keyed``, the rows of ``job_stats_hourly`` (those
#: and everyone's, ``EVERYONE``, per hour, outcome and bucket: no read of
#: everyone's hours asks for a queue, and leaving it out makes them fewer);
#: ``added_totals``, the rows of ``job_stats_totals`` (per submitter, queue and
#: outcome, and everyone's per queue and outcome).
_COUNTED_CTES = f"""
    ended AS (
        SELECT date_trunc('hour', finished_at) AS hour, submitter_id, queue,
               status AS outcome, {BUCKET_SQL} AS bucket
        FROM jobs
        WHERE finished_at >= {{lower}} AND finished_at < {{upper}}
          AND status IN {_OUTCOMES_SQL}
    ),
    counted AS (
        SELECT hour, submitter_id, queue, outcome, bucket, count(*) AS jobs
        FROM ended GROUP BY hour, submitter_id, queue, outcome, bucket
    ),
    keyed AS (
        SELECT hour, submitter_id, queue, outcome, bucket, jobs FROM counted
        UNION ALL
        SELECT hour, {EVERYONE}, '', outcome, bucket, sum(jobs)
        FROM counted GROUP BY hour, outcome, bucket
    ),
    added_totals AS (
        SELECT submitter_id, queue, outcome, sum(jobs) AS jobs
        FROM counted GROUP BY submitter_id, queue, outcome
        UNION ALL
        SELECT {EVERYONE}, queue, outcome, sum(jobs) FROM counted GROUP BY queue, outcome
    )
"""

_ROLL_UP = Statement(
    "WITH mark AS (SELECT rolled_until FROM job_stats_cursor WHERE id = 1),"
    + _COUNTED_CTES.replace("{lower}", "(SELECT rolled_until FROM mark)").replace(
        "{upper}", "%(until)s"
    )
    + """,
    hourly AS (
        INSERT INTO job_stats_hourly AS h (submitter_id, hour, queue, outcome, bucket, jobs)
        SELECT submitter_id, hour, queue, outcome, bucket, jobs FROM keyed
        ON CONFLICT (submitter_id, hour, queue, outcome, bucket)
        DO UPDATE SET jobs = h.jobs + excluded.jobs
    ),
    totals AS (
        INSERT INTO job_stats_totals AS t (submitter_id, queue, outcome, jobs)
        SELECT submitter_id, queue, outcome, jobs FROM added_totals
        ON CONFLICT (submitter_id, queue, outcome) DO UPDATE SET jobs = t.jobs + excluded.jobs
    ),
    moved AS (
        UPDATE job_stats_cursor SET rolled_until = %(until)s
        WHERE id = 1 AND rolled_until < %(until)s
    )
    SELECT count(*) AS ended FROM ended
    """
)

# The hours from %(since)s on counted again from the jobs table (up to the
# cursor: what the rollups hold), their rows replaced; the totals are then the
# earlier hours' rows (each submitter's, and those summed for everyone) plus these.
_REBUILD = Statement(
    "WITH mark AS (SELECT rolled_until FROM job_stats_cursor WHERE id = 1),"
    + _COUNTED_CTES.replace("{lower}", "%(since)s").replace(
        "{upper}", "(SELECT rolled_until FROM mark)"
    )
    + f""",
    hourly AS (
        INSERT INTO job_stats_hourly AS h (submitter_id, hour, queue, outcome, bucket, jobs)
        SELECT submitter_id, hour, queue, outcome, bucket, jobs FROM keyed
        ON CONFLICT (submitter_id, hour, queue, outcome, bucket)
        DO UPDATE SET jobs = excluded.jobs
    ),
    gone AS (
        DELETE FROM job_stats_hourly h
        WHERE h.hour >= %(since)s
          AND NOT EXISTS (SELECT 1 FROM keyed k
                          WHERE (k.submitter_id, k.hour, k.queue, k.outcome, k.bucket)
                                = (h.submitter_id, h.hour, h.queue, h.outcome, h.bucket))
    ),
    earlier AS (
        SELECT submitter_id, queue, outcome, sum(jobs) AS jobs FROM job_stats_hourly
        WHERE hour < %(since)s AND submitter_id <> {EVERYONE}
        GROUP BY submitter_id, queue, outcome
    ),
    fresh_totals AS (
        SELECT submitter_id, queue, outcome, sum(jobs) AS jobs
        FROM (SELECT submitter_id, queue, outcome, jobs FROM earlier
              UNION ALL
              SELECT {EVERYONE}, queue, outcome, jobs FROM earlier
              UNION ALL
              SELECT submitter_id, queue, outcome, jobs FROM added_totals) AS parts
        GROUP BY submitter_id, queue, outcome
    ),
    totals AS (
        INSERT INTO job_stats_totals AS t (submitter_id, queue, outcome, jobs)
        SELECT submitter_id, queue, outcome, jobs FROM fresh_totals
        ON CONFLICT (submitter_id, queue, outcome) DO UPDATE SET jobs = excluded.jobs
    ),
    totals_gone AS (
        DELETE FROM job_stats_totals t
        WHERE NOT EXISTS (SELECT 1 FROM fresh_totals f
                          WHERE (f.submitter_id, f.queue, f.outcome)
                                = (t.submitter_id, t.queue, t.outcome))
    )
    SELECT count(*) AS ended FROM ended
    """
)


def roll_up(sql: PlainSQL, until: datetime.datetime) -> int | None:
    """Add the jobs that ended between the cursor and ``until`` to the rollups,
    and move the cursor to ``until``: one statement, under ``STATS_LOCK_KEY``.

    Parameters
    ----------
    sql : PlainSQL
    until : datetime.datetime
        Naive UTC, a little in the past (``stats.StatsSettings.settle``): no job
        ending later may be stamped before it. The cursor never moves back.

    Returns
    -------
    int or None
        Jobs added; None when another session holds the lock (nothing done).
    """
    rows = sql.rows_if_unlocked(_ROLL_UP, {"until": until}, STATS_LOCK_KEY)
    return None if rows is None else rows[0]["ended"]


def rebuild(sql: PlainSQL, since: datetime.datetime) -> int | None:
    """Count the hours from ``since`` on again from the jobs table (jobs deleted
    since drop out; jobs stored with a past end, as the bench's fill does, come
    in) and the totals with them, under ``STATS_LOCK_KEY``.

    Parameters
    ----------
    sql : PlainSQL
    since : datetime.datetime
        Naive UTC, the start of an hour.

    Returns
    -------
    int or None
        Jobs counted; None when another session holds the lock (nothing done).
    """
    rows = sql.rows_if_unlocked(_REBUILD, {"since": since}, STATS_LOCK_KEY)
    return None if rows is None else rows[0]["ended"]


#: The read, for one submitter (``%(owner)s``) or (``{owner}`` empty) everyone:
#: rows ``kind`` 'ended' (hour, outcome, n) and 'wait' (hour, bucket, n) from
#: %(since)s on, 'total' (queue, outcome, n: every hour), 'active' (queue,
#: outcome = the state, n: now) and 'mark' (hour = the cursor). The tail (the
#: ends since the cursor) is bounded by %(hint)s too, a cursor the caller read
#: just before: the cursor only moves on, so the bound changes nothing, but it
#: lets the planner see how few rows the tail has.
_READ = """
    WITH mark AS (SELECT rolled_until FROM job_stats_cursor WHERE id = 1),
    tail AS (
        SELECT date_trunc('hour', finished_at) AS hour, queue, status AS outcome,
               {bucket} AS bucket
        FROM jobs
        WHERE finished_at >= %(hint)s AND finished_at >= (SELECT rolled_until FROM mark)
          AND status IN {outcomes} {owner}
    ),
    hourly AS (
        SELECT hour, outcome, bucket, jobs FROM job_stats_hourly
        WHERE submitter_id = %(key)s AND hour >= %(since)s
        UNION ALL
        SELECT hour, outcome, bucket, 1 FROM tail WHERE hour >= %(since)s
    )
    SELECT 'ended' AS kind, hour, NULL AS queue, outcome, NULL::int AS bucket,
           sum(jobs)::bigint AS n
    FROM hourly GROUP BY hour, outcome
    UNION ALL
    SELECT 'wait', hour, NULL, NULL, bucket, sum(jobs)::bigint
    FROM hourly WHERE bucket >= 0 GROUP BY hour, bucket
    UNION ALL
    SELECT 'total', NULL, queue, outcome, NULL, sum(jobs)::bigint
    FROM (SELECT queue, outcome, jobs FROM job_stats_totals WHERE submitter_id = %(key)s
          UNION ALL
          SELECT queue, outcome, 1 FROM tail) AS t
    GROUP BY queue, outcome
    UNION ALL
    SELECT 'active', NULL, queue, status, NULL, count(*)
    FROM jobs WHERE {active} {owner}
    GROUP BY queue, status
    UNION ALL
    SELECT 'mark', rolled_until, NULL, NULL, NULL, NULL FROM mark
""".format(bucket=BUCKET_SQL, outcomes=_OUTCOMES_SQL, active=ACTIVE_PREDICATE, owner="{owner}")
# Two statements, not one with "owner IS NULL OR ...": a prepared statement's
# generic plan would not use the submitter's index for that.
_READ_ONE = Statement(_READ.replace("{owner}", "AND submitter_id = %(owner)s"))
_READ_ALL = Statement(_READ.replace("{owner}", ""))
_CURSOR = Statement("SELECT rolled_until FROM job_stats_cursor WHERE id = 1")


def stats_rows(sql: PlainSQL, owner_id: int | None, since: datetime.datetime) -> list[dict]:
    """Everything the stats show, in one statement (one snapshot), after a read
    of the cursor (the tail's bound for the planner).

    Parameters
    ----------
    sql : PlainSQL
    owner_id : int or None
        One submitter's jobs; None: everyone's.
    since : datetime.datetime
        Naive UTC, the start of the first hour shown.

    Returns
    -------
    list of dict
        ``kind``, ``hour``, ``queue``, ``outcome``, ``bucket``, ``n``: 'ended' rows
        (jobs ended per hour and outcome), 'wait' rows (jobs that had started, per
        hour and wait bucket), 'total' rows (jobs ended per queue and outcome,
        every hour), 'active' rows (jobs per queue and state not ended, now:
        ``outcome`` is the state) and one 'mark' row (``hour``: how far the
        rollups reach; the rest was counted from the jobs).
    """
    hint = sql.value(_CURSOR)
    params = {"key": EVERYONE, "since": since, "hint": hint}
    if owner_id is None:
        return sql.rows(_READ_ALL, params)
    return sql.rows(_READ_ONE, {**params, "key": owner_id, "owner": owner_id})


_HOSTS = Statement(
    """
    WITH seen AS (
        SELECT DISTINCT ON (host) host, last_seen, published
        FROM executors WHERE host IS NOT NULL
        ORDER BY host, last_seen DESC
    ),
    load AS (
        SELECT host, count(*) AS running, coalesce(sum(cpus), 0) AS cpus,
               coalesce(sum(memory_mb), 0) AS memory_mb
        FROM jobs WHERE status = 'RUNNING' AND host IS NOT NULL GROUP BY host
    )
    SELECT coalesce(seen.host, load.host) AS host, seen.last_seen, seen.published,
           coalesce(load.running, 0) AS running, coalesce(load.cpus, 0) AS cpus,
           coalesce(load.memory_mb, 0) AS memory_mb
    FROM seen FULL JOIN load ON load.host = seen.host
    ORDER BY 1
    """
)


def hosts_load(sql: PlainSQL) -> list[dict]:
    """Every host in the executors' registry or running a job: when it was heard
    from last, what its newest executor published, and its running jobs' load.

    Parameters
    ----------
    sql : PlainSQL

    Returns
    -------
    list of dict
        ``host``, ``last_seen`` (None: no executor row), ``published`` (dict or
        None), ``running``, ``cpus`` and ``memory_mb`` (what its RUNNING jobs asked
        for), by host name.
    """
    return sql.rows(_HOSTS)
