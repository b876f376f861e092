"""The `unsplash_images` asset through Dagster with the real resources (SQLite + a local
folder) against the Unsplash imitation server: the day's photos in order, the API calls it
costs, download tracking once per photo across re-runs, faults, and the key kept secret."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from pipeline.defs.resources import build_resources
from pipeline.lib.db import Database, Photo
from pipeline.lib.settings import DoppelSettings, SettingsError, load_settings
from pipeline_tests.conftest import migrated
from pipeline_tests.fixtures.assets import unsplash_images
from testbed.unsplash_server import (
    IXID,
    TEST_ACCESS_KEY,
    UnsplashImitation,
    at,
    big_png,
    standard_feed,
)

DAY = "2026-11-20"
UTM = "utm_source=doppel&utm_medium=referral"


@pytest.fixture
def settings(
    unsplash: UnsplashImitation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> DoppelSettings:
    monkeypatch.setenv("UNSPLASH_ACCESS_KEY", TEST_ACCESS_KEY)
    return unsplash_settings(unsplash, tmp_path)


def unsplash_settings(
    server: UnsplashImitation, tmp_path: Path, **overrides: Any
) -> DoppelSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "source": "unsplash",
        "photos_per_day": 4,
        "unsplash_base_url": server.root_url,
        "unsplash_image_hosts": server.root_url,
        "unsplash_per_page": 5,
        "unsplash_call_budget": 8,
        "unsplash_timeout_s": 0.3,
        "unsplash_image_timeout_s": 0.3,
        "unsplash_retry_backoff_s": 0.01,
        "unsplash_max_image_pixels": 1_000_000,
    } | overrides
    return migrated(load_settings(_env_file=None, **values))


def materialize(
    settings: DoppelSettings, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [unsplash_images],
        partition_key=DAY,
        resources=build_resources(settings),
        instance=instance,
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [materialization] = result.asset_materializations_for_node("unsplash_images")
    return {key: value.value for key, value in materialization.metadata.items()}


def failure_of(result: dg.ExecuteInProcessResult) -> tuple[str, dict[str, Any]]:
    assert not result.success
    failure = result.failure_data_for_node("unsplash_images")
    assert failure is not None and failure.user_failure_data is not None
    data = failure.user_failure_data
    return data.description or "", {k: v.value for k, v in data.metadata.items()}


def day_rows(settings: DoppelSettings) -> list[Photo]:
    db = Database(settings.resolved_database_url)
    try:
        return db.photos_of_day(date.fromisoformat(DAY))
    finally:
        db.dispose()


def test_unsplash_day_collected_in_order_within_budget_and_rerun_costs_nothing(
    unsplash: UnsplashImitation, settings: DoppelSettings
) -> None:
    standard_feed(unsplash)
    result = materialize(settings)
    assert result.success

    rows = day_rows(settings)
    assert [(r.source_id, r.rank, r.status) for r in rows] == [
        ("d", 1, "stored"), ("b", 2, "stored"), ("f", 3, "stored"), ("c", 4, "stored"),
    ]  # fmt: skip
    for row in rows:
        assert row.download_tracked_at is not None
        assert row.display_url and f"ixid={IXID}" in row.display_url
        assert row.photographer_url and row.photographer_url.endswith(UTM)
        assert row.page_url and row.page_url.endswith(UTM)
        assert row.credit["text"] == f"Photo by {row.photographer_name} on Unsplash"
        assert row.credit["unsplash_url"] == f"https://unsplash.com/?{UTM}"
        assert (row.width, row.height) == (64, 48)  # what was stored, not the original's size

    # 2 feed pages + 4 download-tracking calls, inside the configured budget of 8.
    assert len(unsplash.api_requests()) == 6 <= settings.unsplash.call_budget
    assert len(unsplash.requests_for("feed")) == 2
    for photo_id in ("d", "b", "f", "c"):
        [tracked] = unsplash.requests_for("download", photo_id)
        assert tracked.query["ixid"] == [IXID]
        [image] = unsplash.requests_for("image", photo_id)
        assert image.query["ixid"] == [IXID] and image.query["fm"] == ["jpg"]
    assert unsplash.requests_for("download", "a") == []  # not used, not tracked

    metadata = metadata_of(result)
    assert metadata["unsplash_ratelimit_remaining"] == unsplash.ratelimit_remaining == 44
    assert metadata["unsplash_api_calls"] == 6
    assert metadata["unsplash_day_complete"] is True
    assert (metadata["photos"], metadata["fetched_this_run"]) == (4, 4)

    before = len(unsplash.requests)
    again = materialize(settings)
    assert again.success
    assert len(unsplash.requests) == before  # a complete day asks Unsplash nothing at all
    assert metadata_of(again)["reused_stored_day"] is True
    assert [r.source_id for r in day_rows(settings)] == ["d", "b", "f", "c"]


@pytest.mark.parametrize("fault", ["error_json", "unauthorized"])
def test_unsplash_failed_tracking_keeps_the_photo_unused_until_a_later_run_tracks_it(
    unsplash: UnsplashImitation, settings: DoppelSettings, fault: str
) -> None:
    standard_feed(unsplash)
    unsplash.fail("download", fault, photo_id="b")
    description, metadata = failure_of(materialize(settings))
    assert "1 stored photo(s) wait for their download tracking" in description
    assert (metadata["photos"], metadata["photos_untracked"]) == (3, 1)
    tracked = {r.source_id: r.download_tracked_at for r in day_rows(settings)}
    assert tracked["b"] is None and all(tracked[p] for p in ("d", "f", "c"))
    assert len(unsplash.requests_for("download", "b")) == 1  # once per run, no blind retry

    unsplash.clear()
    assert materialize(settings).success
    # The day's photos are stored: only the tracking call that failed is made, once.
    assert [(r.path, r.query) for r in unsplash.requests] == [
        ("/photos/b/download", {"ixid": [IXID]})
    ]
    rows = day_rows(settings)
    assert rows and all(r.download_tracked_at for r in rows)

    unsplash.clear()
    assert materialize(settings).success
    assert unsplash.requests == []


@pytest.mark.parametrize("fault", ["rate_limit_403", "rate_limit_429"])
def test_unsplash_rate_limit_fails_the_day_saying_when_to_retry(
    unsplash: UnsplashImitation, settings: DoppelSettings, fault: str
) -> None:
    standard_feed(unsplash)
    unsplash.fail("feed", fault)
    description, metadata = failure_of(materialize(settings))
    assert "unsplash is unavailable for 2026-11-20" in description
    assert "try this day again after" in description and "UTC" in description
    assert metadata["retry_after_s"] == 3600
    assert metadata["unsplash_ratelimit_remaining"] == 0
    assert len(unsplash.api_requests()) == 1
    assert day_rows(settings) == []


def test_unsplash_low_remaining_fails_the_day_before_the_limit_is_spent(
    unsplash: UnsplashImitation, settings: DoppelSettings
) -> None:
    standard_feed(unsplash)
    unsplash.ratelimit_remaining = 7  # page 1 leaves 6: not enough for page 2 + 4 + reserve 2
    description, metadata = failure_of(materialize(settings))
    assert "X-Ratelimit-Remaining is 6" in description and "try this day again" in description
    assert metadata["unsplash_ratelimit_remaining"] == 6
    assert len(unsplash.api_requests()) == 1 and unsplash.requests_for("download") == []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "times", "message"),
    [
        ("error_json", 1, None),
        ("reset", 1, None),
        ("error_html", 3, "HTTP 503 to GET /photos: an HTML page"),
        ("slow", 3, "did not answer GET /photos within 0.3 s"),
        ("malformed_json", 1, "is not valid JSON"),
    ],
)
def test_unsplash_feed_faults_through_the_asset(
    unsplash: UnsplashImitation,
    settings: DoppelSettings,
    fault: str,
    times: int,
    message: str | None,
) -> None:
    standard_feed(unsplash)
    unsplash.fail("feed", fault, times=times)
    result = materialize(settings)
    if message is None:  # retried within the budget: the day is whole
        assert result.success
        assert [r.source_id for r in day_rows(settings)] == ["d", "b", "f", "c"]
        assert len(unsplash.api_requests()) == 7 == metadata_of(result)["unsplash_api_calls"]
    else:
        description, metadata = failure_of(result)
        assert message in description
        assert metadata["retry_after_s"] == 600
        assert len(unsplash.api_requests()) == times
        assert day_rows(settings) == []


def test_unsplash_bad_photos_and_drift_are_handled_and_the_rest_carry_on(
    unsplash: UnsplashImitation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNSPLASH_ACCESS_KEY", TEST_ACCESS_KEY)
    settings = unsplash_settings(unsplash, tmp_path, photos_per_day=5)
    foreign = unsplash.photo("foreign", promoted_at=at(0, 20), likes=90)
    for size, url in foreign["urls"].items():
        foreign["urls"][size] = url.replace("127.0.0.1", "localhost")
    unsplash.images["huge"] = (big_png(2500), "image/png")
    sponsored = unsplash.photo("ad", promoted_at=at(0, 19), likes=5000)
    sponsored["sponsorship"] = {"sponsor": {"name": "Brand"}}
    fine = unsplash.photo("fine", promoted_at=at(0, 17), likes=60)
    bare = unsplash.photo("bare", promoted_at=at(0, 16), likes=50)
    for key in ("description", "alt_description", "user", "blur_hash"):
        bare.pop(key)
    bare["surprise"] = [1, 2, 3]
    unsplash.photos = [
        foreign,
        unsplash.photo("huge", promoted_at=at(0, 19), likes=80, image="huge"),
        sponsored,
        unsplash.photo("cut", promoted_at=at(0, 18), likes=70),
        fine,
        fine,  # page 2 starts with page 1's last photo again: the feed moved while paging
        bare,
        unsplash.photo("prev", promoted_at=at(-1, 23), likes=999),
    ]
    unsplash.fail("image", "truncated_body", times=2, photo_id="cut")
    result = materialize(settings)
    assert result.success

    rows = {r.source_id: r for r in day_rows(settings)}
    assert [(r.source_id, r.status) for r in rows.values()] == [
        ("foreign", "refused"), ("huge", "failed"), ("cut", "failed"), ("fine", "stored"),
        ("bare", "stored"),
    ]  # fmt: skip
    assert "refused by URL policy: http://localhost:" in (rows["foreign"].error or "")
    assert "over the 1 megapixel limit" in (rows["huge"].error or "")
    assert "broke off twice" in (rows["cut"].error or "")
    assert rows["bare"].credit["text"] == "Photo by an Unsplash photographer on Unsplash"
    assert rows["bare"].description is None and rows["bare"].title is None
    assert unsplash.requests_for("image", "foreign") == []  # never fetched
    assert len(unsplash.requests_for("image", "fine")) == 1  # the duplicate is not fetched
    # Only the photos actually used are tracked: 2 feed pages + 2 tracking calls.
    assert [r.path for r in unsplash.api_requests()] == [
        "/photos", "/photos", "/photos/fine/download", "/photos/bare/download",
    ]  # fmt: skip
    assert metadata_of(result)["photos_failed"] == 3


@pytest.mark.slow
def test_unsplash_key_never_reaches_logs_metadata_database_or_files(
    unsplash: UnsplashImitation,
    settings: DoppelSettings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    standard_feed(unsplash)
    unsplash.fail("download", "unauthorized", photo_id="f")
    caplog.set_level(logging.DEBUG)
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        assert not materialize(settings, instance).success  # f is not tracked: not ok yet
        unsplash.fail("download", "rate_limit_403")  # the re-run retries f's tracking
        assert not materialize(settings, instance).success
        events = [str(e) for run in instance.get_runs() for e in instance.all_logs(run.run_id)]
    assert len(unsplash.requests_for("download", "f")) == 2

    key = TEST_ACCESS_KEY
    assert key not in caplog.text and len(caplog.records) > 10
    assert len(events) > 10 and not any(key in event for event in events)
    db = Database(settings.resolved_database_url)
    with db.session() as session:
        for row in session.scalars(select(Photo)):
            assert key not in repr({c.name: getattr(row, c.name) for c in row.__table__.columns})
    db.dispose()
    for path in tmp_path.rglob("*"):  # SQLite files, stored objects, Dagster's run storage
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path


def test_unsplash_missing_key_is_a_clear_error(
    unsplash: UnsplashImitation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError, match="needs UNSPLASH_ACCESS_KEY"):
        unsplash_settings(unsplash, tmp_path)

    monkeypatch.setenv("UNSPLASH_ACCESS_KEY", TEST_ACCESS_KEY)
    settings = unsplash_settings(unsplash, tmp_path)
    monkeypatch.delenv("UNSPLASH_ACCESS_KEY")  # gone by the time the run starts
    with pytest.raises(Exception, match="UNSPLASH_ACCESS_KEY"):
        dg.materialize([unsplash_images], partition_key=DAY, resources=build_resources(settings))
    assert unsplash.requests == []
