"""`doppel run` killed or stopped in the middle of a day of paid requests, as a user would:
the real console script in its own process, against the OpenAI imitation server. The day is
named (`--day`), so no test depends on the calendar. (faketime is no help here: under it,
blocked waits do not wake for signals.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from pipeline.defs.limits import IMAGE_GENERATOR_POOL
from pipeline.lib.db import Database, LookAlike
from pipeline_tests.test_paid_attempts import DAY, EDITS, paid_env, photo_of
from testbed.openai_server import OpenAIImitation

DOPPEL = str(Path(sys.executable).parent / "doppel")
REPO = Path(__file__).resolve().parents[1]


def start_doppel_run(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DOPPEL_", "DAGSTER_"))}
    base["PYTHONPATH"] = str(REPO)  # this checkout's code, whatever the venv installed
    return subprocess.Popen(
        [DOPPEL, "run", "--day", DAY],
        cwd=cwd, env=base | env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip


def wait_for_requests(server: OpenAIImitation, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while len(server.requests_to(EDITS)) < count:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "doppel run sent too few requests"
        time.sleep(0.05)


def instance_state(home: Path) -> tuple[list[str], int]:
    """Runs not finished, and pool slots claimed, in the local instance."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
        )
        claimed = instance.event_log_storage.get_concurrency_info(IMAGE_GENERATOR_POOL)
        return [r.run_id for r in runs], len(claimed.claimed_slots)


@pytest.fixture
def slow_half_day(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Two photos answer at once; the other two take 20 s, so a kill lands mid-request."""
    with OpenAIImitation(slow_s=20.0) as server:
        slow = ("lake", "forest")
        server.add_fault("slow", times=2, path=EDITS, when=lambda r: photo_of(r) in slow)
        env = paid_env(tmp_path, server, DOPPEL_OPENAI_TIMEOUT_S="60",
                       DAGSTER_HOME=str(tmp_path / ".dagster_home"),
                       DOPPEL_START_DATE="2026-11-15")  # fmt: skip
        env["DOPPEL_MAX_PAID_ATTEMPTS"] = "2"
        yield server, env


@pytest.mark.slow
def test_kill_9_mid_day_then_run_again_completes_and_pays_nothing_twice(
    tmp_path: Path, slow_half_day: tuple[OpenAIImitation, dict[str, str]]
) -> None:
    server, env = slow_half_day
    killed = start_doppel_run(env, tmp_path)
    wait_for_requests(server, 4, killed)
    while len(server.billed(wait_s=0)) < 2:  # the two quick ones are answered...
        time.sleep(0.05)
    time.sleep(1.0)  # ...and stored
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    home = Path(env["DAGSTER_HOME"])
    started, claimed = instance_state(home)
    assert started and claimed == 1  # what the next run has to clean up
    db = Database(f"sqlite:///{env['DOPPEL_DATA_DIR']}/doppel.db")
    with db.session() as session:  # a look-alike stored just before its row may be missing
        recorded = len(session.scalars(select(LookAlike)).all())
    db.dispose()

    started_at = time.monotonic()
    again = start_doppel_run(env, tmp_path)
    output, _ = again.communicate(timeout=180)
    assert again.returncode == 0, output
    assert time.monotonic() - started_at < 90  # no wait beyond the bounded slot wait
    assert "marked 1 run(s) of a killed doppel run as failed" in output
    assert "2026-11-20: 4 of 4 look-alikes" in output, output
    assert f"new look-alikes this run: {4 - recorded}" in output, output
    assert instance_state(home) == ([], 0)
    # Stored look-alikes were not asked for again; the two killed requests were billed by
    # the server (it finished them) and sent once more: within the cap of 2 per photo.
    sent = Counter(photo_of(r) for r in server.requests_to(EDITS))
    assert sent == {"boat": 1, "tiger": 1, "lake": 2, "forest": 2}


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_stops_doppel_run_within_10_s_and_leaves_nothing_claimed(
    tmp_path: Path, slow_half_day: tuple[OpenAIImitation, dict[str, str]], how: signal.Signals
) -> None:
    server, env = slow_half_day
    process = start_doppel_run(env, tmp_path)
    wait_for_requests(server, 4, process)
    time.sleep(0.5)
    stopped_at = time.monotonic()
    process.send_signal(how)
    output, _ = process.communicate(timeout=30)
    assert time.monotonic() - stopped_at < 10, output
    assert process.returncode == 130, output
    assert "interrupted" in output
    assert instance_state(Path(env["DAGSTER_HOME"])) == ([], 0)
