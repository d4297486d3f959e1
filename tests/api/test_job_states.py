"""Job states below Python: the database refuses a state that is not a JobStatus
(migration 0013), and the queue's statements make only the moves in
``job_states.TRANSITIONS``."""

import datetime

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.job_states import FINISHED, INITIAL, TRANSITIONS, JobStatus, may_become
from shell_service.models import Job, JobEvent
from shell_service.queue import waiting

from ..factories import JobFactory
from ..helpers import claim_limits, create_job
from .envelope import assert_success

STATUS_COLUMNS = {
    "ck_jobs_status": "jobs",
    "ck_job_events_from_status": "job_events",
    "ck_job_events_to_status": "job_events",
    "ck_job_counts_status": "job_counts",
}


def constraint_definitions(connection) -> dict[str, str]:
    rows = connection.execute(
        text("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c'")
    )
    return {name: definition for name, definition in rows if name in STATUS_COLUMNS}


def test_every_status_column_allows_exactly_the_job_states(engine):
    with engine.connect() as connection:
        definitions = constraint_definitions(connection)
    assert set(definitions) == set(STATUS_COLUMNS)
    for name, definition in definitions.items():
        named = {status.value for status in JobStatus if f"'{status.value}'" in definition}
        assert named == {status.value for status in JobStatus}, name
        assert "NOT VALID" not in definition, name  # validated: stored rows were checked


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE jobs SET status = 'DONE' WHERE id = :id",
        "UPDATE jobs SET status = 'ready' WHERE id = :id",
        "INSERT INTO job_events (job_id, from_status, to_status) VALUES (:id, 'READY', 'GONE')",
        "INSERT INTO job_events (job_id, from_status, to_status) VALUES (:id, 'PENDING', 'READY')",
        "INSERT INTO job_counts (status, count) VALUES ('PENDING', 1)",
    ],
)
def test_the_database_refuses_a_status_that_is_not_a_job_state(engine, statement):
    job = JobFactory()
    with engine.connect() as connection:
        with pytest.raises(IntegrityError, match="ck_job"):
            connection.execute(text(statement), {"id": job.id})
        connection.rollback()
        status = connection.scalar(text("SELECT status FROM jobs WHERE id = :id"), {"id": job.id})
    assert status == "READY"


def test_a_first_event_still_has_no_from_status(engine):
    job = JobFactory()
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO job_events (job_id, to_status) VALUES (:id, 'READY')"),
            {"id": job.id},
        )


STORED_ROWS = {
    "jobs": "SELECT * FROM jobs ORDER BY id",
    "job_events": "SELECT * FROM job_events ORDER BY id",
    "job_counts": "SELECT * FROM job_counts ORDER BY status",
}


def test_migration_0013_keeps_every_stored_row_and_goes_back_down(cfg, scratch_database):
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = scratch_database
    command.upgrade(alembic_cfg, "0012")
    with scratch_database.begin() as connection:
        connection.execute(text("INSERT INTO users (id, username) VALUES (1, 'someone')"))
        for n, status in enumerate(JobStatus):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, code, shell, status, submitter_id, stdout)"
                    " VALUES (:id, 'echo', 'sh', :status, 1, 'out')"
                ),
                {"id": f"job_{n}", "status": status.value},
            )
            connection.execute(
                text(
                    "INSERT INTO job_events (job_id, from_status, to_status, detail)"
                    " VALUES (:id, NULL, 'READY', 'created'), (:id, 'READY', :status, 'moved')"
                ),
                {"id": f"job_{n}", "status": status.value},
            )
            connection.execute(
                text("INSERT INTO job_counts (status, count) VALUES (:status, :n)"),
                {"status": status.value, "n": n},
            )

    def stored():
        with scratch_database.connect() as connection:
            return {
                table: [tuple(row) for row in connection.execute(text(query))]
                for table, query in STORED_ROWS.items()
            }

    before = stored()
    command.upgrade(alembic_cfg, "0013")
    assert stored() == before
    with scratch_database.connect() as connection:
        assert set(constraint_definitions(connection)) == set(STATUS_COLUMNS)
        with pytest.raises(IntegrityError, match="ck_jobs_status"):
            connection.execute(text("UPDATE jobs SET status = 'PENDING' WHERE id = 'job_0'"))
    command.downgrade(alembic_cfg, "0012")
    assert stored() == before
    with scratch_database.connect() as connection:
        assert constraint_definitions(connection) == {}


def test_migration_0013_stops_at_a_stored_row_outside_the_job_states(cfg, scratch_database):
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = scratch_database
    command.upgrade(alembic_cfg, "0012")
    with scratch_database.begin() as connection:
        connection.execute(text("INSERT INTO users (id, username) VALUES (1, 'someone')"))
        connection.execute(
            text(
                "INSERT INTO jobs (id, code, shell, status, submitter_id)"
                " VALUES ('odd', 'echo', 'sh', 'PENDING', 1)"
            )
        )
    with pytest.raises(IntegrityError):
        command.upgrade(alembic_cfg, "0013")
    with scratch_database.connect() as connection:
        assert connection.scalar(text("SELECT status FROM jobs WHERE id = 'odd'")) == "PENDING"


