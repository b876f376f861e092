"""The day-table IO manager: partition-aware keys, one- and multi-partition loads, and types
that survive the round trip."""

import json
from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs.resources import DayTableIOManager
from pipeline.defs.resources.storage import LocalObjectStoreResource
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, DayTable, decode_table, table
from pipeline_tests.fixtures.assets import TEST_PARTITIONS


def look_alike(photo_id: int, seed: int | None, **fields: object) -> dict[str, object]:
    return {
        "photo_id": photo_id,
        "source_id": f"p{photo_id}",
        "status": "succeeded",
        "seed": seed,
        "cost_usd": 0.0,
        "latency_s": 1.5,
        "width": 480,
        "comparisons": {"ssim": 0.25},
    } | fields


@dg.asset(partitions_def=TEST_PARTITIONS)
def day_table(context: dg.AssetExecutionContext) -> DayTable:
    day = context.partition_key
    return table(PHOTOS, day, [{"id": 1, "source_id": day, "rank": 1, "title": "a|b <c>"}])


@dg.asset(
    partitions_def=TEST_PARTITIONS,
    ins={"day_table": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))},
)
def two_days(context: dg.AssetExecutionContext, day_table: dict[str, DayTable]) -> DayTable:
    rows = [row for t in day_table.values() for row in t.rows]
    return table(PHOTOS, context.partition_key, rows)


@dg.asset(partitions_def=TEST_PARTITIONS)
def look_alikes(context: dg.AssetExecutionContext) -> DayTable:
    # One seed missing, one an integer: stored through pandas, the pair became NaN and 5.0.
    rows = [look_alike(1, None, status="failed", cost_usd=None), look_alike(2, 5)]
    return table(LOOK_ALIKES, context.partition_key, rows)


@dg.asset(partitions_def=TEST_PARTITIONS)
def reads_look_alikes(look_alikes: DayTable) -> None:
    assert look_alikes.column("seed") == [None, 5]


@pytest.mark.slow
def test_tables_are_stored_per_partition_and_load_back(tmp_path: Path) -> None:
    io_manager = DayTableIOManager(store=LocalObjectStoreResource(base_dir=str(tmp_path)))
    with dg.instance_for_test() as instance:
        for day in ("2026-11-19", "2026-11-20"):
            assert dg.materialize(
                [day_table],
                partition_key=day,
                resources={"io_manager": io_manager},
                instance=instance,
            ).success
        result = dg.materialize(
            [day_table.to_source_asset(), two_days],
            partition_key="2026-11-20",
            resources={"io_manager": io_manager},
            instance=instance,
        )
    assert result.success
    store = LocalObjectStore(tmp_path)
    assert sorted(store.list("tables/")) == [
        "tables/day_table/2026-11-19.json",
        "tables/day_table/2026-11-20.json",
        "tables/two_days/2026-11-20.json",
    ]
    combined = result.output_for_node("two_days")
    assert combined.column("source_id") == ["2026-11-19", "2026-11-20"]
    assert combined.column("title") == ["a|b <c>", "a|b <c>"]


def test_integers_stay_integers_through_the_io_manager(tmp_path: Path) -> None:
    io_manager = DayTableIOManager(store=LocalObjectStoreResource(base_dir=str(tmp_path)))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [look_alikes, reads_look_alikes],
            partition_key="2026-11-20",
            resources={"io_manager": io_manager},
            instance=instance,
        )
    assert result.success
    data = LocalObjectStore(tmp_path).get("tables/look_alikes/2026-11-20.json")
    rows = json.loads(data)["rows"]
    assert [r["seed"] for r in rows] == [None, 5] and isinstance(rows[1]["seed"], int)
    back = decode_table(data)
    assert back.schema is LOOK_ALIKES
    assert back.column("seed") == [None, 5] and type(back.rows[1]["seed"]) is int
    assert back.column("photo_id") == [1, 2] and type(back.rows[0]["photo_id"]) is int
    assert back.column("cost_usd") == [None, 0.0] and back.column("width") == [480, 480]
    assert back.rows[1]["comparisons"] == {"ssim": 0.25}


def test_a_table_written_through_pandas_reads_with_its_integers() -> None:
    # What the IO manager stored before the schema: floats for a nullable int column and
    # the old name of a look-alike's photo.
    old = {
        "partition": "2026-11-20",
        "rows": [
            {"inspiration_id": 1.0, "source_id": "a", "status": "failed", "seed": None},
            {"inspiration_id": 2.0, "source_id": "b", "status": "succeeded", "seed": 5.0},
        ],
    }
    back = decode_table(json.dumps(old).encode())
    assert back.schema is LOOK_ALIKES
    assert back.column("photo_id") == [1, 2] and back.column("seed") == [None, 5]
    assert all(type(v) is int for v in back.column("photo_id"))


def test_the_pandas_view_keeps_nullable_integers() -> None:
    frame = table(LOOK_ALIKES, "2026-11-20", [look_alike(1, None), look_alike(2, 5)]).frame()
    assert str(frame["seed"].dtype) == "Int64" and frame["seed"].tolist()[1] == 5
    assert frame["seed"].isna().tolist() == [True, False]
