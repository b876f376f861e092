"""Each photo claimed once: several `doppel run`s of one day at once, against one database
and one object store, pay for each photo once and never mark one failed; a claim holder
killed by SIGKILL mid-request is taken over once its lease runs out, within the cap.

Each run is a real process forked from a warm fork server (`racing.doppel_running`), with
its own Dagster home, as runs on separate hosts or containers would be: only Doppel's
database stands between them. The imitation OpenAI server holds every image request at its
gate until the test opens it, so the runs overlap for certain, synchronised on events; the
day is named (`--day`), so nothing depends on the calendar.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from pipeline.lib.db import BilledRequest, Database, LookAlike, PhotoClaim
from pipeline_tests.fixtures import racing
from pipeline_tests.test_openai_generated_images import DAY
from pipeline_tests.test_paid_attempts import paid_env, photo_of
from testbed.openai_server import OpenAIImitation

PHOTOS = 4


def run_env(tmp_path: Path, server: OpenAIImitation, database_url: str | None, **extra: str) -> Any:
    """The settings every run shares (the day's photos, the server, the database and the
    object store); each run adds its own Dagster home."""
    env = paid_env(tmp_path, server, DOPPEL_START_DATE="2026-11-15",
                   DOPPEL_MAX_PAID_ATTEMPTS="2", **extra)  # fmt: skip
    if database_url is not None:
        env["DOPPEL_DATABASE_URL"] = database_url
    return {**os.environ, **env}


def start_runs(
    count: int, env: dict[str, str], tmp_path: Path, name: str = "run"
) -> list[tuple[Any, Any, Path]]:
    """`count` `doppel run --day DAY` processes at once: (process, elsewhere event, log)."""
    context = racing.context()
    runs = []
    for i in range(count):
        elsewhere, log = context.Event(), tmp_path / f"{name}{i}.log"
        own = env | {"DAGSTER_HOME": str(tmp_path / f"{name}{i}_dagster_home")}
        process = racing.start(racing.doppel_running, DAY, own, str(log), elsewhere)
        runs.append((process, elsewhere, log))
    return runs


def the_day(url: str) -> tuple[list[LookAlike], list[BilledRequest], int]:
    """The look-alikes, the ledger's request rows, and the claims left."""
    db = Database(url)
    with db.session() as session:
        look_alikes = list(session.scalars(select(LookAlike).order_by(LookAlike.photo_id)))
        requests = list(
            session.scalars(select(BilledRequest).where(BilledRequest.kind == "request"))
        )
        claims = len(session.scalars(select(PhotoClaim)).all())
    db.dispose()
    return look_alikes, requests, claims


def step_troubles(log: Path) -> list[str]:
    """Steps that failed or were retried in the runs of the Dagster home beside `log` (a
    step retry would hide an error the run recovered from)."""
    home = log.parent / f"{log.stem}_dagster_home"
    troubles = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is not None and event.event_type_value in (
                    "STEP_FAILURE", "STEP_UP_FOR_RETRY", "RUN_FAILURE"
                ):  # fmt: skip
                    troubles.append(f"{event.event_type_value}: {entry.user_message[:300]}")
    return troubles


def wait_for_overlap(runs: list[tuple[Any, Any, Path]], url: str) -> None:
    """Until every run holds a photo (its process id is in a claim's holder) or has left
    one to another run, or a run ended (the test's assertions then say why)."""
    db, pause = Database(url), threading.Event()  # never set: each turn waits its 50 ms
    try:
        for _ in range(int(racing.WAIT_S / 0.05)):
            with db.session() as session:
                holders = " ".join(session.scalars(select(PhotoClaim.holder)))
            if all(e.is_set() or f" pid {p.pid} " in holders for p, e, _ in runs):
                return
            if any(not p.is_alive() for p, _, _ in runs):
                return
            pause.wait(0.05)
    finally:
        db.dispose()
    raise AssertionError("not every run came to the day's photos")


