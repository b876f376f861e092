"""The Prometheus exporter: what the pipeline has done, read at each scrape.

Figures come from the two places of record, never from counters kept in memory, so the
exporter can restart (or run beside several code servers) without losing or doubling
anything:

- the database of record, read through the day module (`pipeline.lib.day.tables.
  holdings_totals`, the count `doppel status` reads per day, summed in the database):
  photos collected, generations by generator and status, their latency (`latency_s`) as a
  histogram, and spend (`cost_usd`), over every day; and what the ledger records as spent
  today;
- the Dagster instance: failed and in-flight runs, the newest materialized day of the
  look-alikes asset (days behind = yesterday, the last complete UTC day, minus it), and the
  Unsplash rate limit left, from the newest photos materialization's metadata. Which assets
  those are is the caller's to say (`WatchedAssets`: the keys belong to `pipeline/defs`).

A part that cannot be read (database down, tables not created yet) is reported by
`doppel_exporter_read_ok{part=...}` = 0 and leaves its metrics out, instead of failing the
scrape.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, inspect, select

from pipeline.lib.billing.budget import spent_today
from pipeline.lib.core.clock import utc_now
from pipeline.lib.day.counts import holdings_totals
from pipeline.lib.db import Database, LookAlike, Vote, schema_problem_at

if TYPE_CHECKING:
    from dagster import AssetKey, DagsterInstance

log = logging.getLogger(__name__)

# The metadata key this reads (written by the photos asset, from the Unsplash source).
RATELIMIT_METADATA_KEY = "unsplash_ratelimit_remaining"

# Seconds: the patch remix takes well under one; OpenAI and img2img tens to hundreds.
LATENCY_BUCKETS = (
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    40.0,
    60.0,
    90.0,
    120.0,
    180.0,
    300.0,
    600.0,
)


class Families:
    """Every metric family the exporter serves, empty until a scrape fills them.
    `describe()` returns them as they are, so the names are known to the registry and the
    dashboard test without reading anything."""

    def __init__(self) -> None:
        self.photos = CounterMetricFamily(
            "doppel_photos_collected",
            "Photos collected and stored (inspiration_images with status stored).",
            labels=["source"],
        )
        self.photos_failed = CounterMetricFamily(
            "doppel_photos_failed",
            "Photos chosen for a day whose bytes could not be fetched or stored.",
            labels=["source"],
        )
        self.generations = CounterMetricFamily(
            "doppel_generations",
            "Look-alikes by generator and outcome (succeeded, refused, failed, waiting).",
            labels=["generator", "status"],
        )
        self.latency = HistogramMetricFamily(
            "doppel_generation_latency_seconds",
            "Time the generator took per look-alike (generated_images.latency_s).",
            labels=["generator"],
        )
        self.spend = CounterMetricFamily(
            "doppel_generation_spend_usd",
            "Estimated USD spent on generations (generated_images.cost_usd).",
            labels=["generator"],
        )
        self.spend_today = GaugeMetricFamily(
            "doppel_generation_spend_today_usd",
            "Estimated USD recorded on generations today (UTC), what the daily budget counts.",
        )
        self.budget = GaugeMetricFamily(
            "doppel_generation_daily_budget_usd",
            "The daily spending cap for remote generators (DOPPEL_OPENAI_DAILY_BUDGET_USD).",
        )
        self.ratelimit = GaugeMetricFamily(
            "doppel_unsplash_ratelimit_remaining",
            "Unsplash API requests left this hour, as of the newest unsplash_images "
            "materialization (absent until one has reported it).",
        )
        self.days_behind = GaugeMetricFamily(
            "doppel_partitions_behind",
            "Complete UTC days not yet materialized after the newest generated_images day "
            "(0: yesterday is done).",
        )
        self.newest_day = GaugeMetricFamily(
            "doppel_newest_materialized_day_timestamp_seconds",
            "Start (UTC) of the newest day whose generated_images are materialized.",
        )
        self.failed_runs = CounterMetricFamily(
            "doppel_dagster_failed_runs",
            "Dagster runs that ended in failure (all jobs of the instance).",
        )
        self.in_flight = GaugeMetricFamily(
            "doppel_dagster_runs_in_flight",
            "Dagster runs queued, starting or started.",
            labels=["status"],
        )
        self.votes = CounterMetricFamily(
            "doppel_votes_stored",
            "Game answers in the database (the vote service's accepted votes).",
            labels=["generator", "mode"],
        )
        self.read_ok = GaugeMetricFamily(
            "doppel_exporter_read_ok",
            "1 if the exporter could read this part at the last scrape, else 0.",
            labels=["part"],
        )
        self.duration = GaugeMetricFamily(
            "doppel_exporter_scrape_duration_seconds",
            "Time the last scrape took to read the database and the instance.",
        )

    def all(self) -> list[Metric]:
        return [value for value in vars(self).values() if isinstance(value, Metric)]


def exported_metric_names() -> set[str]:
    """The sample names a scrape can contain (`_total` for counters, `_bucket`/`_sum`/
    `_count` for histograms), from the families the collector describes."""
    names: set[str] = set()
    for family in Families().all():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


@dataclass(frozen=True)
class WatchedAssets:
    """The assets whose materializations the exporter reads from the Dagster instance."""

    photos: AssetKey
    look_alikes: AssetKey


class DoppelCollector(Collector):
    """Reads the database and the Dagster instance at every scrape (serialized)."""

    def __init__(
        self,
        database: Database,
        instance: Callable[[], DagsterInstance] | None,
        *,
        start_date: date,
        assets: WatchedAssets | None = None,
        daily_budget_usd: float | None = None,
    ):
        if instance is not None and assets is None:
            raise ValueError("reading the Dagster instance needs the assets to watch")
        self.database = database
        self.assets = assets
        self._open_instance = instance
        self._instance: DagsterInstance | None = None
        self.start_date = start_date
        self.daily_budget_usd = daily_budget_usd
        self._lock = threading.Lock()

    def describe(self) -> Iterator[Metric]:
        return iter(Families().all())

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            started = time.perf_counter()
            families = Families()
            families.read_ok.add_metric(["database"], float(self._read_database(families)))
            if self._open_instance is not None:
                families.read_ok.add_metric(["dagster"], float(self._read_dagster(families)))
            if self.daily_budget_usd is not None:
                families.budget.add_metric([], self.daily_budget_usd)
            families.duration.add_metric([], time.perf_counter() - started)
        # Families without samples are left out: absent means "not known", not zero.
        return iter([f for f in families.all() if f.samples])

    # The database of record

    def _read_database(self, families: Families) -> bool:
        try:
            if not inspect(self.database.engine).has_table(LookAlike.__tablename__):
                return True  # a fresh deployment before its first run: nothing to count
            self._day_facts(families)
            families.spend_today.add_metric([], spent_today(self.database, utc_now()))
            self._votes(families)
        except Exception as exc:
            log.warning("exporter: cannot read the database: %s", _brief(exc))
            return False
        return True

    def _day_facts(self, families: Families) -> None:
        """Totals over every day (rows a day kept from an older source included), summed in
        the database: a scrape reads a few rows, however many days there are."""
        held = holdings_totals(self.database, LATENCY_BUCKETS)
        for source, status, count in sorted(held.photos):
            if status == "stored":
                families.photos.add_metric([source], count)
            elif status == "failed":
                families.photos_failed.add_metric([source], count)
        spend: dict[str, float] = {}
        for g in sorted(held.look_alikes, key=lambda g: (g.generator, g.status)):
            families.generations.add_metric([g.generator, g.status], g.count)
            spend[g.generator] = spend.get(g.generator, 0.0) + g.cost_usd
        for generator, usd in sorted(spend.items()):
            families.spend.add_metric([generator], usd)
        timed: dict[str, list[float]] = {}  # generator: [count, sum, *within each bound]
        for g in held.look_alikes:
            if g.timed:
                totals = timed.setdefault(g.generator, [0.0] * (2 + len(LATENCY_BUCKETS)))
                for i, n in enumerate((g.timed, g.latency_s, *g.within)):
                    totals[i] += n
        for generator, (n_timed, total, *within) in sorted(timed.items()):
            buckets = [(_le(le), int(n)) for le, n in zip(LATENCY_BUCKETS, within, strict=True)]
            families.latency.add_metric([generator], [*buckets, ("+Inf", int(n_timed))], total)

    def _votes(self, families: Families) -> None:
        # Refused votes are never stored: the vote service counts them (its own /metrics).
        if not inspect(self.database.engine).has_table(Vote.__tablename__):
            return
        query = select(Vote.generator, Vote.mode, func.count()).group_by(Vote.generator, Vote.mode)
        with self.database.engine.connect() as connection:
            for generator, mode, count in connection.execute(query):
                families.votes.add_metric([generator, mode], count)

    # The Dagster instance

    def _read_dagster(self, families: Families) -> bool:
        try:
            instance = self._dagster_instance()
            self._runs(instance, families)
            self._days_behind(instance, families)
            self._ratelimit(instance, families)
        except Exception as exc:
            log.warning("exporter: cannot read the Dagster instance: %s", _brief(exc))
            return False
        return True

    def _dagster_instance(self) -> DagsterInstance:
        if self._instance is None:
            assert self._open_instance is not None
            self._instance = self._open_instance()
        return self._instance

    def _runs(self, instance: DagsterInstance, families: Families) -> None:
        from dagster import DagsterRunStatus, RunsFilter

        failed = instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
        families.failed_runs.add_metric([], failed)
        for status in (
            DagsterRunStatus.QUEUED,
            DagsterRunStatus.STARTING,
            DagsterRunStatus.STARTED,
        ):
            count = instance.get_runs_count(RunsFilter(statuses=[status]))
            families.in_flight.add_metric([status.value.lower()], count)

    def _days_behind(self, instance: DagsterInstance, families: Families) -> None:
        assert self.assets is not None
        done = instance.get_materialized_partitions(self.assets.look_alikes)
        yesterday = utc_now().astimezone(UTC).date() - timedelta(days=1)
        newest = max((d for d in map(_as_day, done) if d is not None), default=None)
        families.days_behind.add_metric([], float(days_behind(newest, yesterday, self.start_date)))
        if newest is not None:
            start = datetime.combine(newest, datetime.min.time(), UTC)
            families.newest_day.add_metric([], start.timestamp())

    def _ratelimit(self, instance: DagsterInstance, families: Families) -> None:
        assert self.assets is not None
        event = instance.get_latest_materialization_event(self.assets.photos)
        materialization = event.asset_materialization if event is not None else None
        if materialization is None:
            return
        value = materialization.metadata.get(RATELIMIT_METADATA_KEY)
        if value is not None and isinstance(value.value, int | float):
            families.ratelimit.add_metric([], float(value.value))


def days_behind(newest: date | None, yesterday: date, start_date: date) -> int:
    """Complete days after `newest` up to `yesterday`; with nothing done, every day since
    `start_date`."""
    if newest is None:
        return max(0, (yesterday - start_date).days + 1)
    return max(0, (yesterday - newest).days)


def _as_day(key: str) -> date | None:
    try:
        return date.fromisoformat(key)
    except ValueError:
        return None


def _le(bound: float) -> str:
    return repr(float(bound))


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def build_registry(collector: DoppelCollector) -> CollectorRegistry:
    """The exporter's registry, made once at start; says in the log if the database is not
    at this code's migration (the exporter never migrates; its reads would fail)."""
    if problem := schema_problem_at(collector.database.url):
        log.warning("exporter: %s", problem)
    registry = CollectorRegistry(auto_describe=True)
    registry.register(collector)
    return registry


def serve(
    registry: CollectorRegistry,
    *,
    host: str,
    port: int,
    stop: threading.Event | None = None,
    on_ready: Callable[[int], Any] | None = None,
) -> None:
    """Serve /metrics until SIGTERM/SIGINT (or `stop` is set)."""
    stop = stop or threading.Event()
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = int(server.server_address[1])
    log.info("exporter: serving metrics on http://%s:%d/metrics", host, bound)
    if on_ready is not None:
        on_ready(bound)
    previous = _stop_on_signals(stop, (signal.SIGTERM, signal.SIGINT))
    try:
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.shutdown()
        thread.join(timeout=5)


def _stop_on_signals(stop: threading.Event, signals: Sequence[signal.Signals]) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, lambda *_: stop.set()) for sig in signals}
