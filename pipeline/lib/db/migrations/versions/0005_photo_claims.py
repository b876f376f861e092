"""photo_claims: the lease a run holds on a photo while it makes its look-alike

Revision ID: 0005_photo_claims
Revises: 0004_look_alike_outcomes
Create Date: 2026-12-07

One row per photo being made, by one holder (a process), until `expires_at`; the holder
renews it while it works and deletes it when the photo's outcome is recorded. The key is
the photo alone; a second generator per photo makes it (photo, generator).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_photo_claims"
down_revision = "0004_look_alike_outcomes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "photo_claims",
        sa.Column(
            "inspiration_id",
            sa.Integer(),
            sa.ForeignKey("inspiration_images.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("inspiration_id", name="pk_photo_claims"),
    )
    op.create_index("ix_photo_claims_holder", "photo_claims", ["holder"])


def downgrade() -> None:
    op.drop_index("ix_photo_claims_holder", table_name="photo_claims")
    op.drop_table("photo_claims")
