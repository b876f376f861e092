"""`make dev` (`doppel dev`) as a user runs it in a fresh clone: the UI comes up with no
warning about the instance configuration, and Ctrl-C leaves no process and nothing queued."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs.partitions import daily_partitions
from pipeline.lib.orchestration.backfills import list_backfills, request_backfill
from pipeline.lib.orchestration.dev import tidy_instance
from pipeline.lib.orchestration.instance import FIRST_DAY_FILE, ensure_local_instance
from pipeline_tests.conftest import free_port
from pipeline_tests.dagster_processes import dagster_env, wait_for_http
from pipeline_tests.fixtures.backfills import submit_backfill
from testbed.processes import processes_with

REPO = Path(__file__).resolve().parents[1]
STOP_BOUND_S = 10.0


@pytest.mark.slow  # a real `dagster dev`
def test_make_dev_starts_without_warnings_and_stops_everything_within_10_s(
    tmp_path: Path,
) -> None:
    for name in ("dagster.yaml", "workspace.yaml", "pyproject.toml"):  # as a clone has them
        shutil.copy(REPO / name, tmp_path / name)
    marker = uuid.uuid4().hex
    env = dagster_env(tmp_path / ".dagster_home") | {"DOPPEL_TEST_MARK": marker}
    port = free_port()
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        dev = subprocess.Popen(
            [str(Path(sys.executable).parent / "doppel"), "dev", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", dev, log, timeout_s=120)
        assert len(processes_with(marker)) >= 4  # doppel, dagster dev, webserver, daemon...
        started = time.monotonic()
        os.killpg(dev.pid, signal.SIGINT)  # a terminal's Ctrl-C: make and doppel dev
        while processes_with(marker) and time.monotonic() - started < 30:
            time.sleep(0.1)
        took = time.monotonic() - started
        assert not processes_with(marker), f"still running after {took:.1f} s"
        assert took < STOP_BOUND_S, f"stopping took {took:.1f} s"
        assert dev.wait(timeout=5) == 0
    finally:
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
    output = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text(errors="replace"))
    assert "Serving dagster-webserver" in output
    assert "instance configuration" not in output, output[-3000:]
    assert "Warning" not in output, output[-3000:]  # no SupersessionWarning: it runs `dg dev`
    # The local instance got its first day (yesterday), not the root's deployed config.
    assert (tmp_path / ".dagster_home" / FIRST_DAY_FILE).is_file()
    assert not (tmp_path / "storage").exists()


@pytest.mark.slow
def test_tidying_cancels_what_a_stopped_server_left_queued_running_or_requested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    ensure_local_instance()
    # (A QUEUED run cannot be made without a code location's origin; those are canceled.)
    statuses = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTED]
    with dg.DagsterInstance.get() as instance:
        runs = [
            instance.add_run(dg.DagsterRun(job_name="daily_images_job", status=s))
            for s in [*statuses, dg.DagsterRunStatus.SUCCESS]
        ]
        request = request_backfill(
            {dg.AssetKey("generated_images"): ["2026-11-20"]},
            daily_partitions(date(2026, 11, 1)),
            {},
        )
        backfill_id = submit_backfill(instance, request)

    said = tidy_instance()

    with dg.DagsterInstance.get() as instance:
        after = [instance.get_run_by_id(r.run_id).status for r in runs]  # type: ignore[union-attr]
        assert after == [
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.SUCCESS,  # finished runs are left as they are
        ]
        assert [(b.id, b.status) for b in list_backfills(instance)] == [(backfill_id, "CANCELED")]
    assert len(said) == 3 and f"backfill {backfill_id} was requested: canceled" in said
    assert tidy_instance() == []  # nothing left to do
