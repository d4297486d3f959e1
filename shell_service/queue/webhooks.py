"""Webhooks, their deliveries and attempts: every statement on them.

The API's (create, read, list, change, delete, a ping, the deliveries) and the
deliverer's (``services/webhooks/``): ``make_deliveries`` turns job events past
the cursor into delivery rows, ``claim_deliveries`` takes due ones for a while,
``record_attempt`` stores an attempt and what follows it, each in one statement.
No statement here reads ``webhooks.secret`` but ``claim_deliveries`` (the
deliverer signs with it).
"""

import datetime

import orjson

from baselayer.app.models import ADMIN_ACL, utcnow
from baselayer.app.plain_sql import PlainSQL, Statement, statement

from ..webhooks.events import END_EVENTS, STARTED

#: A webhook's columns as the API shows them (never ``secret``).
_WEBHOOK_COLUMNS = """
    w.id, w.owner_id, (SELECT username FROM users WHERE users.id = w.owner_id) AS owner,
    w.url, w.events, w.definition_id, w.definition_name, w.schedule_id, w.queue, w.array_id,
    w.enabled, w.description, w.created_at, w.modified
"""
#: The columns a request sets (``events`` as JSON).
WEBHOOK_FIELDS = (
    "url",
    "events",
    "definition_id",
    "definition_name",
    "schedule_id",
    "queue",
    "array_id",
    "enabled",
    "description",
)

_INSERT_WEBHOOK = Statement(
    f"""
    WITH w AS (
        INSERT INTO webhooks (owner_id, url, events, definition_id, definition_name,
                              schedule_id, queue, array_id, secret, enabled, description,
                              created_at, modified)
        SELECT %(owner_id)s, %(url)s, %(events)s::jsonb, %(definition_id)s, %(definition_name)s,
               %(schedule_id)s, %(queue)s, %(array_id)s, %(secret)s, %(enabled)s,
               %(description)s, %(now)s, %(now)s
        WHERE (SELECT count(*) FROM webhooks WHERE owner_id = %(owner_id)s) < %(most)s
        RETURNING *
    )
    SELECT {_WEBHOOK_COLUMNS} FROM w
    """
)


def insert_webhook(
    sql: PlainSQL, owner_id: int, fields: dict, secret: str, most: int
) -> dict | None:
    """Store a new webhook, unless its owner has ``most`` already.

    Parameters
    ----------
    sql : PlainSQL
    owner_id : int
    fields : dict
        Every ``WEBHOOK_FIELDS`` name -> value (``events`` a list of str).
    secret : str
    most : int
        Config ``webhooks.max_per_user``.

    Returns
    -------
    dict or None
        The webhook (``_WEBHOOK_COLUMNS``); None when its owner has ``most``.
    """
    params = {name: fields.get(name) for name in WEBHOOK_FIELDS}
    params["events"] = orjson.dumps(fields["events"]).decode()
    params.update(owner_id=owner_id, secret=secret, most=most, now=utcnow())
    return sql.row(_INSERT_WEBHOOK, params)