# ---- the moves: only those in TRANSITIONS ------------------------------------------


@pytest.fixture
def sql(cfg):
    connection = PlainSQL(database_url(cfg), "transition tests")
    yield connection
    connection.close()


def status_of(session_factory, job_id: str) -> str:
    with session_factory() as session:
        return session.scalar(select(Job.status).where(Job.id == job_id))


def events_of(session_factory, job_id: str) -> list[tuple]:
    with session_factory() as session:
        return list(
            session.execute(
                select(JobEvent.from_status, JobEvent.to_status)
                .where(JobEvent.job_id == job_id)
                .order_by(JobEvent.id)
            )
        )


def job_in(status: JobStatus) -> Job:
    fields = {"status": status.value, "queued_at": utcnow() - datetime.timedelta(hours=1)}
    if status not in (JobStatus.READY, JobStatus.QUEUED):  # a QUEUED one: nobody holds it
        fields["executor"] = "elsewhere:1"
        fields["host"] = "elsewhere"
    return JobFactory(**fields)


def hold(session_factory, job: Job) -> None:
    """Hold a QUEUED job as a Slurm executor's claim does (``claim_jobs(hold=True)``)."""
    with session_factory() as session:
        session.execute(update(Job).where(Job.id == job.id).values(executor="elsewhere:1"))
        session.commit()


def claim_everything(cfg, session_factory) -> list[str]:
    """One claim without limits; the jobs of other tests it took go back to QUEUED."""
    sql = PlainSQL(database_url(cfg), "transition claim")
    try:
        while (claimed := queue.claim_jobs(sql, "elsewhere:9", **claim_limits())) is None:
            pass
    finally:
        sql.close()
    return [job.id for job in claimed]


def move(cfg, session_factory, sql, job: Job, to: JobStatus) -> None:
    """Ask for ``job`` to move to ``to``, through the statement that does that move."""
    if to == JobStatus.QUEUED:
        # Two statements move a job to QUEUED: an execute (READY) and the requeue of
        # a job whose host is lost (RUNNING). Each must refuse every other state.
        queue.submit_job(sql, job.id, job.submitter_id)
        queue.requeue_lost_job(sql, job.id, "elsewhere")
    elif to == JobStatus.RUNNING:
        claimed = claim_everything(cfg, session_factory)
        with session_factory() as session:  # put back the other tests' jobs
            session.execute(
                update(Job)
                .where(Job.id.in_(set(claimed) - {job.id}))
                .values(status="QUEUED", executor=None)
            )
            session.commit()
    elif to == JobStatus.CANCELLED and job.status != JobStatus.RUNNING:
        queue.cancel_job(sql, job.id, job.submitter_id)
    elif job.status == JobStatus.QUEUED and to in (JobStatus.COMPLETE, JobStatus.FAILED):
        # An array job ends by its tasks (the waiting-jobs service's end_arrays).
        with session_factory() as session:
            session.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(array_spec="0", array_size=1, array_made=1, waiting_for="tasks")
            )
            session.commit()
        JobFactory(id=f"{job.id}_0", status=to.value, array_id=job.id, array_index=0, array_size=1)
        waiting.end_arrays(sql, utcnow())
    elif job.status == JobStatus.QUEUED:
        # A QUEUED job ends only when an executor holds it (Slurm refused or lost it):
        # its executor's finish_job.
        hold(session_factory, job)
        output = queue.JobOutput(return_code=0, stdout="late")
        queue.finish_job(sql, job.id, to, output, executor="elsewhere:1")
    else:
        queue.finish_job(sql, job.id, to, queue.JobOutput(return_code=0, stdout="late"))
        # Nor does an array's end move a job that is not an array job waiting for tasks.
        waiting.end_arrays(sql, utcnow())


LEGAL = [(source, target) for source, targets in TRANSITIONS.items() for target in targets]
ILLEGAL = [
    (source, target)
    for source in JobStatus
    for target in JobStatus
    # No statement moves a job to READY (it is only created so).
    if target not in TRANSITIONS[source] and target != source and target != JobStatus.READY
]


@pytest.mark.parametrize(("source", "target"), LEGAL, ids=lambda s: s.value)
def test_each_legal_move_is_made_with_its_event(
    cfg, session_factory, sql, paused_executor, source, target
):
    job = job_in(source)
    move(cfg, session_factory, sql, job, target)
    assert status_of(session_factory, job.id) == target
    assert events_of(session_factory, job.id)[-1] == (source, target)


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=lambda s: s.value)
def test_an_illegal_move_changes_nothing(
    cfg, session_factory, sql, paused_executor, source, target
):
    job = job_in(source)
    move(cfg, session_factory, sql, job, target)
    assert status_of(session_factory, job.id) == source
    assert events_of(session_factory, job.id) == []
    with session_factory() as session:
        assert session.scalar(select(Job.stdout).where(Job.id == job.id)) is None


