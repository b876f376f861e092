"""Download-tracking attempts per photo (bounded retries over runs); each day's one source

Revision ID: 0003_photo_sources
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_photo_sources"
down_revision = "0002_billing_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspiration_images") as batch:
        batch.add_column(
            sa.Column("tracking_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("tracking_error", sa.Text()))
    op.create_table(
        "day_sources",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
    )
    # A day collected before keeps the source of its first photo.
    op.execute(
        "INSERT INTO day_sources (day, source, chosen_at) "
        "SELECT i.day, i.source, i.created_at FROM inspiration_images i "
        "WHERE i.id = (SELECT min(j.id) FROM inspiration_images j WHERE j.day = i.day)"
    )


def downgrade() -> None:
    op.drop_table("day_sources")
    with op.batch_alter_table("inspiration_images") as batch:
        batch.drop_column("tracking_error")
        batch.drop_column("tracking_attempts")
