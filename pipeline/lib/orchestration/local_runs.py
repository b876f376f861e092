"""Keeping the local Dagster instance healthy for `doppel run` and `make dev`.

In a deployment the daemon's run monitoring marks runs whose worker died as failed. Runs
that `doppel run` executes in its own process have no such guard: a `kill -9` leaves them
STARTED with their pool slots claimed, and the next run would wait for those slots for
ever. So each in-process run carries its process id and host in tags, and at start (and
while waiting for a slot) runs of this host whose process is gone are marked failed and
their slots freed. A wait for a slot is bounded and says what it waits for.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

import dagster as dg

from pipeline.lib.core.processes import process_alive

log = logging.getLogger(__name__)

PID_TAG, HOST_TAG = "doppel/pid", "doppel/host"
UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def owner_tags() -> dict[str, str]:
    """Tags that say which process runs a run in-process."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def recover_stale_runs(instance: dg.DagsterInstance, *, include_own: bool = False) -> list[str]:
    """Mark failed this host's in-process runs whose process is gone (or, with
    `include_own`, this process's own, when it is being interrupted), free their pool
    slots, and free slots still held by runs that already ended. Returns the run ids."""
    recovered = []
    records = instance.get_run_records(
        dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    )
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        own = pid == os.getpid()
        if pid and ((own and include_own) or (not own and not process_alive(pid))):
            reason = "interrupted" if own else f"its process {pid} is gone"
            fail_run(instance, run, f"marked failed by doppel: {reason}")
            recovered.append(run.run_id)
    _free_slots_of_ended_runs(instance)
    return recovered


def fail_run(instance: dg.DagsterInstance, run: dg.DagsterRun, message: str) -> None:
    """Mark a run whose process is gone (or stopping) failed and free its pool slots."""
    instance.report_run_failed(run, message=message)
    instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def _free_slots_of_ended_runs(instance: dg.DagsterInstance) -> None:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for pool in storage.get_concurrency_keys():
        for run_id in storage.get_concurrency_info(pool).active_run_ids:
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)


def wait_for_pool_slot(
    instance: dg.DagsterInstance,
    pool: str,
    *,
    timeout_s: float,
    say: Callable[[str], None],
    poll_s: float = 1.0,
) -> str | None:
    """Wait until `pool` has a free slot; None then, else (after `timeout_s`) a sentence
    naming the runs that hold the slots."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    deadline = time.monotonic() + timeout_s
    announced = False
    while True:
        info = storage.get_concurrency_info(pool)
        limit = info.limit if info.limit is not None else info.slot_count
        holders = sorted(info.active_run_ids)
        if not limit or len(info.claimed_slots) < limit:
            return None
        held_by = ", ".join(_describe_run(instance, run_id) for run_id in holders)
        if time.monotonic() >= deadline:
            return (
                f"the {pool!r} pool's {limit} slot(s) stayed taken for {timeout_s:g} s by "
                f"{held_by}; let it finish (see it in `make dev`), or raise the limit with "
                f"`dagster instance concurrency set {pool} 2`"
            )
        if not announced:
            say(f"waiting up to {timeout_s:g} s for a free {pool!r} pool slot, held by {held_by}")
            announced = True
        time.sleep(poll_s)
        recover_stale_runs(instance)  # the holder may have died meanwhile


def _describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id[:8]}"
    day = run.tags.get("dagster/partition")
    pid = run.tags.get(PID_TAG)
    where = f", process {pid}" if pid else ""
    return f"run {run_id[:8]} ({run.job_name}{' ' + day if day else ''}{where})"
