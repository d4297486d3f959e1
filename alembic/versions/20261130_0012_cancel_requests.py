"""cancel requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 06:00:00

Cancelling a RUNNING job records the request; the job becomes CANCELLED only
when its executor has ended every process of it, together with its final
record (return code, output, finished_at). Before, it showed CANCELLED with a
null record for a moment.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("cancel_requested_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "cancel_requested_at")
