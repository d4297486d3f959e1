"""job stats: hourly rollups of ended jobs, and an index of the active ones

``job_stats_hourly``: jobs ended per hour (of ``finished_at``), submitter, queue,
outcome (the final state) and queue-wait bucket (``bucket``: fixed log-spaced
buckets of ``started_at - queued_at``, four per doubling from 1 ms, -1 for a job
that never started; ``shell_service/stats.py``). ``submitter_id`` 0 holds
everyone's together (its ``queue`` empty: no read of everyone's hours asks for
one), so an admin's figures read about as few rows as a user's.
``job_stats_totals``: the same, all hours together. ``job_stats_cursor``: the
rollups hold exactly the jobs that ended before ``rolled_until``; the stats
service's pass moves it on (``queue/stats.py``), readers add the jobs ended
since from ``ix_jobs_finished_at``. The jobs ended before this migration are
rolled up here.

``ix_jobs_active``: the jobs not ended (READY, QUEUED, RUNNING) by submitter,
state and queue, so counting them reads that index alone, not a million rows.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 22:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

OUTCOMES = "('COMPLETE', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'SERVER_ERROR')"
ACTIVE = sa.text("status IN ('READY', 'QUEUED', 'RUNNING')")

# As queue/stats.py's rollup (the text as of this revision).
BACKFILL = f"""
    WITH mark AS (SELECT (now() AT TIME ZONE 'UTC') AS until),
    ended AS (
        SELECT date_trunc('hour', finished_at) AS hour, submitter_id, queue,
               status AS outcome,
               CASE WHEN started_at IS NULL OR queued_at IS NULL THEN -1
                    ELSE least(119, floor(4 * ln(greatest(
                        extract(epoch FROM started_at - queued_at) * 1000, 1)) / ln(2)))::int
               END AS bucket
        FROM jobs
        WHERE finished_at IS NOT NULL AND finished_at < (SELECT until FROM mark)
          AND status IN {OUTCOMES}
    ),
    counted AS (
        SELECT hour, submitter_id, queue, outcome, bucket, count(*) AS jobs
        FROM ended GROUP BY hour, submitter_id, queue, outcome, bucket
    ),
    hourly AS (
        INSERT INTO job_stats_hourly (submitter_id, hour, queue, outcome, bucket, jobs)
        SELECT submitter_id, hour, queue, outcome, bucket, jobs FROM counted
        UNION ALL
        SELECT 0, hour, '', outcome, bucket, sum(jobs) FROM counted
        GROUP BY hour, outcome, bucket
    ),
    totals AS (
        INSERT INTO job_stats_totals (submitter_id, queue, outcome, jobs)
        SELECT submitter_id, queue, outcome, sum(jobs) FROM counted
        GROUP BY submitter_id, queue, outcome
        UNION ALL
        SELECT 0, queue, outcome, sum(jobs) FROM counted GROUP BY queue, outcome
    )
    INSERT INTO job_stats_cursor (id, rolled_until) SELECT 1, until FROM mark
"""


def upgrade() -> None:
    op.create_table(
        "job_stats_hourly",
        sa.Column("submitter_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("submitter_id", "hour", "queue", "outcome", "bucket"),
        sa.CheckConstraint(f"outcome IN {OUTCOMES}", name="ck_job_stats_hourly_outcome"),
    )
    op.create_table(
        "job_stats_totals",
        sa.Column("submitter_id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("submitter_id", "queue", "outcome"),
        sa.CheckConstraint(f"outcome IN {OUTCOMES}", name="ck_job_stats_totals_outcome"),
    )
    op.create_table(
        "job_stats_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rolled_until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.CheckConstraint("id = 1", name="ck_job_stats_cursor_one_row"),
    )
    op.create_index(
        "ix_jobs_active", "jobs", ["submitter_id", "status", "queue"], postgresql_where=ACTIVE
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_jobs_active", table_name="jobs")
    op.drop_table("job_stats_cursor")
    op.drop_table("job_stats_totals")
    op.drop_table("job_stats_hourly")
