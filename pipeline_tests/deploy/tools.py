"""The repository's deployment files and the offline checkers the tests run on them."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from pipeline_tests.system_tools import require_nginx, require_tool

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gallery_nginx(
    work: Path, site_origin: str, votes_address: str = "127.0.0.1:9", host: str = "127.0.0.1"
) -> Iterator[str]:
    """nginx with deploy/nginx/gallery.conf.template, rendered as the image does, in front
    of `site_origin` (the bucket's site prefix) and the vote service at `votes_address`
    (host:port; nginx connects only when a vote comes). Yields its base URL."""
    nginx = require_nginx()
    port = free_port()
    conf = (REPO / "deploy/nginx/gallery.conf.template").read_text()
    conf = (
        conf.replace("${DOPPEL_SITE_ORIGIN}", site_origin)
        .replace("${DOPPEL_VOTES_ADDRESS}", votes_address)
        .replace("listen 8080;", f"listen {host}:{port};")
    )
    (work / "gallery.conf").write_text(conf)
    temp = {k: work / k for k in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    (work / "nginx.conf").write_text(
        f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\nevents {{}}\n"
        "http {\n access_log off;\n include /etc/nginx/mime.types;\n"
        + "".join(f" {k}_temp_path {v};\n" for k, v in temp.items()).replace(
            "body_temp", "client_body_temp"
        )
        + f" include {work}/gallery.conf;\n}}\n"
    )
    args = [nginx, "-p", str(work), "-c", str(work / "nginx.conf")]
    checked = run(*args, "-t")
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        url = f"http://{host}:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until it answers (it starts in milliseconds)
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
