"""The repository's deployment files and the offline checkers the tests run on them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pipeline_tests.system_tools import require_tool

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# What the dashboard and the alert rules may use besides the exporter's metrics: the series
# Prometheus itself adds for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def tool(name: str, install_hint: str) -> str:
    """A checker from the venv (dev extras) or the system; a skip naming the install if not."""
    return require_tool(name, install_hint, also=(str(VENV_BIN / name),))


def promtool() -> str:
    return tool("promtool", "apt-get install -y --no-install-recommends prometheus")


def run(
    *command: str, stdin: str | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((REPO / relative).read_text())


_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on",
             "ignoring", "group_left", "group_right"}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values and other strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery windows
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word, after = match.group(0), text[match.end() :].lstrip()
        if word in _KEYWORDS or after.startswith("("):
            continue
        names.add(word)
    return names
