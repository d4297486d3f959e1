"""The dashboard's overview (/ui/): counts per state and queue, my running and
queued jobs, the last day's failures with their link, hosts and capacity, and the
charts' data (the stats endpoint's own figures)."""

import datetime
import html
import json
import re
import time
import uuid

from sqlalchemy import text

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import stats
from shell_service.handlers.ui.overview import script_json
from shell_service.queue import stats as stats_queries

from .. import factories
from .conftest import Browser


def make_job(user, **fields):
    fields.setdefault("id", f"ov_{uuid.uuid4().hex[:12]}")
    return factories.JobFactory(submitter=user, **fields)


def chart_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert found, "no chart data"
    return json.loads(found.group(1))


def count(page: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">([0-9,]+)<', page)
    assert found, element_id
    return int(found.group(1).replace(",", ""))


def rebuild(cfg, since):
    sql = PlainSQL(database_url(cfg), "test_overview")
    try:
        for _ in range(100):
            if stats_queries.rebuild(sql, stats.hour_start(since)) is not None:
                return
            time.sleep(0.05)
        raise AssertionError("the stats lock stayed taken")
    finally:
        sql.close()


def test_the_overview_is_the_dashboards_home_and_needs_a_session(web, anon_browser):
    page = web.get("/ui/")
    assert page.status_code == 200
    assert "<h1>Overview</h1>" in page.text
    assert 'id="nav-overview"' in page.text
    assert anon_browser.get("/ui/").headers["Location"].startswith("/ui/signin?next=")


def test_counts_are_my_jobs_per_state_and_queue_never_others(web, cfg):
    other = factories.UserFactory()
    make_job(web.user, status="READY", queue="alpha")
    make_job(web.user, status="READY", queue="alpha")
    make_job(web.user, status="QUEUED", queue="beta")
    make_job(other, status="READY", queue="alpha")
    make_job(other, status="QUEUED", queue="gamma")
    at = utcnow() - datetime.timedelta(hours=3)
    make_job(web.user, status="COMPLETE", queued_at=at, started_at=at, finished_at=at)
    make_job(other, status="COMPLETE", queued_at=at, started_at=at, finished_at=at)
    rebuild(cfg, at)
    page = web.get("/ui/").text
    assert count(page, "count-READY") == 2
    assert count(page, "count-QUEUED") == 1
    assert count(page, "count-RUNNING") == 0
    assert count(page, "ended-COMPLETE") == 1
    assert "Your jobs." in page
    rows = dict(re.findall(r'<tr data-queue="([^"]+)">(.*?)</tr>', page, re.S))
    assert "gamma" not in rows  # another user's queue: none of mine there
    cells = [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", rows["alpha"])
    ]
    assert cells[1:4] == ["2", "0", "0"]
    # The charts' data is the stats endpoint's, for me.
    data = chart_data(page)
    figures = web.get("/ui/")  # unchanged on a second look
    assert chart_data(figures.text) == data
    assert len(data["x"]) == 24 and sum(data["finished"]["COMPLETE"]) == 1
    assert data["x"][1] - data["x"][0] == 3600


def test_my_running_and_queued_jobs_are_listed_with_links(web):
    # A queue no executor serves: it stays QUEUED.
    queued = make_job(web.user, status="QUEUED", queued_at=utcnow(), queue="nowhere")
    running = make_job(web.user, status="RUNNING", started_at=utcnow(), queue="nowhere")
    done = make_job(web.user, status="COMPLETE", finished_at=utcnow())
    theirs = make_job(factories.UserFactory(), status="RUNNING", queue="nowhere")
    page = web.get("/ui/").text
    section = page[page.index('id="my-jobs"') : page.index('id="charts"')]
    assert f'href="/ui/jobs/{queued.id}"' in section
    assert f'href="/ui/jobs/{running.id}"' in section
    assert set(re.findall(r'data-job="([^"]+)"', section)) == {running.id, queued.id}
    assert done.id not in section
    assert theirs.id not in page


def test_failures_of_the_last_day_link_to_the_filtered_list(web):
    message = "<script>alert('x')</script> \"quoted\""
    failed = make_job(
        web.user, status="FAILED", return_code=3, finished_at=utcnow(), status_message=message
    )
    make_job(web.user, status="COMPLETE", finished_at=utcnow())
    page = web.get("/ui/").text
    link = re.search(r'<a href="([^"]+)" id="failures-link"[^>]*>([^<]+)</a>', page)
    assert link and html.unescape(link.group(1)) == "/ui/jobs?preset=failed"
    assert link.group(2).startswith("1 failed")
    assert f'data-job="{failed.id}"' in page
    assert "<script>alert('x')</script>" not in page
    assert html.escape(message) in page
    # The link's list shows it.
    assert f'data-job="{failed.id}"' in web.get(html.unescape(link.group(1))).text


def test_an_admin_sees_everyones_figures_and_all_failures(server):
    admin = factories.TokenFactory(user=factories.UserFactory(admin=True))
    client = Browser(server.url)
    client.sign_in(admin.secret)
    make_job(factories.UserFactory(), status="READY")
    page = client.get("/ui/").text
    assert "Everyone&#39;s jobs" in page or "Everyone's jobs" in page
    link = re.search(r'<a href="([^"]+)" id="failures-link"', page).group(1)
    assert html.unescape(link) == "/ui/jobs?preset=failed&submitter=all"
    assert count(page, "count-READY") >= 1


def test_hosts_show_their_capacity_and_load_and_a_lost_one(web, server, db_session):
    server.executor.publish()
    gone = f"gone-{uuid.uuid4().hex[:6]}"
    db_session.execute(
        text(
            "INSERT INTO executors (id, host, last_seen, running, published)"
            """ VALUES (:id, :host, :seen, 0, '{"max_running": 4}')"""
        ),
        {"id": f"{gone}:1", "host": gone, "seen": utcnow() - datetime.timedelta(hours=2)},
    )
    db_session.commit()
    page = web.get("/ui/").text
    section = page[page.index('id="hosts"') :]
    host = server.executor.host
    row = re.search(
        rf'<tr data-host="{re.escape(host)}" class="host-(\w+)">(.*?)</tr>', section, re.S
    )
    assert row, section[:2000]
    assert row.group(1) == "alive"
    slots = int(server.cfg["jobs.max_running"])
    used, free = map(int, re.search(r"<td>(\d+) / (\d+)</td>", row.group(2)).groups())
    assert used + free == slots
    lost = re.search(rf'<tr data-host="{gone}" class="host-(\w+)">(.*?)</tr>', section, re.S)
    assert lost and lost.group(1) == "lost" and "<td>0 / 4</td>" in lost.group(2)
    db_session.execute(text("DELETE FROM executors WHERE host = :host"), {"host": gone})
    db_session.commit()


def test_the_chart_json_cannot_end_its_script_element():
    text = script_json({"name": "</script><script>alert(1)</script>", "amp": "a&b"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": "</script><script>alert(1)</script>", "amp": "a&b"}
