"""The findings assets through Dagster: two days' features kept once, a judge tested on the
day it did not see, and one findings row per pair, stored as a DataFrame."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs.assets.findings import build_image_features, findings, machine_judge
from pipeline.defs.resources import build_resources
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.findings.features import WIDTH, features_key, read_day_features
from pipeline.lib.findings.kept import read_kept
from pipeline.lib.findings.table import COLUMNS, decode_frame
from pipeline.lib.settings import DoppelSettings
from pipeline_tests.fakes import MirrorGeneratorResource
from pipeline_tests.fixtures.assets import TEST_PARTITIONS, generated_images, unsplash_images

DAYS = ("2026-11-20", "2026-11-21")
image_features = build_image_features(TEST_PARTITIONS)
ALL = [unsplash_images, generated_images, image_features, machine_judge, findings]


def _meta(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = result.asset_materializations_for_node(key.path[-1])
    return {k: v.value for k, v in event.metadata.items()}


@pytest.mark.slow
def test_two_days_measured_once_judged_and_found(
    local_settings: DoppelSettings, tmp_path: Path
) -> None:
    resources = build_resources(local_settings) | {
        "image_generator": MirrorGeneratorResource(counter=str(tmp_path / "calls"))
    }
    store = LocalObjectStore(local_settings.objects_dir)
    with dg.instance_for_test() as instance:
        for day in DAYS:
            result = dg.materialize(
                ALL, selection=[unsplash_images, generated_images, image_features],
                partition_key=day, resources=resources, instance=instance,
            )  # fmt: skip
            assert result.success
            measured = _meta(result, image_features.key)
            assert measured["images_computed"] == measured["images"] == 8  # 4 pairs
        # Again: every image's bytes are the same, so nothing is measured twice.
        again = dg.materialize(
            ALL, selection=[image_features], partition_key=DAYS[0], resources=resources,
            instance=instance,
        )  # fmt: skip
        assert _meta(again, image_features.key)["images_computed"] == 0
        assert _meta(again, image_features.key)["images_reused"] == 8
        held = read_day_features(store, DAYS[0])
        assert held is not None and held.matrix().shape == (8, WIDTH)

        result = dg.materialize(
            ALL, selection=[machine_judge, findings], resources=resources, instance=instance
        )
        assert result.success
        assert _meta(result, machine_judge.key)["judge_new_verdicts"] == 16
        # Judged again on the same days: every image keeps the verdict it was given.
        again = dg.materialize(
            ALL, selection=[machine_judge], resources=resources, instance=instance
        )
        assert _meta(again, machine_judge.key)["judge_new_verdicts"] == 0
    judged = decode_frame(store.get("tables/machine_judge/all.json"))
    kept = read_kept(store)
    assert kept is not None and len(kept) == 16
    assert len(judged) == 16 and judged["p_photo"].notna().all()
    # Two days, two folds: each day is judged by a model that never saw it.
    assert judged.groupby("day")["fold"].nunique().eq(1).all() and judged["fold"].nunique() == 2
    meta = _meta(result, machine_judge.key)
    assert meta["judge_folds"] == 2 and meta["judge_accuracy"]["n"] == 16

    table = decode_frame(store.get("tables/findings/all.json"))
    assert list(table.columns) == list(COLUMNS) and len(table) == 8
    assert set(table["day"]) == set(DAYS) and table["p_look_alike"].notna().all()
    assert str(table["photo_id"].dtype) == "Int64" and str(table["fooled"].dtype) == "boolean"
    headline = _meta(result, findings.key)
    assert headline["pairs"] == 8 and headline["judge_accuracy"]["n"] == 16
    assert store.exists(features_key(DAYS[1]))
