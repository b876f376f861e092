"""Prometheus: the compose config and alert rules pass `promtool check`, and a real scrape of
the exporter (served over HTTP from a database with rows and a Dagster instance with runs)
passes `promtool check metrics`, Prometheus's own exposition-format linter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest

from pipeline.defs.keys import LOOK_ALIKES_KEY, PHOTOS_KEY
from pipeline.lib.db import Database
from pipeline.lib.observability.exporter import (
    DoppelCollector,
    WatchedAssets,
    build_registry,
    exported_metric_names,
    serve,
)
from pipeline_tests.deploy.tools import (
    PROMETHEUS_SERIES,
    REPO,
    load_yaml,
    promql_metric_names,
    promtool,
    run,
)
from pipeline_tests.lib.test_exporter_metrics import START, add_day

WATCHED = WatchedAssets(photos=PHOTOS_KEY, look_alikes=LOOK_ALIKES_KEY)


def test_prometheus_config_scrapes_the_exporter() -> None:
    result = run(promtool(), "check", "config", "deploy/prometheus/prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = load_yaml("deploy/prometheus/prometheus.yml")
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "doppel"]
    exporter = load_yaml("docker-compose.yml")["services"]["exporter"]["command"]
    port = exporter[exporter.index("--port") + 1]
    assert job["static_configs"][0]["targets"] == [f"exporter:{port}"]


def test_prometheus_alert_rules_use_exporter_metrics() -> None:
    result = run(promtool(), "check", "rules", "deploy/prometheus/alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    known = exported_metric_names() | PROMETHEUS_SERIES
    for group in load_yaml("deploy/prometheus/alerts.yml")["groups"]:
        for rule in group["rules"]:
            unknown = promql_metric_names(rule["expr"]) - known
            assert not unknown, f"{rule['alert']} uses {unknown}"


@pytest.fixture
def exporter_url(tmp_path: Path) -> Iterator[str]:
    """`serve()` (what `doppel exporter` runs) on a free port, in a thread."""
    db = Database(f"sqlite:///{tmp_path / 'doppel.db'}")
    db.upgrade()
    add_day(
        db,
        date(2026, 11, 20),
        [
            {"status": "succeeded", "generator": "openai", "latency_s": 20.0, "cost_usd": 0.05},
            {"status": "waiting", "generator": "openai"},
            {"status": "succeeded", "generator": "patch-remix", "latency_s": 0.3},
        ],
    )
    stop, ready = threading.Event(), threading.Event()
    port: list[int] = []
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization("generated_images", partition="2026-11-20")
        )
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "unsplash_images", metadata={"unsplash_ratelimit_remaining": 12}
            )
        )
        collector = DoppelCollector(
            db, lambda: instance, start_date=START, assets=WATCHED, daily_budget_usd=5.0
        )
        thread = threading.Thread(
            target=serve,
            args=(build_registry(collector),),
            kwargs={
                "host": "127.0.0.1",
                "port": 0,
                "stop": stop,
                "on_ready": lambda p: (port.append(p), ready.set()),
            },
        )
        thread.start()
        try:
            assert ready.wait(10)
            yield f"http://127.0.0.1:{port[0]}/metrics"
        finally:
            stop.set()
            thread.join(10)
            db.dispose()


@pytest.mark.slow
def test_promtool_checks_metrics_of_a_real_exporter_scrape(exporter_url: str) -> None:
    response = httpx.get(exporter_url, timeout=10)
    assert response.status_code == 200
    text = response.text
    for name in [
        "doppel_photos_collected_total",
        "doppel_generations_total",
        "doppel_generation_latency_seconds_bucket",
        "doppel_generation_spend_usd_total",
        "doppel_unsplash_ratelimit_remaining",
        "doppel_partitions_behind",
        "doppel_dagster_failed_runs_total",
    ]:
        assert f"\n{name}" in text, name
    result = run(promtool(), "check", "metrics", stdin=text)
    # promtool prints lint problems (naming, units, HELP) and exits 1 on any.
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_prometheus_files_for_the_exporter_are_mounted_where_the_config_says() -> None:
    prometheus = load_yaml("docker-compose.yml")["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    for rules in load_yaml("deploy/prometheus/prometheus.yml")["rule_files"]:
        assert (REPO / "deploy/prometheus" / rules).exists()
