"""`make dev` (`doppel dev`): Dagster's dev server (`dg dev`, which supersedes `dagster dev`)
on the local instance, started so that Dagster has nothing to warn about and stopped so that
nothing is left behind.

Started from the instance folder: Dagster warns whenever the folder it starts in holds a
dagster.yaml that is not DAGSTER_HOME's, and the repository's root holds the deployed one.
Its code is found by module and working directory instead of pyproject.toml (so an installed
Doppel needs no checkout), and settings that are paths are handed over absolute, so they mean
what they mean where `doppel dev` was started. The environment is handed over whole, .env
included (`doppel` loaded it).

Stopped in bounded time: Ctrl-C or SIGTERM is passed on once as SIGINT to the whole process
group (webserver, daemon, code server, run workers), whatever is still alive after
`STOP_GRACE_S` is killed, and then the instance is tidied: runs that were queued or running
are canceled or marked failed and backfills in flight canceled, so the next `make dev` does
not resume work nobody asked it to (the gap-fill sensor asks again for days still missing).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

import dagster as dg

from pipeline.lib.db import migrate
from pipeline.lib.settings import DoppelSettings, variables

log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0  # Dagster's own shutdown, then SIGKILL: all gone well within 10 s
ACTIVE_RUNS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def dev_environment(settings: DoppelSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` plus each path setting made absolute (the server does not start here)."""
    env = dict(environ)
    for variable in variables():
        value = settings.value_of(variable)
        if isinstance(value, Path):
            env[variable.name] = str(value.resolve())
    return env


def run_dev(
    settings: DoppelSettings,
    home: Path,
    dagster_args: Sequence[str],
    *,
    grace_s: float = STOP_GRACE_S,
    say: Callable[[str], None] = print,
) -> int:
    """Migrate the database, then run `dg dev` until it exits or is stopped; return its
    exit status. (Its processes only check the schema; migrating is this command's.)"""
    dg_cli = Path(sys.executable).parent / "dg"
    if not dg_cli.is_file():
        raise FileNotFoundError(
            f"doppel dev runs Dagster's dg CLI, which is not installed ({dg_cli}): "
            "pip install 'dagster-dg-cli==1.13.27' (`make install` does)"
        )
    say(f"doppel dev: {migrate(settings.resolved_database_url)}")
    command = [
        str(dg_cli),
        "dev",
        "-m",
        "pipeline.definitions",
        "-d",
        str(Path.cwd()),
        *dagster_args,
    ]
    server = subprocess.Popen(
        command, cwd=home, env=dev_environment(settings, os.environ), start_new_session=True
    )
    stop_at: list[float] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        if not stop_at:  # once: a second Ctrl-C must not restart Dagster's shutdown
            say(f"doppel dev: stopping (Dagster has {grace_s:g} s, then what is left is killed)")
            stop_at.append(time.monotonic() + grace_s)
            signal_group(server.pid, signal.SIGINT)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while server.poll() is None and not (stop_at and time.monotonic() > stop_at[0]):
            time.sleep(0.1)
        # The group outlives `dg dev` if a child is slow to go: wait, then kill it.
        deadline = stop_at[0] if stop_at else time.monotonic() + grace_s
        while signal_group(server.pid, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        signal_group(server.pid, signal.SIGKILL)
        server.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for line in tidy_instance():
        say(f"doppel dev: {line}")
    return 0 if stop_at else (server.returncode or 0)


def tidy_instance() -> list[str]:
    """Cancel what the stopped server left queued, running or requested; say what."""
    from pipeline.lib.orchestration.backfills import list_backfills, set_backfill_status
    from pipeline.lib.orchestration.local_runs import fail_run

    done = []
    with dg.DagsterInstance.get() as instance:
        for record in instance.get_run_records(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED])
        ):
            instance.report_run_canceled(record.dagster_run, message="doppel dev stopped")
            done.append(f"run {record.dagster_run.run_id[:8]} was queued: canceled")
        for record in instance.get_run_records(dg.RunsFilter(statuses=ACTIVE_RUNS)):
            run = record.dagster_run
            fail_run(instance, run, "doppel dev stopped while it ran")
            done.append(f"run {run.run_id[:8]} was {run.status.value.lower()}: marked failed")
        for backfill in list_backfills(instance, in_flight_only=True):
            set_backfill_status(instance, backfill.id, "CANCELED")
            done.append(f"backfill {backfill.id} was {backfill.status.lower()}: canceled")
    return done


def signal_group(group: int, sig: int) -> bool:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    return True
