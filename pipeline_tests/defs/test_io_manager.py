"""The day-table IO manager: partition-aware keys, one- and multi-partition loads."""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from pipeline.defs.partitions import DEFAULT_PARTITIONS
from pipeline.defs.resources import DayTableIOManager
from pipeline.defs.resources.storage import LocalObjectStoreResource
from pipeline.lib.core.storage import LocalObjectStore


@dg.asset(partitions_def=DEFAULT_PARTITIONS)
def day_table(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return pd.DataFrame([{"day": context.partition_key, "n": 1, "note": "a|b <c>"}])


@dg.asset(
    partitions_def=DEFAULT_PARTITIONS,
    ins={"day_table": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))},
)
def two_days(day_table: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(day_table.values(), ignore_index=True)


@pytest.mark.slow
def test_tables_are_stored_per_partition_and_load_back(tmp_path: Path) -> None:
    io_manager = DayTableIOManager(store=LocalObjectStoreResource(base_dir=str(tmp_path)))
    with dg.instance_for_test() as instance:
        for day in ("2026-11-19", "2026-11-20"):
            assert dg.materialize(
                [day_table], partition_key=day, resources={"io_manager": io_manager},
                instance=instance,
            ).success  # fmt: skip
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
    assert sorted(combined["day"]) == ["2026-11-19", "2026-11-20"]
    assert list(combined["note"]) == ["a|b <c>", "a|b <c>"]
