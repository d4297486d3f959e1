"""Listing jobs at scale: filters, keyset pagination (a cursor) and a bounded count.

With a million rows, OFFSET and an exact COUNT(*) cost time proportional to
the table. A cursor continues from the last row seen (``created_at``, ``id``)
through the ``(…, created_at DESC, id DESC)`` indexes, and the count stops at
``COUNT_CAP`` (``total_capped`` says when it did).

Plain SQL (``baselayer.app.plain_sql``): the page and its count travel in one
statement, and no ORM object or marshmallow dump is made per row.
"""

import base64
import binascii
import datetime

from baselayer.app.plain_sql import PlainSQL, statement

#: Past this many matching jobs the count stops (and says so).
COUNT_CAP = 10_000


class BadCursor(ValueError):
    pass


def encode_cursor(job: dict) -> str:
    raw = f"{job['created_at'].isoformat()}|{job['id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, job_id = raw.split("|", 1)
        return datetime.datetime.fromisoformat(created_at), job_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("is not a cursor this service gave out") from exc


def filters(args: dict, owner_id: int | None) -> tuple[list[str], dict]:
    """SQL conditions (joined with AND) and their parameters for the list filters in
    ``args`` (validated by JobListQuery); ``owner_id`` limits to one user's jobs."""
    where, params = [], {}
    if owner_id is not None:
        where.append("submitter_id = %(owner_id)s")
        params["owner_id"] = owner_id
    if args.get("submitter_id") is not None:
        where.append("submitter_id = %(submitter_id)s")
        params["submitter_id"] = args["submitter_id"]
    if args.get("status"):
        where.append("status = ANY(%(status)s)")
        params["status"] = list(args["status"])
    if args.get("created_after"):
        where.append("created_at > %(created_after)s")
        params["created_after"] = args["created_after"]
    if args.get("created_before"):
        where.append("created_at < %(created_before)s")
        params["created_before"] = args["created_before"]
    if args.get("id_prefix"):
        prefix = args["id_prefix"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("id LIKE %(id_like)s ESCAPE '\\'")
        params["id_like"] = prefix + "%"
    return where, params


def _where_sql(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def list_page(
    sql: PlainSQL, args: dict, owner_id: int | None, columns
) -> tuple[list[dict], str | None, int, bool]:
    """One page of jobs as dicts of ``columns``, newest first; the cursor of the
    next page (None at the end); and how many match, up to COUNT_CAP, and
    whether the count stopped there."""
    where, params = filters(args, owner_id)
    count_sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM jobs {_where_sql(where)} "
        f"LIMIT {COUNT_CAP + 1}) AS matching"
    )
    page_where = list(where)
    if args.get("cursor"):
        params["cursor_created_at"], params["cursor_id"] = decode_cursor(args["cursor"])
        page_where.append("(created_at, id) < (%(cursor_created_at)s, %(cursor_id)s)")
    params["offset"] = args.get("offset", 0)
    params["limit"] = args["limit"] + 1
    # The count rides along as a column (computed once), saving a round trip.
    rows = sql.rows(
        statement(
            f"SELECT {', '.join(columns)}, ({count_sql}) AS _total FROM jobs "
            f"{_where_sql(page_where)} ORDER BY created_at DESC, id DESC "
            "OFFSET %(offset)s LIMIT %(limit)s"
        ),
        params,
    )
    total = rows[0]["_total"] if rows else sql.value(statement(count_sql), params)
    for row in rows:
        del row["_total"]
    more = len(rows) > args["limit"]
    jobs = rows[: args["limit"]]
    return jobs, encode_cursor(jobs[-1]) if more else None, min(total, COUNT_CAP), total > COUNT_CAP
