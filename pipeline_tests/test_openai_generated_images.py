"""The real `generated_images` asset with the OpenAI backend, built from settings by
`build_resources`, against the imitation server: a day of refusals, failures and successes,
re-runs that pay nothing for finished photos, the daily budget, and the key kept secret."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from PIL import Image
from sqlalchemy import select

from pipeline.defs.assets import daily_assets
from pipeline.defs.assets.generated_images import WAITING_NOW_TAG
from pipeline.defs.resources import build_resources
from pipeline.defs.resources.generators import OpenAIImagesResource
from pipeline.lib.billing.pricing import DEFAULT_PRICES, PriceTable
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.db import Database, LookAlike, Photo
from pipeline.lib.generators.openai_config import DEFAULT_EDIT_PROMPT
from pipeline.lib.settings import DoppelSettings, load_settings
from pipeline_tests.conftest import migrated
from pipeline_tests.fixtures.assets import TEST_PARTITIONS, unsplash_images
from testbed.openai_server import TEST_API_KEY, OpenAIImitation

DAY = "2026-11-20"
EDITS = "/v1/images/edits"


@pytest.fixture
def server() -> Any:
    with OpenAIImitation() as imitation:
        yield imitation


def small_photos(folder: Path) -> Path:
    """Four small photos with descriptions (small keeps the comparisons quick)."""
    folder.mkdir(exist_ok=True)
    entries = []
    for i, (name, colour) in enumerate(
        [("boat", (200, 40, 40)), ("tiger", (230, 150, 20)), ("lake", (30, 90, 200)),
         ("forest", (20, 140, 60))]
    ):  # fmt: skip
        image = Image.linear_gradient("L").resize((96, 64)).convert("RGB")
        Image.blend(image, Image.new("RGB", (96, 64), colour), 0.6).save(folder / f"{name}.jpg")
        entries.append({"id": name, "file": f"{name}.jpg", "description": f"photo {i}: a {name}"})
    (folder / "photos.json").write_text(json.dumps(entries))
    return folder


def openai_settings(
    tmp_path: Path, server: OpenAIImitation, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> DoppelSettings:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_API_KEY)
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "source": "folder",
        "folder": small_photos(tmp_path / "photos"),
        "generator": "openai",
        "openai_base_url": server.base_url,
        "openai_size": "128x128",
        "openai_quality": "low",
        "openai_timeout_s": 2.0,
        "openai_max_retries": 1,
        "gap_retry_after_minutes": 0,  # a photo that fails may be asked again by the next run
    }
    return migrated(load_settings(_env_file=None, **(values | overrides)))


def materialize(
    settings: DoppelSettings,
    instance: dg.DagsterInstance | None = None,
    *,
    step_retry: dg.RetryPolicy | None = None,
    **kwargs: Any,
) -> dg.ExecuteInProcessResult:
    """The day through Dagster. Without a `step_retry` (the asset's re-runs seconds apart,
    within one run) each run is exactly one attempt, which is what these tests count."""
    return dg.materialize(
        daily_assets(TEST_PARTITIONS, step_retry=step_retry),
        partition_key=DAY,
        resources=build_resources(settings),
        instance=instance,
        raise_on_error=False,
        **kwargs,
    )


def day_photos(settings: DoppelSettings) -> list[Photo]:
    """Collect the day first, so faults can be aimed at particular photos."""
    result = materialize(settings, selection=[unsplash_images])
    assert result.success
    db = Database(settings.resolved_database_url)
    photos = db.photos_of_day(date.fromisoformat(DAY))
    db.dispose()
    assert len(photos) == 4
    return photos


def mentions(photo: Photo) -> Any:
    text = photo.description or photo.title or ""
    return lambda request: text in request.params.get("prompt", "")


def rows_by_photo(settings: DoppelSettings) -> dict[str, LookAlike]:
    db = Database(settings.resolved_database_url)
    with db.session() as session:
        rows = session.scalars(select(LookAlike)).all()
        out = {row.photo.source_id: row for row in rows}
    db.dispose()
    return out


def output_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [materialization] = result.asset_materializations_for_node("generated_images")
    return {k: v.value for k, v in materialization.metadata.items()}


@pytest.mark.slow
def test_a_day_of_refusals_failures_and_successes_then_reruns_that_pay_nothing_twice(
    tmp_path: Path,
    server: OpenAIImitation,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = openai_settings(tmp_path, server, monkeypatch)
    assert isinstance(build_resources(settings)["image_generator"], OpenAIImagesResource)
    photos = day_photos(settings)
    ok1, refused, failing, ok2 = (p.source_id for p in photos)
    server.add_fault("moderation_blocked", times=10, when=mentions(photos[1]))
    server.add_fault("server_error", times=2, when=mentions(photos[2]))  # both tries fail

    with dg.instance_for_test() as instance:
        first = materialize(settings, instance)
        assert first.success  # the day is made; the photo that may still succeed waits
        run_logs = [dg.serialize_value(e) for e in instance.all_logs(first.run_id)]

    rows = rows_by_photo(settings)
    assert {k: r.status for k, r in rows.items()} == {
        ok1: "succeeded", refused: "refused", failing: "waiting", ok2: "succeeded"
    }  # fmt: skip
    assert "moderation_blocked" in (rows[refused].error or "")
    assert "HTTP 500" in (rows[failing].error or "")
    for key in (ok1, ok2):
        row = rows[key]
        assert (row.generator, row.model, row.strategy) == ("openai", "gpt-image-2", "edit")
        assert (row.prompt or "").startswith(DEFAULT_EDIT_PROMPT)
        assert (row.request_id or "").startswith("req_") and row.usage
        assert (row.cost_usd or 0) > 0
        assert (row.width, row.height) == (128, 85)  # the API's 128x128, at the photo's 3:2
    assert len(server.requests_to(EDITS)) == 5  # 1 + 1 refused + 2 failed tries + 1
    spending = output_metadata(first)
    assert (spending["succeeded"], spending["refused"], spending["waiting"]) == (2, 1, 1)
    assert spending["stopped_by_budget"] == 0
    assert spending["budget_usd"] == 5.0
    first_cost = (rows[ok1].cost_usd or 0) + (rows[ok2].cost_usd or 0)
    assert spending["spent_today_usd"] == pytest.approx(first_cost, abs=1e-4)

    # The re-run asks only for the failed photo: nothing finished is paid for again.
    server.clear()
    second = materialize(settings)
    assert second.success
    [request] = server.requests_to(EDITS)
    assert mentions(photos[2])(request)
    rows = rows_by_photo(settings)
    assert sorted(r.status for r in rows.values()) == ["refused"] + ["succeeded"] * 3
    assert rows[failing].attempts == 2
    metadata = output_metadata(second)
    assert metadata["generator_calls_this_run"] == 1
    assert metadata["succeeded"] == 3 and metadata["refused"] == 1
    total = sum(r.cost_usd or 0 for r in rows.values())
    assert metadata["spent_today_usd"] == pytest.approx(total, abs=1e-4)  # from the database
    assert metadata["spent_this_run_usd"] == pytest.approx(rows[failing].cost_usd, abs=1e-4)

    server.clear()
    third = materialize(settings)
    assert third.success and server.requests == []
    assert output_metadata(third)["generator_calls_this_run"] == 0

    # The key never reaches rows, stored receipts, Dagster's event log or any log line.
    store = LocalObjectStore(settings.objects_dir)
    sidecars = [store.get(k).decode() for k in store.list("generated/") if k.endswith(".json")]
    assert len(sidecars) == 3
    texts = [repr(vars(r)) for r in rows.values()] + sidecars + run_logs + [caplog.text]
    assert not [t for t in texts if TEST_API_KEY in t]


@pytest.mark.slow
def test_the_daily_budget_stops_new_requests_and_shows_in_the_run(
    tmp_path: Path, server: OpenAIImitation, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.latency_s = 0.3  # all four requests (concurrency 4) ask for budget at once
    estimate = PriceTable(DEFAULT_PRICES, unpriced_call_usd=0.25).estimate_image(
        "gpt-image-2", quality="low", size="128x128",
        prompt=DEFAULT_EDIT_PROMPT + " The photo shows: " + "x" * 80 + ".", input_fidelity="low",
    )  # fmt: skip
    settings = openai_settings(
        tmp_path, server, monkeypatch, openai_daily_budget_usd=round(2.5 * estimate, 6)
    )
    assert settings.remote_generation_concurrency == 4

    first = materialize(settings)
    assert first.success
    statuses = sorted(r.status for r in rows_by_photo(settings).values())
    assert statuses == ["succeeded", "succeeded", "waiting", "waiting"]
    assert len(server.requests_to(EDITS)) == 2
    spending = output_metadata(first)
    assert spending["stopped_by_budget"] == 2
    assert spending["requests_stopped_by_budget"] == 2
    assert spending["spent_today_usd"] <= settings.openai.daily_budget_usd

    # A higher cap later that day: only the two stopped photos are asked for.
    server.clear()
    raised = openai_settings(tmp_path, server, monkeypatch, openai_daily_budget_usd=1.0)
    second = materialize(raised, tags={WAITING_NOW_TAG: "true"})  # as `doppel run` does
    assert second.success
    assert len(server.requests_to(EDITS)) == 2
    assert {r.status for r in rows_by_photo(settings).values()} == {"succeeded"}


@pytest.mark.slow
def test_a_rejected_key_stops_the_day_and_is_never_recorded(
    tmp_path: Path, server: OpenAIImitation, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = openai_settings(tmp_path, server, monkeypatch, generation_concurrency=1)
    wrong_key = "sk-proj-doppel-WRONGKEY-tail9876"
    monkeypatch.setenv("OPENAI_API_KEY", wrong_key)
    with dg.instance_for_test() as instance:
        result = materialize(settings, instance)
        run_logs = [dg.serialize_value(e) for e in instance.all_logs(result.run_id)]
    assert not result.success
    # The day stops at the first 401 (a photo the worker had already picked up may follow).
    assert 1 <= len(server.requests_to(EDITS)) <= 2
    rows = list(rows_by_photo(settings).values())
    assert len(rows) == len(server.requests_to(EDITS))
    assert all("OPENAI_API_KEY" in (row.error or "") and row.status == "waiting" for row in rows)
    texts = [*run_logs, *(row.error or "" for row in rows)]
    assert any("rejected the API key" in t for t in run_logs)
    assert not [t for t in texts if "WRONGKEY" in t or "9876" in t]
