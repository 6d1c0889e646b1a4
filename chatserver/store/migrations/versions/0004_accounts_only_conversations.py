"""The conversation list is for accounts only: drop the rows kept for guests' ids.

A row for a guest's id would show that guest's conversations, and their last messages, to
whoever registers the id later. Rows are now written for accounts only (SqlStore).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM dm_conversations WHERE user_id NOT IN (SELECT id FROM accounts)")


def downgrade() -> None:
    pass  # the rows cannot come back, and no revision needs them
