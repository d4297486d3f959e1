"""job directories to remove

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 08:31:00

Deleting a job (DELETE /api/jobs/{id}) deletes its row and, in the same
transaction, records its directory here for the executor of the host that ran
it (``host``, from the job's ``worker``): only an executor removes job files.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_dirs_to_remove",
        sa.Column("job_id", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "host"),
    )


def downgrade() -> None:
    op.drop_table("job_dirs_to_remove")
