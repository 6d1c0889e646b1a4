"""Rooms, their members and invitations, read marks, and who is in each one-to-one conversation.

Written out rather than imported from models.py, like 0001. ``dm_conversations`` is filled from
the messages already kept, so one-to-one conversations from before this revision are listed.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rooms"),
    )
    op.create_index("ix_rooms_owner", "rooms", ["owner"])
    for table in ("room_members", "room_invites"):
        op.create_table(
            table,
            sa.Column("room_id", sa.String(), nullable=False),
            sa.Column("user_id", sa.String(), nullable=False),
            sa.PrimaryKeyConstraint("room_id", "user_id", name=f"pk_{table}"),
            sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=f"fk_{table}_room_id_rooms", ondelete="CASCADE"),
        )
        op.create_index(f"ix_{table}_user_id", table, ["user_id"])
    op.create_table(
        "read_marks",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("conversation", sa.String(), nullable=False),
        sa.Column("message_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "conversation", name="pk_read_marks"),
    )
    op.create_index("ix_read_marks_conversation", "read_marks", ["conversation"])
    dm_conversations = op.create_table(
        "dm_conversations",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("conversation", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "conversation", name="pk_dm_conversations"),
    )
    # Both ends of every one-to-one conversation kept so far; UNION drops the duplicates.
    messages = sa.table("messages", sa.column("conversation"), sa.column("sender"), sa.column("recepient"))
    one_to_one = messages.c.conversation.startswith("dm:")
    participants = sa.union(
        sa.select(messages.c.sender, messages.c.conversation).where(one_to_one),
        sa.select(messages.c.recepient, messages.c.conversation).where(one_to_one),
    )
    op.execute(dm_conversations.insert().from_select(["user_id", "conversation"], participants))


def downgrade() -> None:
    for table in ("dm_conversations", "read_marks", "room_invites", "room_members", "rooms"):
        op.drop_table(table)  # their indexes go with them
