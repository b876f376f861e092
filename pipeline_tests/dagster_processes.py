"""Real Dagster processes (daemon, webserver) on a temporary instance for the tests that need
them. Each runs in its own process group, so stopping it also stops its code server and run
workers, and each is always stopped when its test ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from pipeline.lib.orchestration.dev import signal_group
from pipeline.lib.orchestration.instance import LOCAL_INSTANCE_YAML

BIN = Path(sys.executable).parent


def make_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME holding the local instance config exactly as shipped."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(LOCAL_INSTANCE_YAML, home / "dagster.yaml")
    return home


def dagster_env(home: Path, **doppel: str) -> dict[str, str]:
    """The test's environment without any DOPPEL_/DAGSTER_ setting, plus the given ones
    (`data_dir="..."` becomes DOPPEL_DATA_DIR)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOPPEL_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "NO_PROXY": "127.0.0.1,localhost"}
    return env | {f"DOPPEL_{name.upper()}": value for name, value in doppel.items()}


@contextmanager
def dagster_process(
    *command: str, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `command` (a script in the venv's bin) with its output in `log`."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, and no inherited SIGINT mask
        )
        try:
            yield process
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM the process group, wait, then SIGKILL whatever is left of it."""
    group = process.pid
    signal_group(group, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        signal_group(group, signal.SIGKILL)
        process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while signal_group(group, 0) and time.monotonic() < deadline:
        time.sleep(0.2)  # children (code server, run workers) finishing their shutdown
    signal_group(group, signal.SIGKILL)


def wait_for_http(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 90
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the server exited early:\n{tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer within {timeout_s} s:\n{tail(log)}")


def tail(log: Path, lines: int = 60) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
