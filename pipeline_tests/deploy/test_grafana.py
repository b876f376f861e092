"""The Grafana dashboard: valid JSON Grafana can provision, every query valid PromQL (checked
by promtool) over metric names the exporter's registry declares, and every exporter metric
shown somewhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.lib.observability.exporter import exported_metric_names
from pipeline.lib.votes.app import vote_metric_names
from pipeline_tests.deploy.tools import (
    PROMETHEUS_SERIES,
    REPO,
    load_yaml,
    promql_metric_names,
    promtool,
    run,
)

# One worker takes the whole module, so its module fixtures are made once.
pytestmark = pytest.mark.xdist_group("test_grafana")

DASHBOARD = REPO / "deploy/grafana/dashboards/doppel.json"


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_grafana_dashboard_is_provisionable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "doppel" and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    datasource = load_yaml("deploy/grafana/provisioning/datasources/prometheus.yml")
    [source] = datasource["datasources"]
    for panel in dashboard["panels"]:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}
        assert panel["targets"], panel["title"]
    provider = load_yaml("deploy/grafana/provisioning/dashboards/doppel.yml")["providers"][0]
    grafana = load_yaml("docker-compose.yml")["services"]["grafana"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]


def test_grafana_queries_use_exported_metric_names(dashboard: dict[str, Any]) -> None:
    # The names come from the collector's describe(), which is what its registry indexes,
    # and from the vote service's own registry (Prometheus scrapes both).
    exported = exported_metric_names() | vote_metric_names()
    used: set[str] = set()
    for expr in queries(dashboard):
        names = promql_metric_names(expr)
        assert names, f"no metric in {expr!r}"
        unknown = names - exported - PROMETHEUS_SERIES
        assert not unknown, f"{expr!r} uses {sorted(unknown)}, which the exporter does not export"
        used |= names
    # ...and the dashboard shows every metric family the exporter serves.
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in exported}
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    assert families <= shown, f"not on the dashboard: {sorted(families - shown)}"


def test_grafana_queries_are_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    rules = [
        {"record": f"doppel:dashboard_query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, expr in enumerate(queries(dashboard))
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(promtool(), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
