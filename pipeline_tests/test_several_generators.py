"""Several machines per photo (DOPPEL_GENERATORS) end to end through Dagster: two offline
generators over two days make one look-alike of each photo each, the gallery shows them side
by side, and re-running the days makes nothing twice."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import select

from pipeline.defs.keys import DAY_TABLES
from pipeline.defs.resources import build_resources
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.db import Database, LookAlike
from pipeline.lib.settings import load_settings
from pipeline.lib.site import build_site
from pipeline_tests.conftest import migrated
from pipeline_tests.fixtures.assets import generated_images, unsplash_images

DAYS = ("2026-11-20", "2026-11-21")
LINEUP = ("patch-remix", "style-transfer")


def made(objects: LocalObjectStore) -> dict[str, str]:
    """Every stored look-alike and receipt, by key, with a digest of its bytes."""
    return {key: hashlib.sha256(objects.get(key)).hexdigest() for key in objects.list("generated/")}


@pytest.mark.slow
def test_two_generators_over_two_days_side_by_side_and_nothing_made_twice(tmp_path: Path) -> None:
    settings = migrated(load_settings(
        _env_file=None, data_dir=tmp_path / "data", generators=",".join(LINEUP),
        photos_per_day=2, output_size=96, work_size=64,
    ))  # fmt: skip
    resources = build_resources(settings)
    objects = LocalObjectStore(settings.objects_dir)
    db = Database(settings.resolved_database_url)

    def run_days() -> list[dict[str, dg.MetadataValue]]:
        found = []
        with dg.instance_for_test() as instance:
            for day in DAYS:
                result = dg.materialize([unsplash_images, generated_images], partition_key=day,
                                        resources=resources, instance=instance)  # fmt: skip
                assert result.success
                assert all(c.passed for c in result.get_asset_check_evaluations())
                [event] = result.asset_materializations_for_node(generated_images.key.path[-1])
                found.append(event.metadata)
        return found

    first = run_days()
    with db.session() as session:
        rows = session.scalars(select(LookAlike).order_by(LookAlike.id)).all()
        pairs = sorted((r.photo_id, r.generator, r.status) for r in rows)
    assert len(pairs) == 2 * 2 * len(LINEUP)  # days x photos x generators
    assert {(g, s) for _, g, s in pairs} == {(g, "succeeded") for g in LINEUP}
    stored = made(objects)
    assert len(stored) == len(pairs) * 2  # each look-alike and its receipt, at its own key
    for metadata in first:
        assert metadata["generator"].value == ", ".join(LINEUP)
        by = metadata["by_generator"].value
        assert isinstance(by, dict) and set(by) == set(LINEUP)
        assert all(
            by[g]["succeeded"] == 2 and by[g]["generator_calls_this_run"] == 2 for g in LINEUP
        )

    again = run_days()
    with db.session() as session:
        rerun = sorted(
            (r.photo_id, r.generator, r.status) for r in session.scalars(select(LookAlike))
        )
    assert rerun == pairs  # no row twice
    assert made(objects) == stored  # no object made or written again
    assert all(m["generator_calls_this_run"].value == 0 for m in again)
    db.dispose()

    assert build_site(objects, tables=DAY_TABLES).problems == []
    pages = sorted((settings.objects_dir / "site" / "pairs").glob("*/*.html"))
    assert len(pages) == 2 * 2  # one per photo, each showing both machines' look-alikes
    for page in pages:
        text = page.read_text()
        figures = re.findall(r"Look-alike by ([\w-]+)</figcaption>\s*<img", text)
        assert figures == list(LINEUP), page
        assert "Machine by machine" in text


def test_the_lineup_is_each_generators_own_resource_lead_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One generator stays the one resource it was; several are a lineup of their own
    resources (each its concurrency, retries and paid cap), the lead first."""
    from pipeline.defs.resources.generators import (
        GeneratorLineupResource,
        Img2ImgResource,
        OpenAIImagesResource,
        PatchRemixResource,
        StyleTransferResource,
    )

    one = build_resources(load_settings(_env_file=None))["image_generator"]
    assert isinstance(one, PatchRemixResource) and one.members() == [one]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = load_settings(
        _env_file=None, generators="img2img,patch-remix,openai,style-transfer", generator="openai"
    )
    lineup = build_resources(settings)["image_generator"]
    assert isinstance(lineup, GeneratorLineupResource)
    kinds = [type(member) for member in lineup.members()]
    assert kinds == [OpenAIImagesResource, Img2ImgResource, PatchRemixResource,
                     StyleTransferResource]  # fmt: skip
    assert [m.concurrency for m in lineup.members()] == [4, 4, 2, 2]  # remote ones: 4
    assert "sk-test" not in repr(lineup)  # the key by name only
