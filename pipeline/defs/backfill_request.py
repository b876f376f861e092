"""The one module that uses Dagster's private backfill API (dagster 1.13).

A sensor can only start a real asset backfill (one entry in the UI's backfill list, runs and
retries managed by the backfill daemon) through `RunRequest.for_asset_graph_subset`, whose
argument type, `AssetGraphSubset`, is private; reading backfills back (`get_backfills`,
`BulkActionsFilter`, `BulkActionStatus`) is private too. So is what the sensor daemon does
with such a request (`submit_backfill`, for tests that stand in for the daemon) and setting a
backfill's status (`set_backfill_status`). Everything private stays here, and
pipeline_tests/defs/test_backfill_request.py is the contract test that fails on an upgrade
that changes any of it.

When Dagster ships the public `RunRequest.for_asset_partition_range(asset_selection=...,
partition_key_range=PartitionKeyRange(start, end), run_key=..., tags=...)` (dagster PR
#34096, not in 1.13.28), `request_backfill` becomes one such request per contiguous run of
days; nothing outside this module changes.

Note: Dagster drops `run_key` and `run_config` from a backfill request (only tags are kept),
so duplicates are prevented by checking for backfills in flight, never by run keys.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus

# Statuses in which a backfill may still launch runs.
IN_FLIGHT = (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING, BulkActionStatus.FAILING)


@dataclass(frozen=True)
class BackfillSummary:
    id: str
    status: str
    tags: dict[str, str]
    # Asset key (as a string) -> targeted partition keys; empty for job backfills.
    days_by_asset: dict[str, list[str]]
    asset_keys: frozenset[str] | None  # None: a job backfill, assets not recorded

    def touches(self, asset_keys: Collection[dg.AssetKey]) -> bool:
        if self.asset_keys is None:
            return True  # unknown selection: assume it does, so no duplicate is started
        return bool(self.asset_keys & {k.to_user_string() for k in asset_keys})


def request_backfill(
    days_by_asset: Mapping[dg.AssetKey, Sequence[str]],
    partitions_def: dg.PartitionsDefinition,
    tags: dict[str, str],
) -> dg.RunRequest:
    """One backfill over each asset's days (for a sensor to return)."""
    subset = AssetGraphSubset(
        partitions_subsets_by_asset_key={
            key: partitions_def.subset_with_partition_keys(days)
            for key, days in days_by_asset.items()
        }
    )
    return dg.RunRequest.for_asset_graph_subset(subset, tags=tags)


def requested_days(run_request: dg.RunRequest) -> dict[str, list[str]]:
    """The partition keys a backfill request targets, per asset key string."""
    subset = run_request.asset_graph_subset
    if subset is None:
        return {}
    return _days_by_asset(subset)


def list_backfills(
    instance: dg.DagsterInstance, *, in_flight_only: bool = False
) -> list[BackfillSummary]:
    """The instance's backfills, newest first."""
    filters = BulkActionsFilter(statuses=list(IN_FLIGHT)) if in_flight_only else None
    summaries = []
    for backfill in instance.get_backfills(filters=filters):
        data = backfill.asset_backfill_data
        summaries.append(
            BackfillSummary(
                id=backfill.backfill_id,
                status=backfill.status.value,
                tags=dict(backfill.tags or {}),
                days_by_asset=_days_by_asset(data.target_subset) if data else {},
                asset_keys=(
                    frozenset(k.to_user_string() for k in backfill.asset_selection)
                    if backfill.asset_selection
                    else None
                ),
            )
        )
    return summaries


def backfills_in_flight(
    instance: dg.DagsterInstance, asset_keys: Collection[dg.AssetKey]
) -> list[BackfillSummary]:
    """Backfills (from this sensor, the UI or `doppel backfill`) that may still launch runs
    for any of `asset_keys`."""
    return [b for b in list_backfills(instance, in_flight_only=True) if b.touches(asset_keys)]


def submit_backfill(instance: dg.DagsterInstance, run_request: dg.RunRequest) -> str:
    """Record `run_request` as a REQUESTED backfill, as the sensor daemon does when a sensor
    returns it; return the backfill's id. (The daemon's own function, so the record is
    exactly the daemon's.)"""
    from dagster._core.utils import make_new_backfill_id
    from dagster._daemon.sensor import _submit_backfill_request

    backfill_id = make_new_backfill_id()
    _submit_backfill_request(backfill_id, run_request, instance)
    return backfill_id


def set_backfill_status(instance: dg.DagsterInstance, backfill_id: str, status: str) -> None:
    """Move a backfill to `status` (a `BulkActionStatus` name such as "CANCELED")."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise KeyError(f"no backfill {backfill_id}")
    instance.update_backfill(backfill.with_status(BulkActionStatus[status]))


def _days_by_asset(subset: AssetGraphSubset) -> dict[str, list[str]]:
    return {
        key.to_user_string(): sorted(partitions.get_partition_keys())
        for key, partitions in subset.partitions_subsets_by_asset_key.items()
    }