def test_a_queued_job_nobody_holds_is_never_ended_by_a_finish(
    session_factory, sql, paused_executor
):
    job = job_in(JobStatus.QUEUED)
    for status in (JobStatus.SERVER_ERROR, JobStatus.CANCELLED):
        assert queue.finish_job(sql, job.id, status) is False
    assert status_of(session_factory, job.id) == JobStatus.QUEUED
    hold(session_factory, job)
    assert queue.finish_job(sql, job.id, JobStatus.SERVER_ERROR, executor="other:2") is False
    assert queue.finish_job(sql, job.id, JobStatus.SERVER_ERROR, executor="elsewhere:1")
    assert events_of(session_factory, job.id)[-1] == ("QUEUED", "SERVER_ERROR")


def test_a_held_job_is_not_claimed_and_its_cancel_is_asked_of_its_executor(
    cfg, session_factory, sql, paused_executor
):
    job = job_in(JobStatus.QUEUED)
    hold(session_factory, job)
    assert job.id not in claim_everything(cfg, session_factory)
    assert status_of(session_factory, job.id) == JobStatus.QUEUED
    # Slurm has it: the cancel is recorded and its executor told, not done at once.
    assert queue.cancel_job(sql, job.id, job.submitter_id) == JobStatus.QUEUED
    assert status_of(session_factory, job.id) == JobStatus.QUEUED
    with session_factory() as session:
        assert session.scalar(select(Job.cancel_requested_at).where(Job.id == job.id))
    assert events_of(session_factory, job.id)[-1] == ("QUEUED", "QUEUED")
    assert queue.finish_job(sql, job.id, JobStatus.CANCELLED, executor="elsewhere:1")
    assert status_of(session_factory, job.id) == JobStatus.CANCELLED


def test_a_claim_does_not_restart_a_complete_job(cfg, session_factory, paused_executor):
    job = job_in(JobStatus.COMPLETE)
    assert job.id not in claim_everything(cfg, session_factory)
    assert status_of(session_factory, job.id) == JobStatus.COMPLETE


def test_a_late_finish_leaves_a_cancelled_job_cancelled(session_factory, sql, paused_executor):
    job = job_in(JobStatus.QUEUED)
    assert queue.cancel_job(sql, job.id, job.submitter_id) == JobStatus.QUEUED
    output = queue.JobOutput(return_code=0, stdout="late")
    assert queue.finish_job(sql, job.id, JobStatus.COMPLETE, output) is False
    assert status_of(session_factory, job.id) == JobStatus.CANCELLED
    assert queue.cancel_job(sql, job.id, job.submitter_id) is None


def test_a_running_job_asked_to_cancel_ends_cancelled_unless_it_completed(session_factory, sql):
    failing, completing = job_in(JobStatus.RUNNING), job_in(JobStatus.RUNNING)
    for job in (failing, completing):
        assert queue.cancel_job(sql, job.id, job.submitter_id) == JobStatus.RUNNING
        assert status_of(session_factory, job.id) == JobStatus.RUNNING
    assert queue.finish_job(sql, failing.id, JobStatus.FAILED, queue.JobOutput(return_code=-15))
    assert queue.finish_job(sql, completing.id, JobStatus.COMPLETE, queue.JobOutput(return_code=0))
    assert status_of(session_factory, failing.id) == JobStatus.CANCELLED
    assert status_of(session_factory, completing.id) == JobStatus.COMPLETE
    assert events_of(session_factory, failing.id)[-2:] == [
        ("RUNNING", "RUNNING"),  # the request
        ("RUNNING", "CANCELLED"),
    ]


def test_finish_refuses_a_state_that_is_not_final(sql):
    with pytest.raises(ValueError):
        queue.finish_job(sql, "any", JobStatus.RUNNING)


def test_every_state_is_reachable_and_only_final_states_are_dead_ends():
    reachable = set(INITIAL)
    for _ in JobStatus:
        reachable |= {target for source in reachable for target in TRANSITIONS[source]}
    assert reachable == set(JobStatus)
    assert {status for status in JobStatus if not TRANSITIONS[status]} == FINISHED
    assert may_become(JobStatus.RUNNING) == ["QUEUED"]
    assert may_become(JobStatus.QUEUED) == ["READY", "RUNNING"]


@pytest.mark.parametrize("status", sorted(FINISHED))
def test_the_api_answers_409_to_executing_or_cancelling_an_ended_job(api, session_factory, status):
    job_id = create_job(api, "true")
    with session_factory() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status=status))
        session.commit()
    execute = api.post(f"/api/jobs/{job_id}/execute")
    assert execute.status_code == 409, execute.text
    cancel = api.post(f"/api/jobs/{job_id}/cancel")
    assert cancel.status_code == 409, cancel.text
    assert assert_success(api.get(f"/api/jobs/{job_id}"))["status"] == status
