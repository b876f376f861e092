"""One look-alike per photo and generator; paid slots per photo and generator

Revision ID: 0006_lookalike_per_generator
Revises: 0008_history_indexes
Create Date: 2026-12-07

Several generators may each make a look-alike of the same photo (DOPPEL_GENERATORS). The
unique photo of `generated_images` becomes a unique (photo, generator) pair, and the paid
slots of `billed_requests` are held per photo and generator, so each generator has its own
cap. Every existing row stays: each already names its generator, and until now a photo had
at most one look-alike, so the new pairs are unique as they stand.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_lookalike_per_generator"
down_revision = "0008_history_indexes"
branch_labels = None
depends_on = None

# SQLite reflects the column's inline UNIQUE without a name; batch mode names it by this
# convention so that it can be dropped (PostgreSQL has its own name for it, read below).
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    old = _unique_on(["inspiration_id"]) or "uq_generated_images_inspiration_id"
    with op.batch_alter_table("generated_images", naming_convention=NAMING) as batch:
        batch.drop_constraint(old, type_="unique")
        batch.create_unique_constraint(
            "uq_generated_photo_generator", ["inspiration_id", "generator"]
        )
    with op.batch_alter_table("billed_requests") as batch:
        batch.drop_constraint("uq_billed_paid_slot", type_="unique")
        batch.create_unique_constraint(
            "uq_billed_paid_slot", ["inspiration_id", "generator", "cap_round", "paid_slot"]
        )


def downgrade() -> None:
    """Back to one look-alike per photo: a photo's later generators' look-alikes are
    deleted (their images stay in the object store), and every generator's paid slots of a
    photo share one set again, so slots taken twice are given back."""
    op.execute(
        "DELETE FROM generated_images WHERE id NOT IN "
        "(SELECT MIN(id) FROM generated_images GROUP BY inspiration_id)"
    )
    op.execute(
        "UPDATE billed_requests SET paid_slot = NULL WHERE paid_slot IS NOT NULL AND id NOT IN "
        "(SELECT MIN(id) FROM billed_requests WHERE paid_slot IS NOT NULL "
        "GROUP BY inspiration_id, cap_round, paid_slot)"
    )
    with op.batch_alter_table("billed_requests") as batch:
        batch.drop_constraint("uq_billed_paid_slot", type_="unique")
        batch.create_unique_constraint(
            "uq_billed_paid_slot", ["inspiration_id", "cap_round", "paid_slot"]
        )
    with op.batch_alter_table("generated_images") as batch:
        batch.drop_constraint("uq_generated_photo_generator", type_="unique")
        batch.create_unique_constraint("uq_generated_images_inspiration_id", ["inspiration_id"])


def _unique_on(columns: list[str]) -> str | None:
    """The name of generated_images' unique constraint on exactly `columns`, if it has one."""
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints("generated_images"):
        if constraint["column_names"] == columns:
            return constraint["name"]
    return None
