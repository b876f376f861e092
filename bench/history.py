"""The daily tick against ten years of history, in PostgreSQL and in SQLite.

What is synthesised (not timed), per engine, in throwaway databases:
- the database of record: 3,650 days (to yesterday) of 30 used photos each (109,500), one
  look-alike per photo (mostly succeeded; some refused, failed, and waiting on the newest
  day) with a realistic comparisons JSON, and one ledger row per look-alike (the worst case:
  every look-alike paid for);
- Dagster's instance storage, where the tick reads it: one run per day (tagged with its
  partition; about one day in 25 also has a failed run before it), each with the asset
  events Dagster writes (materialization planned, run start, materializations, run
  success or failure). The history up to the look-back window is written in bulk with
  Dagster's own row builders (`_event_to_row`, `_get_run_insertion_values`), into the
  tables the tick reads; PostgreSQL also gets 30 log lines per run in its one `event_logs`
  table, as a day's run writes them (SQLite keeps those in one file per run, which no tick
  opens, so they are left out there). The look-back window itself is written through
  `instance.handle_new_event`, exactly as a run writes it: one day missing, one failed.
  The bench checks that Dagster reads the bulk days back with the statuses they were
  given.

What is timed, each the fastest of `--rounds` (the first round, with Dagster's asset status
cache cold, is printed too):
- sensor_s: one gap-fill sensor evaluation (`evaluate_tick`, as the daemon calls it);
- status_s: one `doppel status --json` in this process (migration check, the count, the
  JSON), and status_process_s: the same as a fresh process (`python -m pipeline.cli`);
- scrape_s: one exporter scrape (`DoppelCollector.collect`: database and instance).
Target: each at most 1 s on 2 cores. The last line is one JSON object.

Run: flock /tmp/doppel-bench.lock .venv/bin/python bench/history.py [--engines postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.events import (
    AssetMaterializationPlannedData,
    DagsterEvent,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable
from sqlalchemy import Engine, create_engine, event, insert, text

from pipeline.defs.keys import LOOK_ALIKES_KEY, PHOTOS_KEY
from pipeline.lib.core import clock
from pipeline.lib.db import BilledRequest, Database, DaySource, LookAlike, Photo
from pipeline.lib.db.database import database_url_for
from pipeline.lib.settings import load_settings

JOB = "daily_images_job"
KEYS = (PHOTOS_KEY, LOOK_ALIKES_KEY)
GENERATOR = "openai"
LOOKBACK = 14  # docker-compose.yml's DOPPEL_GAP_LOOKBACK_DAYS
CHUNK = 5000


@dataclass(frozen=True)
class History:
    days: list[date]
    per_day: int
    now: datetime  # the tick's clock: noon of the day after the last one

    @property
    def recent(self) -> list[date]:
        """The days written through Dagster's own event path (the look-back and 2 more)."""
        return self.days[-(LOOKBACK + 2) :]

    @property
    def missing(self) -> date:
        return self.days[-5]

    @property
    def failing(self) -> date:
        return self.days[-4]


# The database of record


def comparisons(rng: random.Random) -> dict[str, Any]:
    """About the size of what `compare_images` stores (1-2 KB of JSON)."""
    palette = [[rng.randrange(256) for _ in range(3)] for _ in range(6)]
    return {
        "ssim": rng.random(), "psnr": 10 + 20 * rng.random(), "swd": rng.random(),
        "network_distance": rng.random(), "copy_share": rng.random() / 4,
        "photo": {"palette": palette, "mean": [rng.random() for _ in range(3)],
                  "std": [rng.random() for _ in range(3)], "entropy": 7 * rng.random()},
        "look_alike": {"palette": palette[::-1], "mean": [rng.random() for _ in range(3)],
                       "std": [rng.random() for _ in range(3)], "entropy": 7 * rng.random()},
        "histogram": [rng.random() for _ in range(48)],
    }  # fmt: skip


def look_alike_status(day: date, history: History, rank: int) -> tuple[str, datetime | None]:
    if day == history.days[-1] and rank < 2:
        return "waiting", history.now + timedelta(hours=rank)
    draw = (day.toordinal() * 31 + rank) % 100
    return ("refused" if draw < 2 else "failed" if draw < 3 else "succeeded"), None