_GET_WEBHOOK = Statement(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks w WHERE w.id = %(id)s")


def webhook_row(sql: PlainSQL, webhook_id: int) -> dict | None:
    """One webhook (without its secret), or None."""
    return sql.row(_GET_WEBHOOK, {"id": webhook_id})


_LIST_WEBHOOKS = Statement(
    f"""
    SELECT {_WEBHOOK_COLUMNS} FROM webhooks w
    WHERE (w.owner_id = %(user_id)s OR %(is_admin)s)
    ORDER BY w.id LIMIT %(limit)s OFFSET %(offset)s
    """
)


def list_webhooks(
    sql: PlainSQL, user_id: int, is_admin: bool, limit: int, offset: int
) -> list[dict]:
    """A user's webhooks (an admin's list: everyone's), oldest first.

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
    is_admin : bool
    limit, offset : int

    Returns
    -------
    list of dict
        As ``webhook_row``.
    """
    params = {"user_id": user_id, "is_admin": is_admin, "limit": limit, "offset": offset}
    return sql.rows(_LIST_WEBHOOKS, params)


_UPDATE_WEBHOOK = Statement(
    f"""
    WITH w AS (
        UPDATE webhooks SET
            url = %(url)s, events = %(events)s::jsonb, definition_id = %(definition_id)s,
            definition_name = %(definition_name)s, schedule_id = %(schedule_id)s,
            queue = %(queue)s, array_id = %(array_id)s, enabled = %(enabled)s,
            description = %(description)s, secret = coalesce(%(secret)s, secret),
            modified = %(now)s
        WHERE id = %(id)s
        RETURNING *
    )
    SELECT {_WEBHOOK_COLUMNS} FROM w
    """
)


def update_webhook(sql: PlainSQL, webhook_id: int, fields: dict, secret: str | None) -> dict | None:
    """Replace a webhook's settings (and its secret, if given).

    Parameters
    ----------
    sql : PlainSQL
    webhook_id : int
    fields : dict
        Every ``WEBHOOK_FIELDS`` name -> its new value (the stored ones merged
        with the change).
    secret : str or None
        None: keep the stored one.

    Returns
    -------
    dict or None
        The webhook as ``webhook_row``; None if it was deleted meanwhile.
    """
    params = {name: fields.get(name) for name in WEBHOOK_FIELDS}
    params["events"] = orjson.dumps(fields["events"]).decode()
    params.update(id=webhook_id, secret=secret, now=utcnow())
    return sql.row(_UPDATE_WEBHOOK, params)


_DELETE_WEBHOOK = Statement("DELETE FROM webhooks WHERE id = %(id)s RETURNING id")


def delete_webhook(sql: PlainSQL, webhook_id: int) -> bool:
    """Delete a webhook with its deliveries and their attempts; False if there was none."""
    return sql.row(_DELETE_WEBHOOK, {"id": webhook_id}) is not None


_DELIVERY_COLUMNS = """
    d.id, d.webhook_id, d.job_event_id, d.job_id, d.event, d.status, d.attempts,
    d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.finished_at
"""

_LIST_DELIVERIES = Statement(
    f"""
    SELECT {_DELIVERY_COLUMNS},
           coalesce((SELECT json_agg(json_build_object(
                         'number', a.number, 'started_at', a.started_at,
                         'duration_ms', a.duration_ms, 'status_code', a.status_code,
                         'error', a.error, 'next_retry_at', a.next_retry_at)
                         ORDER BY a.number)
                     FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempt_list
    FROM webhook_deliveries d
    WHERE d.webhook_id = %(webhook_id)s
      AND (%(status)s::text IS NULL OR d.status = %(status)s)
    ORDER BY d.id DESC LIMIT %(limit)s OFFSET %(offset)s
    """
)


def list_deliveries(
    sql: PlainSQL, webhook_id: int, status: str | None, limit: int, offset: int
) -> list[dict]:
    """A webhook's deliveries, newest first, each with its attempts.

    Parameters
    ----------
    sql : PlainSQL
    webhook_id : int
    status : str or None
        Only deliveries in this state (pending, delivered, failed).
    limit, offset : int

    Returns
    -------
    list of dict
        ``_DELIVERY_COLUMNS`` and ``attempt_list`` (dicts: ``number``,
        ``started_at`` (naive UTC), ``duration_ms``, ``status_code``,
        ``error``, ``next_retry_at``), oldest attempt first.
    """
    params = {"webhook_id": webhook_id, "status": status, "limit": limit, "offset": offset}
    rows = sql.rows(_LIST_DELIVERIES, params)
    for row in rows:  # json_agg wrote the times as text
        for attempt in row["attempt_list"]:
            for key in ("started_at", "next_retry_at"):
                if attempt[key] is not None:
                    attempt[key] = datetime.datetime.fromisoformat(attempt[key])
    return rows


_LAST_DELIVERIES = Statement(
    f"""
    SELECT {_DELIVERY_COLUMNS}
    FROM unnest(%(ids)s::int[]) AS ids(id)
    CROSS JOIN LATERAL (
        SELECT * FROM webhook_deliveries WHERE webhook_id = ids.id ORDER BY id DESC LIMIT 1
    ) AS d
    """
)


def last_deliveries(sql: PlainSQL, webhook_ids: list[int]) -> dict[int, dict]:
    """Each webhook's newest delivery (the dashboard's list shows how it went).

    Parameters
    ----------
    sql : PlainSQL
    webhook_ids : list of int

    Returns
    -------
    dict
        Webhook id -> its newest delivery (``_DELIVERY_COLUMNS``, without its
        attempts); a webhook without deliveries is left out.
    """
    rows = sql.rows(_LAST_DELIVERIES, {"ids": webhook_ids})
    return {row["webhook_id"]: row for row in rows}


_INSERT_PING = Statement(
    f"""
    WITH d AS (
        INSERT INTO webhook_deliveries (webhook_id, event, status, next_attempt_at,
                                        created_at, modified)
        SELECT id, 'ping', 'pending', %(now)s, %(now)s, %(now)s FROM webhooks WHERE id = %(id)s
        RETURNING *
    )
    SELECT {_DELIVERY_COLUMNS}, '[]'::json AS attempt_list
    FROM d CROSS JOIN LATERAL (SELECT pg_notify(%(channel)s, '')) AS woken
    """
)


def insert_ping(sql: PlainSQL, webhook_id: int, channel: str) -> dict | None:
    """A ``ping`` delivery for a webhook, due now (enabled or not), and a NOTIFY on
    ``channel`` to wake the deliverer; None if the webhook is gone."""
    return sql.row(_INSERT_PING, {"id": webhook_id, "now": utcnow(), "channel": channel})


_SCHEDULE_OWNER = Statement("SELECT owner_id FROM schedules WHERE id = %(id)s")


def schedule_owner(sql: PlainSQL, schedule_id: int) -> int | None:
    """The owner of schedule ``schedule_id``, or None when there is none."""
    row = sql.row(_SCHEDULE_OWNER, {"id": schedule_id})
    return None if row is None else row["owner_id"]


# ---- the deliverer ---------------------------------------------------------------

#: Each state an event may move a job to, and its own event name (constants: no user text).
_STATUS_EVENTS = {"RUNNING": STARTED, **{status.value: name for status, name in END_EVENTS.items()}}
_EVENT_VALUES = ", ".join(f"('{status}', '{name}')" for status, name in _STATUS_EVENTS.items())

# Events past the cursor, and the last ``rescan`` before it again: a statement
# that took an event id commits a little after one that took a later id, so an
# event can become visible behind the cursor; the unique (webhook, event) key
# makes reading one twice harmless. A job's move to RUNNING from RUNNING (an
# adoption) is not a start. The owner of the webhook must see the job (theirs,
# or any for an admin) and not be disabled; a webhook fires only for events
# made after it. An array filter matches the array job and each of its tasks.
_MAKE_DELIVERIES = Statement(
    f"""
    WITH cur AS (SELECT last_event_id FROM webhook_cursor WHERE id = 1),
    fresh AS (
        SELECT e.id, e.job_id, e.from_status, e.to_status, e.created_at
        FROM job_events e WHERE e.id > (SELECT last_event_id FROM cur)
        ORDER BY e.id LIMIT %(batch)s
    ),
    again AS (
        SELECT e.id, e.job_id, e.from_status, e.to_status, e.created_at
        FROM job_events e
        WHERE e.id > (SELECT last_event_id FROM cur) - %(rescan)s
          AND e.id <= (SELECT last_event_id FROM cur)
    ),
    ev AS (SELECT * FROM fresh UNION ALL SELECT * FROM again),
    matched AS (
        SELECT w.id AS webhook_id, ev.id AS event_id, ev.job_id,
               CASE WHEN w.events ? m.event THEN m.event
                    WHEN m.status <> 'RUNNING' AND w.events ? 'finished' THEN 'finished'
               END AS event
        FROM ev
        JOIN (VALUES {_EVENT_VALUES}) AS m(status, event) ON m.status = ev.to_status
        JOIN jobs j ON j.id = ev.job_id
        JOIN webhooks w ON w.enabled AND ev.created_at >= w.created_at
        JOIN users u ON u.id = w.owner_id AND NOT u.disabled
        WHERE (ev.to_status <> 'RUNNING' OR ev.from_status IS DISTINCT FROM 'RUNNING')
          AND (w.definition_id IS NULL OR w.definition_id = j.definition_id)
          AND (w.schedule_id IS NULL OR w.schedule_id = j.schedule_id)
          AND (w.queue IS NULL OR w.queue = j.queue)
          AND (w.array_id IS NULL OR w.array_id = j.array_id OR w.array_id = j.id)
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                          WHERE d.webhook_id = w.id AND d.job_event_id = ev.id)
          AND (w.owner_id = j.submitter_id
               OR EXISTS (SELECT 1 FROM user_acls
                          WHERE user_id = w.owner_id AND acl_id = %(admin_acl)s
                          UNION ALL
                          SELECT 1 FROM user_roles ur JOIN role_acls ra USING (role_id)
                          WHERE ur.user_id = w.owner_id AND ra.acl_id = %(admin_acl)s))
    ),
    made AS (
        INSERT INTO webhook_deliveries (webhook_id, job_event_id, job_id, event, status,
                                        next_attempt_at, created_at, modified)
        SELECT webhook_id, event_id, job_id, event, 'pending', %(now)s, %(now)s, %(now)s
        FROM matched WHERE event IS NOT NULL
        ON CONFLICT (webhook_id, job_event_id) DO NOTHING
        RETURNING id
    ),
    moved AS (
        UPDATE webhook_cursor
        SET last_event_id = greatest(last_event_id, (SELECT max(id) FROM fresh)),
            modified = %(now)s
        WHERE id = 1 AND EXISTS (SELECT 1 FROM fresh)
        RETURNING last_event_id
    )
    SELECT (SELECT count(*) FROM fresh) AS read, (SELECT count(*) FROM made) AS made
    """
)


def make_deliveries(sql: PlainSQL, batch: int, rescan: int) -> dict:
    """Turn the job events past the cursor into deliveries, and move the cursor on,
    in one statement.

    Parameters
    ----------
    sql : PlainSQL
    batch : int
        Most new events to read (config ``webhooks.batch``).
    rescan : int
        Events before the cursor read again (config ``webhooks.rescan_events``).

    Returns
    -------
    dict
        ``read``: new events read (``batch``: call again), ``made``: deliveries made.
    """
    params = {"batch": batch, "rescan": rescan, "admin_acl": ADMIN_ACL, "now": utcnow()}
    row = sql.row(_MAKE_DELIVERIES, params)
    assert row is not None
    return row


_CLAIM_DELIVERIES = Statement(
    """
    -- Each user's due deliveries in turn: everyone's first before anyone's second,
    -- so one user's many (or hanging) webhooks do not keep the others waiting.
    WITH ranked AS (
        SELECT dd.id, dd.next_attempt_at,
               row_number() OVER (PARTITION BY ww.owner_id ORDER BY dd.next_attempt_at, dd.id)
                 AS turn
        FROM webhook_deliveries dd
        JOIN webhooks ww ON ww.id = dd.webhook_id
        WHERE dd.status = 'pending' AND dd.next_attempt_at <= %(now)s
          AND (dd.locked_until IS NULL OR dd.locked_until < %(now)s)
          AND ww.owner_id <> ALL(%(busy_owners)s::int[])
    ),
    due AS (
        SELECT dd.id FROM webhook_deliveries dd
        WHERE dd.id IN (SELECT id FROM ranked ORDER BY turn, next_attempt_at, id
                        LIMIT %(most)s)
          AND dd.status = 'pending'
          AND (dd.locked_until IS NULL OR dd.locked_until < %(now)s)
        FOR UPDATE SKIP LOCKED
    ),
    d AS (
        UPDATE webhook_deliveries d SET locked_until = %(until)s, modified = %(now)s
        FROM due WHERE d.id = due.id
        RETURNING d.*
    )
    SELECT d.id, d.webhook_id, d.job_event_id, d.job_id, d.event, d.attempts, d.body,
           d.created_at, w.url, w.secret, w.owner_id, e.to_status
    FROM d JOIN webhooks w ON w.id = d.webhook_id
    LEFT JOIN job_events e ON e.id = d.job_event_id
    ORDER BY d.id
    """
)


def claim_deliveries(
    sql: PlainSQL, most: int, hold: float, busy_owners: list[int] | None = None
) -> list[dict]:
    """Take up to ``most`` due deliveries for ``hold`` seconds (another deliverer
    skips them; after that, one whose deliverer died is due again).

    Parameters
    ----------
    sql : PlainSQL
    most : int
    hold : float
        Seconds: longer than an attempt may take.
    busy_owners : list of int, optional
        Users none of whose webhooks' deliveries to take now (they have their
        share of the attempts under way).

    Returns
    -------
    list of dict
        ``id``, ``webhook_id``, ``job_event_id``, ``job_id``, ``event``,
        ``attempts`` (made so far), ``body`` (None before the first), ``created_at``,
        the webhook's ``url``, ``secret`` and ``owner_id``, and the event's ``to_status`` (None
        for a ping, or when the job and its events were deleted).
    """
    now = utcnow()
    params = {
        "now": now,
        "until": now + datetime.timedelta(seconds=hold),
        "most": most,
        "busy_owners": list(busy_owners or []),
    }
    return sql.rows(_CLAIM_DELIVERIES, params)


_RELEASE_DELIVERY = Statement(
    "UPDATE webhook_deliveries SET locked_until = NULL"
    " WHERE id = %(id)s AND status = 'pending' RETURNING id"
)


def release_delivery(sql: PlainSQL, delivery_id: int) -> None:
    """Give back a delivery ``claim_deliveries`` took: due again at once, not
    attempted (its user had their share of the attempts under way)."""
    sql.value(_RELEASE_DELIVERY, {"id": delivery_id})


_STORE_BODY = Statement(
    """
    UPDATE webhook_deliveries SET body = coalesce(body, %(body)s)
    WHERE id = %(id)s RETURNING body
    """
)


def store_body(sql: PlainSQL, delivery_id: int, body: str) -> str | None:
    """Keep a delivery's body (its first attempt's); returns the one stored, which
    is another deliverer's if it stored one first; None if the delivery is gone."""
    row = sql.row(_STORE_BODY, {"id": delivery_id, "body": body})
    return None if row is None else row["body"]


_JOB_FOR_PAYLOAD = "SELECT {columns} FROM jobs WHERE id = %(id)s"


def job_for_payload(sql: PlainSQL, job_id: str, columns: tuple[str, ...]) -> dict | None:
    """A job's ``columns`` (written in the code), or None once it is deleted."""
    return sql.row(statement(_JOB_FOR_PAYLOAD.format(columns=", ".join(columns))), {"id": job_id})


_RECORD_ATTEMPT = Statement(
    """
    WITH d AS (
        UPDATE webhook_deliveries SET
            attempts = attempts + 1, status = %(status)s::text,
            next_attempt_at = %(next)s::timestamp, locked_until = NULL,
            last_status_code = %(code)s::int, last_error = %(error)s::text,
            finished_at = CASE WHEN %(status)s::text = 'pending' THEN NULL
                               ELSE %(now)s::timestamp END,
            modified = %(now)s::timestamp
        WHERE id = %(id)s AND status = 'pending'
        RETURNING id, attempts
    )
    INSERT INTO webhook_attempts (delivery_id, number, started_at, duration_ms, status_code,
                                  error, next_retry_at, created_at, modified)
    SELECT id, attempts, %(started)s::timestamp, %(duration)s::int, %(code)s::int,
           %(error)s::text, %(next)s::timestamp, %(now)s::timestamp, %(now)s::timestamp
    FROM d
    RETURNING number
    """
)


def record_attempt(
    sql: PlainSQL,
    delivery_id: int,
    started: datetime.datetime,
    duration_ms: int,
    code: int | None,
    error: str | None,
    status: str,
    next_attempt: datetime.datetime | None,
) -> int | None:
    """Store an attempt and the delivery's new state, in one statement.

    Parameters
    ----------
    sql : PlainSQL
    delivery_id : int
    started : datetime
        Naive UTC.
    duration_ms : int
    code : int or None
        The HTTP status; None without a response.
    error : str or None
    status : str
        ``delivered``, ``failed`` or ``pending`` (another attempt at ``next_attempt``).
    next_attempt : datetime or None

    Returns
    -------
    int or None
        The attempt's number; None if the delivery is gone or no longer pending.
    """
    row = sql.row(
        _RECORD_ATTEMPT,
        {
            "id": delivery_id,
            "started": started,
            "duration": duration_ms,
            "code": code,
            "error": error,
            "status": status,
            "next": next_attempt,
            "now": utcnow(),
        },
    )
    return None if row is None else row["number"]


_PRUNE_DELIVERIES = Statement(
    """
    WITH old AS (
        SELECT id FROM webhook_deliveries
        WHERE created_at < %(before)s AND status <> 'pending'
        ORDER BY created_at LIMIT 10000
    ),
    gone AS (DELETE FROM webhook_deliveries d USING old WHERE d.id = old.id RETURNING d.id)
    SELECT count(*) AS deleted FROM gone
    """
)


def prune_deliveries(sql: PlainSQL, before: datetime.datetime) -> int:
    """Delete up to 10,000 finished deliveries made before ``before`` (naive UTC),
    with their attempts; returns how many."""
    row = sql.row(_PRUNE_DELIVERIES, {"before": before})
    return 0 if row is None else row["deleted"]
