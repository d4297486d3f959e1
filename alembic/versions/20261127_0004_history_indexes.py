"""history indexes: newest-first pages with id tie-breaker, by state, by id prefix

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DESC = sa.literal_column


def upgrade() -> None:
    op.drop_index("ix_jobs_submitter_created", table_name="jobs")
    op.drop_index("ix_jobs_created", table_name="jobs")
    op.create_index(
        "ix_jobs_submitter_created",
        "jobs",
        ["submitter_id", DESC("created_at DESC"), DESC("id DESC")],
    )
    op.create_index("ix_jobs_created", "jobs", [DESC("created_at DESC"), DESC("id DESC")])
    op.create_index(
        "ix_jobs_submitter_status_created",
        "jobs",
        ["submitter_id", "status", DESC("created_at DESC"), DESC("id DESC")],
    )
    op.create_index(
        "ix_jobs_status_created", "jobs", ["status", DESC("created_at DESC"), DESC("id DESC")]
    )
    op.create_index("ix_jobs_id_pattern", "jobs", [DESC("id varchar_pattern_ops")])


def downgrade() -> None:
    for name in (
        "ix_jobs_id_pattern",
        "ix_jobs_status_created",
        "ix_jobs_submitter_status_created",
        "ix_jobs_created",
        "ix_jobs_submitter_created",
    ):
        op.drop_index(name, table_name="jobs")
    op.create_index("ix_jobs_submitter_created", "jobs", ["submitter_id", DESC("created_at DESC")])
    op.create_index("ix_jobs_created", "jobs", [DESC("created_at DESC")])