def fill_records(db: Database, history: History) -> None:
    rng = random.Random(1)
    db.upgrade()
    ids = 0
    with db.engine.begin() as conn:
        conn.execute(insert(DaySource), [
            {"day": d, "source": "unsplash", "chosen_at": history.now} for d in history.days
        ])  # fmt: skip
    for start in range(0, len(history.days), CHUNK // history.per_day):
        photos, looks, billed = [], [], []
        for day in history.days[start : start + CHUNK // history.per_day]:
            at = midnight_after(day)
            for rank in range(history.per_day):
                ids += 1
                photos.append({
                    "id": ids, "source": "unsplash", "source_id": f"u{ids:08d}", "day": day,
                    "rank": rank, "status": "stored", "title": f"Photo {ids}", "width": 4000,
                    "height": 3000, "likes": rng.randrange(5000),
                    "photographer_name": "Someone", "page_url": f"https://unsplash.com/photos/u{ids}",
                    "display_url": f"https://images.unsplash.com/photo-{ids}?ixid=x",
                    "license": "Unsplash", "credit": {}, "object_key": f"photos/{day}/{ids}.jpg",
                    "content_type": "image/jpeg", "sha256": f"{ids:064x}", "byte_size": 900_000,
                    "download_tracked_at": at, "tracking_attempts": 1, "created_at": at,
                    "updated_at": at,
                })  # fmt: skip
                status, retry_at = look_alike_status(day, history, rank)
                done = status == "succeeded"
                latency = 5 + 40 * rng.random()
                looks.append({
                    "id": ids, "inspiration_id": ids, "status": status, "retry_at": retry_at,
                    "error": None if done else "the generator said no", "attempts": 1,
                    "transient_failures": int(status == "waiting"), "generator": GENERATOR,
                    "model": "gpt-image-1", "strategy": "edit", "prompt": "A look-alike " * 20,
                    "seed": None, "object_key": f"look-alikes/{day}/{ids}.png" if done else None,
                    "content_type": "image/png", "width": 1024, "height": 768,
                    "sha256": f"{ids:064x}", "cost_usd": 0.04 if done else None,
                    "latency_s": latency if done else None, "usage": {"total_tokens": 1500},
                    "quality": {"passed": True}, "comparisons": comparisons(rng) if done else None,
                    "created_at": at, "updated_at": at,
                })  # fmt: skip
                billed.append({
                    "id": ids, "inspiration_id": ids, "kind": "request", "cap_round": 1,
                    "paid_slot": 1, "paid_cap": 2, "generator": GENERATOR, "endpoint": "edits",
                    "model": "gpt-image-1", "size": "1024x1024", "quality": "low", "attempt": 1,
                    "estimated_usd": 0.04, "outcome": "billed" if done else "not_billed",
                    "http_status": 200 if done else 400, "cost_usd": 0.04 if done else 0.0,
                    "reserved_at": at, "completed_at": at + timedelta(seconds=latency),
                })  # fmt: skip
        with db.engine.begin() as conn:
            for model, rows in ((Photo, photos), (LookAlike, looks), (BilledRequest, billed)):
                conn.execute(insert(model), rows)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have, over ten years
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# Dagster's instance storage


def dagster_event(
    kind: DagsterEventType, data: Any = None, step: str | None = None
) -> DagsterEvent:
    return DagsterEvent(kind.value, JOB, step_key=step, event_specific_data=data)


def run_events(day: str, ok: bool) -> list[DagsterEvent]:
    """What a run of `day` writes that a tick reads: the plan, the start, the outcome."""
    kinds = DagsterEventType
    planned = [
        dagster_event(
            kinds.ASSET_MATERIALIZATION_PLANNED, AssetMaterializationPlannedData(key, day)
        )
        for key in KEYS
    ]
    start = [*planned, dagster_event(kinds.RUN_START)]
    if not ok:
        return [*start, dagster_event(kinds.RUN_FAILURE)]
    metadata = {"photos": 30, "unsplash_ratelimit_remaining": 40}
    made = [
        dagster_event(
            kinds.ASSET_MATERIALIZATION,
            StepMaterializationData(dg.AssetMaterialization(key, partition=day, metadata=metadata)),
            step=key.path[-1],
        )
        for key in KEYS
    ]
    return [*start, *made, dagster_event(kinds.RUN_SUCCESS)]


def entry(run_id: str, ev: DagsterEvent | None, ts: float, message: str = "") -> EventLogEntry:
    return EventLogEntry(
        user_message=message, level=20, job_name=JOB, run_id=run_id, timestamp=ts,
        error_info=None, dagster_event=ev, step_key=ev.step_key if ev else None,
    )  # fmt: skip


def runs_of(day: date) -> list[bool]:
    """A day's runs, oldest first (True: succeeded): one in 25 failed once first."""
    return [False, True] if day.toordinal() % 25 == 0 else [True]


def fill_instance(instance: dg.DagsterInstance, history: History, log_lines: bool) -> None:
    recent = set(history.recent)
    storage: Any = instance.event_log_storage
    runs: Any = instance.run_storage
    run_rows: list[dict[str, Any]] = []
    tag_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []

    def flush() -> None:
        with runs.connect() as conn:
            conn.execute(RunsTable.insert(), run_rows)
            conn.execute(RunTagsTable.insert(), tag_rows)
        with storage.index_connection() as conn:
            for at in range(0, len(event_rows), CHUNK):
                conn.execute(SqlEventLogStorageTable.insert(), event_rows[at : at + CHUNK])
        for rows in (run_rows, tag_rows, event_rows):
            rows.clear()

    for day in history.days:
        if day in recent:
            continue
        for attempt, ok in enumerate(runs_of(day)):
            run_id = str(uuid.uuid4())
            ts = midnight_after(day).timestamp() + 3600 + attempt * 1800
            status = DagsterRunStatus.SUCCESS if ok else DagsterRunStatus.FAILURE
            tags = {"dagster/partition": day.isoformat(), "dagster/schedule_name": "daily"}
            run = DagsterRun(job_name=JOB, run_id=run_id, status=status, tags=tags)
            created = datetime.fromtimestamp(ts, UTC)
            row = runs._get_run_insertion_values(run, created)
            run_rows.append(
                row | {"start_time": ts, "end_time": ts + 600, "update_timestamp": created}
            )
            tag_rows += [
                {"run_id": run_id, "key": k, "value": v} for k, v in run.tags_for_storage().items()
            ]
            entries = [
                entry(run_id, e, ts + i) for i, e in enumerate(run_events(day.isoformat(), ok))
            ]
            if log_lines:
                entries += [
                    entry(run_id, None, ts + 10 + i, f"photo {i}: stored") for i in range(30)
                ]
            event_rows += [storage._event_to_row(e) for e in entries]
        if len(run_rows) >= 500:
            flush()
    flush()
    for day in history.recent:  # the look-back window, as runs write it
        if day == history.missing:
            continue
        for attempt, ok in enumerate([False] if day == history.failing else runs_of(day)):
            run_id = str(uuid.uuid4())
            new = DagsterRunStatus.NOT_STARTED
            tags = {"dagster/partition": day.isoformat()}
            instance.add_run(DagsterRun(job_name=JOB, run_id=run_id, status=new, tags=tags))
            ts = midnight_after(day).timestamp() + 3600 + attempt * 1800
            for i, e in enumerate(run_events(day.isoformat(), ok)):
                instance.handle_new_event(entry(run_id, e, ts + i))


def midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)


def check_statuses(instance: dg.DagsterInstance, history: History) -> None:
    """Dagster reads the bulk days back as they were written (and the recent ones)."""
    partitions = dg.DailyPartitionsDefinition(start_date=history.days[0].isoformat())
    sample = [d.isoformat() for d in history.days[:: max(1, len(history.days) // 40)]]
    sample += [history.missing.isoformat(), history.failing.isoformat()]
    found = instance.get_status_by_partition(LOOK_ALIKES_KEY, sample, partitions) or {}
    want: dict[str, dg.AssetPartitionStatus | None]
    want = {d: dg.AssetPartitionStatus.MATERIALIZED for d in sample}
    want[history.missing.isoformat()] = None
    want[history.failing.isoformat()] = dg.AssetPartitionStatus.FAILED
    wrong = {d: (found.get(d), s) for d, s in want.items() if found.get(d) != s}
    assert not wrong, f"the synthetic instance reads back wrong (found, wanted): {wrong}"


def stored_mb(db: Database, instance: dg.DagsterInstance, home: Path) -> dict[str, float]:
    """How big the history is on disk: the database of record and Dagster's storage."""
    if db.engine.dialect.name == "sqlite":
        files = [Path(str(db.engine.url.database))]
        records = sum(f.stat().st_size for f in files[0].parent.glob(files[0].name + "*"))
        dagster = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
    else:
        size = "select pg_database_size(current_database())"
        with db.engine.connect() as conn:
            records = conn.execute(text(size)).scalar_one()
        with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
            dagster = conn.execute(text(size)).scalar_one()
    return {"records_mb": round(records / 2**20, 1), "instance_mb": round(dagster / 2**20, 1)}


# Timing, and the plans of the queries a tick sends


@contextlib.contextmanager
def queries_sent(url: str) -> Iterator[list[tuple[str, Any]]]:
    """Every distinct statement (and its first parameters) sent to the database at `url`
    by any engine in this process, as they are sent."""
    seen: dict[str, Any] = {}

    def sent(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if conn.engine.url.render_as_string(hide_password=False) == url:
            seen.setdefault(statement, params)

    event.listen(Engine, "before_cursor_execute", sent)
    found: list[tuple[str, Any]] = []
    try:
        yield found
    finally:
        event.remove(Engine, "before_cursor_execute", sent)
        found += [(q, p) for q, p in seen.items() if q.lstrip().upper().startswith("SELECT")]


def print_plans(db: Database, queries: list[tuple[str, Any]]) -> None:
    """EXPLAIN ANALYZE (PostgreSQL) or EXPLAIN QUERY PLAN (SQLite) of each query."""
    explain = (
        "EXPLAIN ANALYZE " if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    )
    with db.engine.connect() as conn:
        for statement, params in queries:
            if "alembic_version" in statement or "sqlite_master" in statement:
                continue
            plan = conn.exec_driver_sql(explain + statement, params).all()
            print("\n" + " ".join(statement.split()))
            for row in plan:
                print("   ", " ".join(str(part) for part in row))


def fastest(rounds: int, work: Callable[[], Any]) -> tuple[float, float]:
    """(first round, fastest round) in seconds."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times[0], min(times)


@contextlib.contextmanager
def engine_under_test(engine: str, admin_url: str) -> Iterator[tuple[str, Path]]:
    """(database URL, DAGSTER_HOME) for one engine, dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="doppel-history-") as tmp:
        home = Path(tmp, "dagster_home")
        home.mkdir()
        if engine == "sqlite":  # Dagster's default: SQLite files under DAGSTER_HOME
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            yield f"sqlite:///{tmp}/doppel.db", home
            return
        admin = create_engine(database_url_for(admin_url), isolation_level="AUTOCOMMIT")
        names = [f"doppel_history_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        base = database_url_for(admin_url).rsplit("/", 1)[0]
        try:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'create database "{name}"'))
            (home / "dagster.yaml").write_text(
                f"storage:\n  postgres:\n    postgres_url: {base}/{names[1]}\n"
                "telemetry:\n  enabled: false\n"
            )
            yield f"{base}/{names[0]}", home
        finally:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'drop database if exists "{name}" with (force)'))
            admin.dispose()


def bench_engine(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline.cli import main as doppel
    from pipeline.definitions import build_definitions
    from pipeline.defs.sensors import build_gap_fill_sensor
    from pipeline.lib.observability.exporter import DoppelCollector, WatchedAssets

    last = date.fromisoformat(args.last_day)
    days = [last - timedelta(days=n) for n in range(args.days - 1, -1, -1)]
    history = History(days, args.per_day, midnight_after(last) + timedelta(hours=12))
    with engine_under_test(engine, args.postgres) as (url, home):
        os.environ.update(DAGSTER_HOME=str(home), DOPPEL_DATABASE_URL=url,
                          DOPPEL_START_DATE=days[0].isoformat(), DOPPEL_GENERATOR=GENERATOR,
                          DOPPEL_GAP_LOOKBACK_DAYS=str(LOOKBACK), DOPPEL_SOURCE="unsplash",
                          UNSPLASH_ACCESS_KEY="bench", OPENAI_API_KEY="bench")  # fmt: skip
        settings = load_settings(_env_file=None)
        db = Database(url)
        started = time.perf_counter()
        fill_records(db, history)
        records_s = time.perf_counter() - started
        instance = dg.DagsterInstance.from_config(str(home))
        started = time.perf_counter()
        fill_instance(instance, history, log_lines=engine == "postgresql")
        instance_s = time.perf_counter() - started
        sizes = stored_mb(db, instance, home)
        print(f"{engine}: synthesised {len(days)} days, {len(days) * args.per_day} pairs "
              f"(records {records_s:.0f} s, instance {instance_s:.0f} s); database of record "
              f"{sizes['records_mb']:.0f} MB, Dagster's storage {sizes['instance_mb']:.0f} MB",
              flush=True)  # fmt: skip

        sensor = build_gap_fill_sensor(settings)
        context = dg.build_sensor_context(
            instance=instance, definitions=build_definitions(settings)
        )
        watched = WatchedAssets(photos=PHOTOS_KEY, look_alikes=LOOK_ALIKES_KEY)
        collector = DoppelCollector(
            db, lambda: instance, start_date=days[0], assets=watched, daily_budget_usd=10.0
        )
        results: dict[str, Any] = {"engine": engine, **sizes}

        def tick() -> None:
            result = sensor.evaluate_tick(context)
            assert result.run_requests, result.skip_message  # the missing and failed days

        def status() -> None:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                assert doppel(["status", "--json"]) == 0
            assert len(json.loads(out.getvalue())["days"]) == len(days)

        def scrape() -> None:
            assert any(f.name == "doppel_generations" for f in collector.collect())

        with clock.pinned(history.now), queries_sent(db.url) as queries:
            check_statuses(instance, history)
            for name, work in (("sensor", tick), ("status", status), ("scrape", scrape)):
                first, best = fastest(args.rounds, work)
                results[f"{name}_s"], results[f"{name}_first_s"] = round(best, 3), round(first, 3)
        if args.explain:
            print_plans(db, queries)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline.cli", "status", "--json"], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        results["status_process_s"] = round(time.perf_counter() - started, 3)
        db.dispose()
        instance.dispose()
        r = results
        print(f"{engine}: gap-fill sensor {r['sensor_s']:.3f} s (first {r['sensor_first_s']:.3f}), "
              f"doppel status {r['status_s']:.3f} s (first {r['status_first_s']:.3f}; fresh "
              f"process {r['status_process_s']:.2f} s), exporter scrape {r['scrape_s']:.3f} s "
              f"(first {r['scrape_first_s']:.3f})", flush=True)  # fmt: skip
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3650)
    parser.add_argument("--per-day", type=int, default=30)
    # Dagster's partitions end at its own (wall clock) today: the history ends yesterday.
    yesterday = clock.utc_today() - timedelta(days=1)
    parser.add_argument("--last-day", default=yesterday.isoformat(), help="the newest day")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--explain", action="store_true", help="print the tick's query plans")
    parser.add_argument("--postgres", default=os.environ.get(
        "DOPPEL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))  # fmt: skip
    args = parser.parse_args()
    load = os.getloadavg()
    found = [bench_engine(engine, args) for engine in args.engines.split(",")]
    timed = ("sensor_s", "status_s", "scrape_s")
    slowest = max(v for r in found for k, v in r.items() if k in timed)
    print(json.dumps({
        "bench": "history", "days": args.days, "pairs": args.days * args.per_day,
        "engines": found, "slowest_s": slowest, "target_s": 1.0, "met": slowest <= 1.0,
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
