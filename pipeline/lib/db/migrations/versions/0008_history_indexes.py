"""Indexes for a tick that stays flat as the days add up

Revision ID: 0008_history_indexes
Revises: 0005_photo_claims
Create Date: 2026-12-07

The daily tick (the gap-fill sensor, `doppel status`, the exporter's scrape) reads the
whole history's counts and the ledger's newest answer at every turn. Measured with
bench/history.py at ten years (3,650 days, 109,500 pairs), docs/history.md shows the plans:
- the ledger's last word per generator (`Ledger.last_stop`, every sensor tick) scanned and
  sorted every billed request; with (generator, completed_at, id) it reads one index entry;
- the counts of photos and look-alikes (`day_status`, `holdings_totals`) read every wide
  row (a look-alike's comparisons are kilobytes of JSON); these two indexes hold every
  column they count, so both engines count from the indexes alone.
Plain indexes, the same on SQLite and PostgreSQL, nothing rewritten: safe on a live database.
"""

from alembic import op

revision = "0008_history_indexes"
down_revision = "0005_photo_claims"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_billed_requests_generator_completed": (
        "billed_requests",
        ["generator", "completed_at", "id"],
    ),
    "ix_inspiration_images_counted": (
        "inspiration_images",
        ["day", "source", "status", "download_tracked_at", "id"],
    ),
    "ix_generated_images_counted": (
        "generated_images",
        ["inspiration_id", "generator", "status", "cost_usd", "latency_s"],
    ),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
