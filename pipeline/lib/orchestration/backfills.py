"""Backfills: requested by the gap-fill sensor, launched on a webserver by `doppel backfill`,
listed and canceled by `doppel dev`. The one module that uses Dagster's private backfill API
(dagster 1.13).

A sensor can only start a real asset backfill (one entry in the UI's backfill list, runs and
retries managed by the backfill daemon) through `RunRequest.for_asset_graph_subset`, whose
argument type, `AssetGraphSubset`, is private; reading backfills back (`get_backfills`,
`BulkActionsFilter`, `BulkActionStatus`) and setting a backfill's status are private too.
Everything private stays here (and, for what only tests need, in
pipeline_tests/fixtures/backfills.py); pipeline_tests/defs/test_backfill_request.py is the
contract test that fails on an upgrade that changes any of it.

When Dagster ships the public `RunRequest.for_asset_partition_range(asset_selection=...,
partition_key_range=PartitionKeyRange(start, end), run_key=..., tags=...)` (dagster PR
#34096, not in 1.13.28), `request_backfill` becomes one such request per contiguous run of
days; nothing outside this module changes.

Note: Dagster drops `run_key` and `run_config` from a backfill request (only tags are kept),
so duplicates are prevented by checking for backfills in flight, never by run keys; and the
sensor's backfill runs log to the console in Dagster's default format whatever
DOPPEL_LOG_FORMAT says (a run's console logger comes only from its run config). A backfill
launched through the webserver does keep its run config.

A backfill launched on a running webserver (`launch_backfill`) goes through its GraphQL
mutation `launchPartitionBackfill`, the same kind of backfill as the UI's "Materialize"
dialog. (dagster-graphql's Python client has no backfill method, hence plain httpx.)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
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
    # A private @record class: mypy misreads its generated constructor's arguments.
    subset = AssetGraphSubset(  # type: ignore[call-arg]
        partitions_subsets_by_asset_key={
            key: partitions_def.subset_with_partition_keys(days)
            for key, days in days_by_asset.items()
        }
    )
    return dg.RunRequest.for_asset_graph_subset(subset, tags=tags)


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
                days_by_asset=days_by_asset(data.target_subset) if data else {},
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


def set_backfill_status(instance: dg.DagsterInstance, backfill_id: str, status: str) -> None:
    """Move a backfill to `status` (a `BulkActionStatus` name such as "CANCELED")."""
    backfill = instance.get_backfill(backfill_id)
    if backfill is None:
        raise KeyError(f"no backfill {backfill_id}")
    instance.update_backfill(backfill.with_status(BulkActionStatus[status]))


def days_by_asset(subset: AssetGraphSubset) -> dict[str, list[str]]:
    return {
        key.to_user_string(): sorted(partitions.get_partition_keys())
        for key, partitions in subset.partitions_subsets_by_asset_key.items()
    }


LAUNCH_BACKFILL = """
mutation LaunchDoppelBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""


class WebserverError(Exception):
    """The webserver could not be reached or refused the backfill; the message says why."""


@dataclass(frozen=True)
class LaunchedBackfill:
    id: str
    url: str  # where the UI shows it


def backfill_url(base_url: str, backfill_id: str) -> str:
    # Dagster 1.13's UI shows a backfill at /runs/b/<id> (/overview/backfills is a redirect).
    return f"{base_url.rstrip('/')}/runs/b/{backfill_id}"


def launch_backfill(
    base_url: str,
    *,
    asset_paths: Sequence[Sequence[str]],
    first_day: str,
    last_day: str,
    title: str,
    tags: dict[str, str],
    run_config: Mapping[str, Any] | None = None,
    timeout_s: float = 15.0,
) -> LaunchedBackfill:
    """One backfill of `first_day`..`last_day` (inclusive) for every asset in `asset_paths`,
    each of its runs with `run_config` (jobs.run_logs_config: the console logger)."""
    base = base_url.rstrip("/")
    params: dict[str, Any] = {
        "partitionsByAssets": [
            {
                "assetKey": {"path": list(path)},
                "partitions": {"range": {"start": first_day, "end": last_day}},
            }
            for path in asset_paths
        ],
        "title": title,
        "tags": [{"key": key, "value": value} for key, value in tags.items()],
    }
    if run_config:
        params["runConfigData"] = dict(run_config)
    with httpx.Client(timeout=timeout_s) as http:
        _probe(http, base)
        try:
            response = http.post(
                f"{base}/graphql",
                json={"query": LAUNCH_BACKFILL, "variables": {"params": params}},
            )
        except httpx.TransportError as exc:
            raise WebserverError(
                f"the Dagster webserver at {base} did not answer the launch ({exc}); look "
                f"at {base}/runs?view=backfills before trying again, so as not to launch twice"
            ) from None
    result = _launch_result(response, base)
    return LaunchedBackfill(id=result["backfillId"], url=backfill_url(base, result["backfillId"]))


def _probe(http: httpx.Client, base: str) -> None:
    """Fail early, with what to do, when nothing answers at `base`. Nothing is retried: a
    launch sent twice would be two backfills, and a refused probe is answer enough."""
    try:
        response = http.get(f"{base}/server_info")
    except httpx.TransportError as exc:
        raise WebserverError(
            f"cannot reach the Dagster webserver at {base} ({type(exc).__name__}): start it "
            "with `make dev`, or point --url (DOPPEL_WEBSERVER_URL) at a running one"
        ) from None
    if response.status_code != 200 or "dagster_version" not in response.text:
        raise WebserverError(
            f"{base}/server_info did not answer like a Dagster webserver (HTTP "
            f"{response.status_code}): check --url (DOPPEL_WEBSERVER_URL)"
        )


def _launch_result(response: httpx.Response, base: str) -> dict[str, Any]:
    # A refused launch (PythonError and the like) may come with HTTP 500 and a JSON body
    # that says why: read the body first, the status only when there is nothing to read.
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise WebserverError(
            f"the webserver at {base} answered HTTP {response.status_code} without a GraphQL "
            f"result: {response.text[:200]}"
        )
    result = (body.get("data") or {}).get("launchPartitionBackfill") or {}
    if not result and body.get("errors"):
        messages = "; ".join(str(e.get("message")) for e in body["errors"])
        raise WebserverError(f"the webserver rejected the request: {messages}")
    kind = result.get("__typename", "no answer")
    if kind != "LaunchBackfillSuccess":
        message = " ".join(str(result.get("message") or "").split())[:300]
        raise WebserverError(f"the webserver refused the backfill ({kind}): {message}")
    return result
