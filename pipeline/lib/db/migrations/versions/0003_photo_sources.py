"""Download-tracking attempts per photo (bounded retries over runs)

Revision ID: 0003_photo_sources
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_photo_sources"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inspiration_images") as batch:
        batch.add_column(
            sa.Column("tracking_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("tracking_error", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("inspiration_images") as batch:
        batch.drop_column("tracking_error")
        batch.drop_column("tracking_attempts")
