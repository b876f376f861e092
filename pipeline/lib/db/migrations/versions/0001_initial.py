"""inspiration_images and generated_images, one-to-one

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inspiration_images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("title", sa.Text()),
        sa.Column("description", sa.Text()),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("likes", sa.Integer()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("photographer_name", sa.Text()),
        sa.Column("photographer_url", sa.Text()),
        sa.Column("page_url", sa.Text()),
        sa.Column("display_url", sa.Text()),
        sa.Column("license", sa.Text()),
        sa.Column("credit", sa.JSON(), nullable=False),
        sa.Column("object_key", sa.String(512)),
        sa.Column("content_type", sa.String(64)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("byte_size", sa.Integer()),
        sa.Column("download_tracked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source", "source_id", name="uq_inspiration_source_id"),
    )
    op.create_index("ix_inspiration_images_day", "inspiration_images", ["day"])
    op.create_table(
        "generated_images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "inspiration_id",
            sa.Integer(),
            sa.ForeignKey("inspiration_images.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("retryable", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("generator", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128)),
        sa.Column("strategy", sa.String(64)),
        sa.Column("prompt", sa.Text()),
        sa.Column("seed", sa.Integer()),
        sa.Column("object_key", sa.String(512)),
        sa.Column("content_type", sa.String(64)),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("cost_usd", sa.Float()),
        sa.Column("latency_s", sa.Float()),
        sa.Column("request_id", sa.String(128)),
        sa.Column("usage", sa.JSON()),
        sa.Column("quality", sa.JSON()),
        sa.Column("comparisons", sa.JSON()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("generated_images")
    op.drop_index("ix_inspiration_images_day", table_name="inspiration_images")
    op.drop_table("inspiration_images")
