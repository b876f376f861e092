"""Launch an asset backfill on a running Dagster webserver, the way its UI does.

The webserver's GraphQL mutation `launchPartitionBackfill` creates the same kind of backfill
as the UI's "Materialize" dialog and the gap-fill sensor: one entry in the backfill list,
runs launched and tracked by the daemon. (dagster-graphql's Python client has no backfill
method, hence plain httpx.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

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
    timeout_s: float = 15.0,
) -> LaunchedBackfill:
    """One backfill of `first_day`..`last_day` (inclusive) for every asset in `asset_paths`."""
    base = base_url.rstrip("/")
    params = {
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
