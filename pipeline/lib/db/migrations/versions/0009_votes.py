"""People's votes: each game answer the deployed gallery's vote service accepted

Revision ID: 0009_votes
Revises: 0006_lookalike_per_generator
Create Date: 2026-12-07

One row per accepted answer (pipeline/lib/votes): the pair (photo and generator), what was
picked, whether that was right (decided by the service from the published pair), the time
taken, a random per-browser id and when. No address, no cookie, nothing else about the
person. One browser id counts once per pair: a unique constraint, whatever process took it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_votes"
down_revision = "0006_lookalike_per_generator"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "inspiration_id",
            sa.Integer(),
            sa.ForeignKey("inspiration_images.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("generator", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("picked", sa.String(16), nullable=False),
        sa.Column("shown", sa.String(16)),
        sa.Column("confidence", sa.SmallInteger()),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("answer_ms", sa.Integer(), nullable=False),
        sa.Column("browser_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "browser_id", "inspiration_id", "generator", name="uq_votes_browser_pair"
        ),
        sa.CheckConstraint("mode IN ('pair', 'single')", name="ck_votes_mode"),
        sa.CheckConstraint("picked IN ('photo', 'lookalike')", name="ck_votes_picked"),
        sa.CheckConstraint(
            "(mode = 'pair' AND shown IS NULL AND confidence IS NULL) OR "
            "(mode = 'single' AND shown IN ('photo', 'lookalike') "
            "AND confidence BETWEEN 50 AND 100)",
            name="ck_votes_single_answer",
        ),
        sa.CheckConstraint("answer_ms >= 0", name="ck_votes_answer_ms"),
    )
    op.create_index("ix_votes_created_at", "votes", ["created_at"])
    op.create_index("ix_votes_pair", "votes", ["inspiration_id", "generator"])


def downgrade() -> None:
    op.drop_index("ix_votes_pair", table_name="votes")
    op.drop_index("ix_votes_created_at", table_name="votes")
    op.drop_table("votes")
