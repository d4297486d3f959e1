"""a definition's runs newest first: everyone's, and one user's

A definition's page and the definitions list show its latest runs (all of
them for an admin, the user's own otherwise: ``queue.recent_runs``). With only
``ix_jobs_definition_id`` (``definition_id``) and ``ix_jobs_definition_created``
(by name), PostgreSQL combined the two and read every run of the definition
before sorting: 25,000 rows and ~90 ms for a definition run a quarter of a
million times in the bench's million jobs (bench/ui_pages.py). Ordered by
``created_at`` after the definition (and after the submitter), ten runs are ten
index entries. ``ix_jobs_definition_runs`` also finds a deleted definition's
jobs (its ``definition_id`` set to null), so ``ix_jobs_definition_id`` goes.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

HAS_DEFINITION = sa.text("definition_id IS NOT NULL")
NEWEST_FIRST = [sa.text("created_at DESC"), sa.text("id DESC")]


def upgrade() -> None:
    op.create_index(
        "ix_jobs_definition_runs",
        "jobs",
        ["definition_id", *NEWEST_FIRST],
        postgresql_where=HAS_DEFINITION,
    )
    op.create_index(
        "ix_jobs_definition_submitter_runs",
        "jobs",
        ["definition_id", "submitter_id", *NEWEST_FIRST],
        postgresql_where=HAS_DEFINITION,
    )
    op.drop_index("ix_jobs_definition_id", table_name="jobs")


def downgrade() -> None:
    op.create_index(
        "ix_jobs_definition_id", "jobs", ["definition_id"], postgresql_where=HAS_DEFINITION
    )
    op.drop_index("ix_jobs_definition_submitter_runs", table_name="jobs")
    op.drop_index("ix_jobs_definition_runs", table_name="jobs")
