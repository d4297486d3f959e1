"""GET /api/jobs at scale: filters, cursor paging, counts, output left out."""

import datetime

import pytest
from sqlalchemy import text

from baselayer.app.models import utcnow

from ..factories import JobFactory, UserFactory
from .envelope import assert_error


def make_jobs(user, count, **fields):
    start = utcnow() - datetime.timedelta(days=1)
    return [
        JobFactory(submitter=user, created_at=start + datetime.timedelta(seconds=i), **fields)
        for i in range(count)
    ]


def test_cursor_pages_through_every_job_once_newest_first(api):
    jobs = make_jobs(api.user, 25)
    seen, cursor = [], None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/jobs", params=params).json()
        seen += [job["id"] for job in body["data"]]
        assert body["total"] == 25 and body["total_capped"] is False
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [job.id for job in reversed(jobs)]


def test_offset_paging_still_works(api):
    jobs = make_jobs(api.user, 5)
    data = api.get("/api/jobs", params={"limit": 2, "offset": 2}).json()["data"]
    assert [job["id"] for job in data] == [jobs[2].id, jobs[1].id]


def test_status_filter_takes_one_or_several_states(api):
    make_jobs(api.user, 2, status="READY")
    make_jobs(api.user, 3, status="FAILED")
    make_jobs(api.user, 1, status="CANCELLED")
    one = api.get("/api/jobs", params={"status": "FAILED"}).json()
    assert {j["status"] for j in one["data"]} == {"FAILED"} and one["total"] == 3
    repeated = api.get("/api/jobs", params=[("status", "FAILED"), ("status", "READY")]).json()
    assert repeated["total"] == 5
    commas = api.get("/api/jobs", params={"status": "FAILED,CANCELLED"}).json()
    assert commas["total"] == 4


def test_unknown_status_is_a_400_naming_the_field(api):
    response = api.get("/api/jobs", params={"status": "DONE"})
    assert_error(response, 400, field="status")


def test_created_window_filters(api):
    jobs = make_jobs(api.user, 10)
    after, before = jobs[2].created_at.isoformat(), jobs[6].created_at.isoformat()
    body = api.get("/api/jobs", params={"created_after": after, "created_before": before}).json()
    assert [j["id"] for j in body["data"]] == [j.id for j in reversed(jobs[3:6])]


def test_bad_dates_and_cursors_are_400s(api):
    for params in ({"created_after": "yesterday"}, {"limit": 0}):
        (field,) = params
        assert_error(api.get("/api/jobs", params=params), 400, field=field)
    # (data.errors does not list the cursor: the message names it.)
    assert_error(api.get("/api/jobs", params={"cursor": "not-a-cursor"}), 400, mentions="cursor: ")


def test_id_prefix_filter_treats_wildcards_literally(api):
    for name in ("etl_a", "etl_b", "etlXc", "other"):
        JobFactory(submitter=api.user, id=f"{name}_{api.user.id}")
    body = api.get("/api/jobs", params={"id_prefix": "etl_"}).json()
    assert sorted(j["id"] for j in body["data"]) == [f"etl_a_{api.user.id}", f"etl_b_{api.user.id}"]


def test_admin_filters_by_submitter_and_users_cannot_widen_their_view(api, admin_api):
    other = UserFactory()
    make_jobs(other, 3)
    make_jobs(api.user, 2)
    by_other = admin_api.get("/api/jobs", params={"submitter_id": other.id}).json()
    assert by_other["total"] == 3
    assert {j["submitter_id"] for j in by_other["data"]} == {other.id}
    mine = api.get("/api/jobs", params={"submitter_id": other.id}).json()
    assert {j["submitter_id"] for j in mine["data"]} == {api.user.id}


def test_output_is_left_out_unless_asked(api):
    JobFactory(submitter=api.user, status="COMPLETE", stdout="big output", stderr="warn")
    plain = api.get("/api/jobs").json()["data"][0]
    assert plain["stdout"] is None and plain["stderr"] is None
    full = api.get("/api/jobs", params={"include_output": "true"}).json()["data"][0]
    assert (full["stdout"], full["stderr"]) == ("big output", "warn")


def test_count_stops_at_the_cap_and_says_so(api, monkeypatch):
    from shell_service.queue import listing

    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    make_jobs(api.user, 5)
    body = api.get("/api/jobs", params={"limit": 2}).json()
    assert (body["total"], body["total_capped"]) == (3, True)


def test_a_listed_job_reads_exactly_like_the_job_itself(api):
    """The list's JSON is written by PostgreSQL, a single job's by the app: same shape,
    same values, timestamps with the same zone, microseconds or not."""
    whole_second = utcnow().replace(microsecond=0) - datetime.timedelta(hours=1)
    JobFactory(
        submitter=api.user,
        status="FAILED",
        args=["a b", "ü"],
        env={"K": 'v\n"q"'},
        stdin="in",
        stdout="out ✓",
        stderr="",
        return_code=3,
        status_message="exit 3",
        queued_at=whole_second,
        started_at=whole_second + datetime.timedelta(microseconds=1500),
        finished_at=whole_second + datetime.timedelta(seconds=2),
        stdout_truncated=True,
    )
    listed = api.get("/api/jobs", params={"include_output": "true", "limit": 1}).json()["data"]
    single = api.get(f"/api/jobs/{listed[0]['id']}").json()["data"]
    # One job's answer adds its dependencies, an array's task counts and its
    # attempts (its one attempt: from its own columns), last.
    [attempt] = single.pop("attempts")
    assert (attempt["number"], attempt["status"], attempt["return_code"]) == (1, "FAILED", 3)
    assert attempt["started_at"] == single["started_at"]
    assert single.pop("array_tasks") is None and single.pop("depends_on") == []
    assert listed[0] == single
    assert list(listed[0]) == list(single)
    assert single["queued_at"].endswith("+00:00")


@pytest.mark.parametrize(
    "args, owner",
    [
        ({}, None),
        ({"status": ["COMPLETE"]}, None),
        ({"submitter_id": 1}, None),
        ({"status": ["FAILED"]}, 1),
        ({"created_after": datetime.datetime(2026, 1, 1)}, 1),
    ],
)
def test_the_count_and_the_page_each_read_one_index_without_sorting(session_factory, args, owner):
    """Both walk a history index, the count from its oldest end (the newest entries
    churn); a sort would mean reading every matching job first."""
    from shell_service.queue import listing

    where, params, fixed = listing.filters(args, owner)
    page = (
        f"SELECT id FROM jobs {listing._where_sql(where)} "
        f"ORDER BY {listing.newest_first(fixed)} LIMIT 10"
    )
    with session_factory() as session:
        cursor = session.connection().connection.cursor()
        # Whatever the tiny test table makes cheapest: an order no index gives
        # still needs a sort, and that is what this looks for.
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        for sql in (listing.capped_count_sql(where, fixed), page):
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Index" in plan and "Sort" not in plan, plan
        session.rollback()


def test_the_jobs_table_is_vacuumed_after_a_small_share_changes(session_factory):
    # Until a vacuum marks fresh pages all-visible, the lists' index-only scans
    # visit the heap for every new job (migration 0009).
    with session_factory() as session:
        options = session.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'jobs'")
        ).scalar_one()
    assert set(options or []) >= {
        "autovacuum_vacuum_insert_scale_factor=0.01",
        "autovacuum_vacuum_scale_factor=0.02",
        "autovacuum_analyze_scale_factor=0.02",
    }