def race_one_day(count: int, url: str | None, tmp_path: Path) -> None:
    """`count` runs of one day at once; every photo made once, paid once, never failed."""
    with OpenAIImitation() as server:
        server.gate = gate = threading.Event()
        env = run_env(tmp_path, server, url)
        database = url or f"sqlite:///{env['DOPPEL_DATA_DIR']}/doppel.db"
        runs = start_runs(count, env, tmp_path)
        try:
            # Every photo claimed and its one request held at the server; every run holds
            # some of them or came to one and left it to its holder.
            server.wait_for_images(PHOTOS, timeout_s=racing.WAIT_S)
            wait_for_overlap(runs, database)
        finally:
            gate.set()
            for process, _, _ in runs:
                process.join(120)
        logs = [log.read_text() for _, _, log in runs]
        assert [p.exitcode for p, _, _ in runs] == [0] * count, logs
        assert [step_troubles(log) for _, _, log in runs] == [[]] * count
        assert sum(e.is_set() for _, e, _ in runs) >= count - 1, logs

        # The server: one request per photo, each billed once.
        assert Counter(photo_of(r) for r in server.billed()) == Counter(
            dict.fromkeys(("boat", "tiger", "lake", "forest"), 1)
        )
        assert len(server.images_requests()) == PHOTOS

    for log in logs:
        assert f"{DAY}: 4 of 4 look-alikes" in log, log
        assert "failed" not in log.split("new look-alikes this run")[0], log
    # Each look-alike is counted by the run that made it, and by no other.
    made = [int(log.split("new look-alikes this run: ")[1].split()[0]) for log in logs]
    assert sum(made) == PHOTOS, made
    look_alikes, requests, claims = the_day(database)
    # One succeeded look-alike per photo, recorded once: no run ever recorded a failure.
    assert [(r.status, r.attempts, r.transient_failures) for r in look_alikes] == [
        ("succeeded", 1, 0)
    ] * PHOTOS
    assert sorted(Counter(r.photo_id for r in requests).values()) == [1] * PHOTOS
    assert {r.outcome for r in requests} == {"billed"}
    assert claims == 0  # every claim let go


@pytest.mark.slow
def test_four_runs_of_one_day_on_postgresql_pay_each_photo_once(
    tmp_path: Path, postgres_database: dict[str, str]
) -> None:
    race_one_day(4, postgres_database["url"], tmp_path)


@pytest.mark.slow
def test_two_runs_of_one_day_on_sqlite_pay_each_photo_once(tmp_path: Path) -> None:
    race_one_day(2, None, tmp_path)


@pytest.mark.slow
def test_a_killed_claim_holder_is_taken_over_within_the_cap(
    tmp_path: Path, postgres_database: dict[str, str]
) -> None:
    url = postgres_database["url"]
    with OpenAIImitation() as server:
        server.gate = gate = threading.Event()
        # Two photos keep it lean; a short lease, so the next run takes one over soon.
        env = run_env(tmp_path, server, url, DOPPEL_PHOTOS_PER_DAY="2", DOPPEL_CLAIM_LEASE_S="2")
        [(killed, _, killed_log)] = start_runs(1, env, tmp_path)
        try:
            server.wait_for_images(2, timeout_s=racing.WAIT_S)  # both requests at the server
            assert killed.is_alive(), killed_log.read_text()
            killed.kill()  # SIGKILL while it holds both photos, mid-request
            killed.join(30)
        finally:
            gate.set()  # the server finishes them: billed, though nobody reads the answers
        assert killed.exitcode == -signal.SIGKILL
        assert len(server.billed()) == 2
        # One claim as a holder on another host would leave it (its process cannot be asked
        # about): only its lease running out frees it. The other's holder ran on this host,
        # so the next run can tell that it is gone and need not wait.
        db = Database(url)
        with db.session() as session:
            claims = list(session.scalars(select(PhotoClaim).order_by(PhotoClaim.photo_id)))
            assert len(claims) == 2
            claims[0].holder = "another-host/4026531836 pid 1 0123abcd"
        db.dispose()

        [(again, _, log)] = start_runs(1, env, tmp_path, "again")
        again.join(120)
        output = log.read_text()
        assert again.exitcode == 0, output
        assert step_troubles(log) == []
        assert output.count("taking over the claim of another-host/") == 1, output
        assert output.count(": its lease ran out at") == 1, output
        assert output.count(": its process is gone") == 1, output
        assert f"{DAY}: 2 of 2 look-alikes" in output, output

        # Each photo: the killed run's request (billed by the server, pending in the ledger,
        # which counts it as paid) and the one that made it: twice, as the cap of 2 allows.
        billed = Counter(photo_of(r) for r in server.billed())
        assert sorted(billed.values()) == [2, 2]
    look_alikes, requests, claims = the_day(url)
    assert [r.status for r in look_alikes] == ["succeeded"] * 2
    assert sorted(Counter(r.photo_id for r in requests).values()) == [2, 2]
    assert sorted(r.outcome for r in requests) == ["billed", "billed", "pending", "pending"]
    assert claims == 0
