"""The migrations build exactly the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from pipeline.lib.day.counts import day_status
from pipeline.lib.db import Base, Database, LookAlike, Photo


def photo(source_id: str, **kw: Any) -> Photo:
    values: dict[str, Any] = {
        "day": date(2026, 11, 20), "rank": 1, "status": "stored",
        "download_tracked_at": datetime(2026, 11, 21, tzinfo=UTC),
    }  # fmt: skip
    return Photo(source="samples", source_id=source_id, credit={}, **(values | kw))


def test_migrations_match_the_models(either_database: Database) -> None:
    either_database.upgrade()  # idempotent
    with either_database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "doppel_alembic_version"})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() is not None
    tables = set(inspect(either_database.engine).get_table_names())
    assert {"inspiration_images", "generated_images", "doppel_alembic_version"} <= tables


def test_source_ids_are_unique_per_source(either_database: Database) -> None:
    with either_database.session() as session:
        session.add(photo("a"))
        session.add(Photo(
            source="folder", source_id="a", day=date(2026, 11, 20), rank=1, status="stored",
            credit={},
        ))  # fmt: skip
    with pytest.raises(IntegrityError), either_database.session() as session:
        session.add(photo("a"))


def test_one_look_alike_per_photo_and_generator(either_database: Database) -> None:
    with either_database.session() as session:
        p = photo("b")
        session.add(p)
        session.flush()
        session.add(LookAlike(photo_id=p.id, status="succeeded", generator="x"))
        session.add(LookAlike(photo_id=p.id, status="failed", generator="y"))  # another one
        photo_id = p.id
    with pytest.raises(IntegrityError), either_database.session() as session:
        session.add(LookAlike(photo_id=photo_id, status="failed", generator="x"))
    with either_database.session() as session:
        stored = session.get_one(Photo, photo_id)
        assert [g.generator for g in stored.look_alikes] == ["x", "y"]
        assert stored.look_alike_by("y") is stored.look_alikes[1]
        assert stored.look_alike_by("z") is None


def test_status_by_day_counts(either_database: Database) -> None:
    with either_database.session() as session:
        for i, status in enumerate(["succeeded", "failed", "refused", None]):
            p = photo(f"p{i}", rank=i)
            session.add(p)
            session.flush()
            if status:
                session.add(LookAlike(photo_id=p.id, status=status, generator="x"))
        session.add(photo("broken", status="failed", error="truncated"))
        session.add(photo("untracked", download_tracked_at=None))  # stored, not yet used
        other = photo("elsewhere")  # the day keeps its first source: not counted
        other.source = "folder"
        session.add(other)
    assert either_database.claim_day(date(2026, 11, 20), "samples") == "samples"
    assert either_database.claim_day(date(2026, 11, 20), "folder") == "samples"
    assert day_status(either_database) == [
        {
            "day": "2026-11-20",
            "photos": 4,
            "photos_failed": 1,
            "generated_succeeded": 1,
            "generated_failed": 2,
            "generated_set_aside": 0,
        }
    ]


def test_look_alikes_waiting_on_a_generator_out_of_the_lineup_are_set_aside_not_pending(
    either_database: Database,
) -> None:
    day = date(2026, 11, 20)
    with either_database.session() as session:
        for i, generator in enumerate(["img2img", "patch-remix"]):
            p = photo(f"p{i}", rank=i)
            session.add(p)
            session.flush()
            session.add(LookAlike(photo_id=p.id, status="waiting", generator=generator))
            session.add(LookAlike(photo_id=p.id, status="failed", generator="openai"))
    either_database.claim_day(day, "samples")
    counts = ("generated_failed", "generated_set_aside")

    def status(lineup: list[str] | None) -> tuple[int, int]:
        [found] = day_status(either_database, lineup)
        return found[counts[0]], found[counts[1]]

    # img2img left the lineup: its waiting look-alike is set aside; openai's failed for good.
    assert status(["patch-remix"]) == (3, 1)
    assert status(["patch-remix", "img2img"]) == (4, 0)  # back in the lineup: pending again
    assert status(None) == (4, 0)  # no lineup given: nothing is set aside


def test_retryable_failures_become_waiting_when_migrated(either_database: Database) -> None:
    """Rows written before outcomes had names: a retryable failure and a request stopped by
    the budget wait for a retry; a failure that was not retryable failed for good."""
    from alembic import command
    from sqlalchemy import text

    from pipeline.lib.db.schema import alembic_config

    def migrate(step: str, revision: str) -> None:
        config = alembic_config()
        with either_database.engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, step)(config, revision)

    migrate("downgrade", "0003_photo_sources")
    legacy = {"ok": ("succeeded", False), "no": ("refused", False), "flaky": ("failed", True),
              "broken": ("failed", False), "broke": ("budget", True)}  # fmt: skip
    with either_database.engine.begin() as connection:
        for rank, (name, (status, retryable)) in enumerate(legacy.items()):
            photo_id = connection.execute(
                text("INSERT INTO inspiration_images (source, source_id, day, rank, status, "
                     "credit, created_at, updated_at) VALUES ('samples', :n, '2026-11-20', :r, "
                     "'stored', '{}', :t, :t) RETURNING id"),
                {"n": name, "r": rank, "t": datetime(2026, 11, 21, tzinfo=UTC)},
            ).scalar_one()  # fmt: skip
            connection.execute(
                text("INSERT INTO generated_images (inspiration_id, status, retryable, attempts, "
                     "generator, created_at, updated_at) VALUES (:p, :s, :y, 1, 'x', :t, :t)"),
                {"p": photo_id, "s": status, "y": retryable,
                 "t": datetime(2026, 11, 21, tzinfo=UTC)},
            )  # fmt: skip
    migrate("upgrade", "head")
    with either_database.session() as session:
        rows = {r.photo.source_id: (r.status, r.transient_failures, r.retry_at)
                for r in session.query(LookAlike)}  # fmt: skip
    assert rows == {"ok": ("succeeded", 0, None), "no": ("refused", 0, None),
                    "flaky": ("waiting", 1, None), "broken": ("failed", 0, None),
                    "broke": ("waiting", 1, None)}  # fmt: skip


def test_look_alikes_per_generator_keep_every_row_when_migrated(either_database: Database) -> None:
    """A database at 0004 with look-alikes and paid slots in it: after the upgrade every row
    is still there, and a second generator may make its own look-alike of each photo and
    take its own paid slots."""
    from alembic import command
    from sqlalchemy import text

    from pipeline.lib.db import BilledRequest
    from pipeline.lib.db.schema import alembic_config

    def migrate(step: str, revision: str) -> None:
        config = alembic_config()
        with either_database.engine.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, step)(config, revision)

    migrate("downgrade", "0004_look_alike_outcomes")
    at = datetime(2026, 11, 21, tzinfo=UTC)
    with either_database.engine.begin() as connection:
        for rank, (name, status) in enumerate([("ok", "succeeded"), ("no", "failed")]):
            photo_id = connection.execute(
                text("INSERT INTO inspiration_images (source, source_id, day, rank, status, "
                     "credit, created_at, updated_at) VALUES ('samples', :n, '2026-11-20', :r, "
                     "'stored', '{}', :t, :t) RETURNING id"),
                {"n": name, "r": rank, "t": at},
            ).scalar_one()  # fmt: skip
            connection.execute(
                text("INSERT INTO generated_images (inspiration_id, status, attempts, "
                     "transient_failures, generator, object_key, created_at, updated_at) "
                     "VALUES (:p, :s, 1, 0, 'openai', :k, :t, :t)"),
                {"p": photo_id, "s": status, "k": f"generated/{name}.png", "t": at},
            )  # fmt: skip
            connection.execute(
                text("INSERT INTO billed_requests (inspiration_id, kind, cap_round, paid_slot, "
                     "paid_cap, generator, attempt, estimated_usd, outcome, reserved_at) "
                     "VALUES (:p, 'request', 1, 1, 2, 'openai', 1, 0.04, 'billed', :t)"),
                {"p": photo_id, "t": at},
            )  # fmt: skip
    migrate("upgrade", "head")
    with either_database.session() as session:
        rows = {(r.photo.source_id, r.generator): (r.status, r.object_key)
                for r in session.query(LookAlike)}  # fmt: skip
        assert rows == {("ok", "openai"): ("succeeded", "generated/ok.png"),
                        ("no", "openai"): ("failed", "generated/no.png")}  # fmt: skip
        assert session.query(BilledRequest).count() == 2
        ok = session.query(Photo).filter_by(source_id="ok").one()
        session.add(LookAlike(photo_id=ok.id, status="succeeded", generator="img2img"))
        session.add(BilledRequest(photo_id=ok.id, cap_round=1, paid_slot=1, paid_cap=2,
                                  generator="img2img", outcome="billed"))  # fmt: skip
    with pytest.raises(IntegrityError), either_database.session() as session:
        session.add(BilledRequest(photo_id=ok.id, cap_round=1, paid_slot=1, paid_cap=2,
                                  generator="openai", outcome="billed"))  # fmt: skip
