"""job options

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:59:26.071160
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("number", sa.BigInteger(), sa.Identity(always=False), nullable=False)
    )
    op.add_column(
        "jobs",
        sa.Column(
            "args", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
    )
    op.add_column(
        "jobs",
        sa.Column(
            "env", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column("jobs", sa.Column("stdin", sa.Text(), nullable=True))
    op.add_column("jobs", sa.Column("timeout", sa.Integer(), server_default="3600", nullable=False))
    op.add_column("jobs", sa.Column("cpus", sa.Integer(), server_default="1", nullable=False))
    op.add_column(
        "jobs", sa.Column("memory_mb", sa.Integer(), server_default="1024", nullable=False)
    )
    op.add_column(
        "jobs", sa.Column("stdout_truncated", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column(
        "jobs", sa.Column("stderr_truncated", sa.Boolean(), server_default="false", nullable=False)
    )
    op.create_unique_constraint("uq_jobs_number", "jobs", ["number"])


def downgrade() -> None:
    op.drop_constraint("uq_jobs_number", "jobs", type_="unique")
    op.drop_column("jobs", "stderr_truncated")
    op.drop_column("jobs", "stdout_truncated")
    op.drop_column("jobs", "memory_mb")
    op.drop_column("jobs", "cpus")
    op.drop_column("jobs", "timeout")
    op.drop_column("jobs", "stdin")
    op.drop_column("jobs", "env")
    op.drop_column("jobs", "args")
    op.drop_column("jobs", "number")
