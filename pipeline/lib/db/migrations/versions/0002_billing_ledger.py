"""billed_requests: the ledger of requests that may be billed, with the per-photo cap

Revision ID: 0002_billing_ledger
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_billing_ledger"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billed_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "inspiration_id",
            sa.Integer(),
            sa.ForeignKey("inspiration_images.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cap_round", sa.Integer(), nullable=False),
        sa.Column("paid_slot", sa.Integer()),
        sa.Column("paid_cap", sa.Integer(), nullable=False),
        sa.Column("generator", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.String(64)),
        sa.Column("model", sa.String(128)),
        sa.Column("size", sa.String(32)),
        sa.Column("quality", sa.String(32)),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("estimated_usd", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("request_id", sa.String(128)),
        sa.Column("usage", sa.JSON()),
        sa.Column("cost_usd", sa.Float()),
        sa.Column("detail", sa.Text()),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("inspiration_id", "cap_round", "paid_slot", name="uq_billed_paid_slot"),
        sa.CheckConstraint(
            "paid_slot IS NULL OR (paid_slot >= 1 AND paid_slot <= paid_cap)",
            name="ck_billed_slot_within_cap",
        ),
    )
    op.create_index("ix_billed_requests_inspiration_id", "billed_requests", ["inspiration_id"])
    op.create_index("ix_billed_requests_reserved_at", "billed_requests", ["reserved_at"])


def downgrade() -> None:
    op.drop_index("ix_billed_requests_reserved_at", table_name="billed_requests")
    op.drop_index("ix_billed_requests_inspiration_id", table_name="billed_requests")
    op.drop_table("billed_requests")
