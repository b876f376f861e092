"""Look-alike outcomes: "waiting" (with when, and failures in a row) replaces retryable

Revision ID: 0004_look_alike_outcomes
Revises: 0003_photo_sources
Create Date: 2026-12-07

A look-alike's status is one of succeeded, refused, failed (for good) or waiting (for a
retry). Before, a failure was "failed" with a `retryable` flag, and a request stopped by the
daily budget was "budget": both retryable kinds become "waiting", due now.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_look_alike_outcomes"
down_revision = "0003_photo_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generated_images") as batch:
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("transient_failures", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE generated_images SET status = 'waiting', transient_failures = 1 "
        "WHERE status = 'budget' OR (status = 'failed' AND retryable)"
    )
    with op.batch_alter_table("generated_images") as batch:
        batch.drop_column("retryable")


def downgrade() -> None:
    with op.batch_alter_table("generated_images") as batch:
        batch.add_column(
            sa.Column("retryable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.execute(
        "UPDATE generated_images SET retryable = (status = 'waiting'), "
        "status = CASE WHEN status = 'waiting' THEN 'failed' ELSE status END"
    )
    with op.batch_alter_table("generated_images") as batch:
        batch.drop_column("transient_failures")
        batch.drop_column("retry_at")
