"""The contract test of Dagster's private backfill API, which only
`pipeline/lib/orchestration/backfills.py` (and, for tests,
pipeline_tests/fixtures/backfills.py) touches.

One round trip through every private name it uses, on a real instance: build a sensor's
backfill request, read its days back, record it as the daemon does, list it, see it in
flight, end it. If a Dagster upgrade moves or changes any of it, this test is the one that
fails, with the version in its message; fix that module (or, once Dagster has
`RunRequest.for_asset_partition_range`, move to it) and nothing else has to change."""

from __future__ import annotations

from datetime import date

import dagster as dg

from pipeline.defs.partitions import daily_partitions
from pipeline.lib.orchestration import backfills as br
from pipeline_tests.fixtures.backfills import requested_days, submit_backfill

UPGRADE = f"dagster {dg.__version__} changed its private backfill API (see {br.__name__})"
PHOTOS, LOOKALIKES = dg.AssetKey("unsplash_images"), dg.AssetKey("generated_images")
DAYS = ["2026-11-20", "2026-11-22"]


def test_the_private_backfill_api_round_trips_on_a_real_instance() -> None:
    partitions = daily_partitions(date(2026, 11, 1))
    tags = {"doppel/trigger": "contract"}
    request = br.request_backfill(dict.fromkeys([PHOTOS, LOOKALIKES], DAYS), partitions, tags)
    assert request.asset_graph_subset is not None, UPGRADE
    expected = {"unsplash_images": DAYS, "generated_images": DAYS}
    assert requested_days(request) == expected, UPGRADE
    assert requested_days(dg.RunRequest()) == {}  # not a backfill request

    with dg.instance_for_test() as instance:
        assert br.list_backfills(instance) == []
        backfill_id = submit_backfill(instance, request)
        [summary] = br.list_backfills(instance)
        assert summary == br.BackfillSummary(
            id=backfill_id,
            status="REQUESTED",
            tags=summary.tags,
            days_by_asset=expected,
            asset_keys=frozenset(expected),
        ), UPGRADE
        assert summary.tags.items() >= tags.items(), UPGRADE
        # In flight for either asset, and only for them.
        assert [b.id for b in br.backfills_in_flight(instance, [LOOKALIKES])] == [backfill_id]
        assert br.backfills_in_flight(instance, [dg.AssetKey("gallery_site")]) == []

        br.set_backfill_status(instance, backfill_id, "CANCELED")
        assert br.backfills_in_flight(instance, [PHOTOS, LOOKALIKES]) == [], UPGRADE
        assert [b.status for b in br.list_backfills(instance)] == ["CANCELED"]
