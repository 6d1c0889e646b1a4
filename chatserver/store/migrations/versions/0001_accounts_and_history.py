"""Accounts, session tokens, message history and the offline queue.

Written out rather than imported from models.py: a revision is a snapshot of the schema at its
time, and must not change when the models do.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQUENCE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
    )
    op.create_table(
        "tokens",
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_tokens"),
        sa.ForeignKeyConstraint(["user_id"], ["accounts.id"], name="fk_tokens_user_id_accounts", ondelete="CASCADE"),
    )
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"])
    op.create_table(
        "messages",
        sa.Column("seq", SEQUENCE, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("conversation", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("recepient", sa.String(), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_messages"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_messages_id", "messages", ["id"], unique=True)
    op.create_index("ix_messages_conversation_seq", "messages", ["conversation", "seq"])
    op.create_index("ix_messages_timestamp", "messages", ["timestamp"])
    op.create_table(
        "offline_queue",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("message_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "message_seq", name="pk_offline_queue"),
        sa.ForeignKeyConstraint(["user_id"], ["accounts.id"], name="fk_offline_queue_user_id_accounts",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_seq"], ["messages.seq"], name="fk_offline_queue_message_seq_messages"),
    )
    op.create_index("ix_offline_queue_message_seq", "offline_queue", ["message_seq"])


def downgrade() -> None:
    for table in ("offline_queue", "messages", "tokens", "accounts"):
        op.drop_table(table)  # their indexes go with them
