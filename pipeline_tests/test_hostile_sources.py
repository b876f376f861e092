"""Photo sources under hostile input, through the `unsplash_images` asset and the real
resources, against the imitation Unsplash server, on SQLite and on PostgreSQL: hostile
strings are cleaned before the database and the site, K larger than the calls left never
leaves a used photo untracked, a failing tracking endpoint is tried a bounded number of times
over runs, and configuration errors stop at once."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipeline.defs.assets.gallery_site import gallery_site
from pipeline.defs.names import DAY_TABLES
from pipeline.defs.resources import build_resources
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.day.collect import TRACKING_ATTEMPTS
from pipeline.lib.day.counts import day_status
from pipeline.lib.settings import DoppelSettings, load_settings
from pipeline.lib.site import build_site
from pipeline.lib.sources.text import BIDI_CONTROLS
from pipeline.runner import failure_reason, needs_a_setting
from pipeline_tests.conftest import migrated
from pipeline_tests.fixtures.assets import unsplash_images
from pipeline_tests.test_unsplash_images import (
    DAY,
    day_rows,
    failure_of,
    materialize,
    metadata_of,
    unsplash_settings,
)
from testbed.unsplash_server import TEST_ACCESS_KEY, UnsplashImitation, at

TEXT_COLUMNS = ("source_id", "title", "description", "photographer_name", "error")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None  # the settings' default file under the test's data folder
    return str(request.getfixturevalue("postgres_database")["url"])


@pytest.fixture
def settings_for(
    unsplash: UnsplashImitation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
) -> Any:
    monkeypatch.setenv("UNSPLASH_ACCESS_KEY", TEST_ACCESS_KEY)

    def make(**overrides: Any) -> DoppelSettings:
        return unsplash_settings(unsplash, tmp_path, database_url=database_url, **overrides)

    return make


def successful_tracking(server: UnsplashImitation) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in server.requests_for("download"):
        if request.status == 200:
            photo_id = request.path.split("/")[2]
            counts[photo_id] = counts.get(photo_id, 0) + 1
    return counts


def assert_clean(text: str) -> None:
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text), text[:80]
    assert not any(unicodedata.category(ch) == "Cc" for ch in text), text[:80]
    assert not any(ch in BIDI_CONTROLS for ch in text), text[:80]
    assert unicodedata.is_normalized("NFC", text)


def test_hostile_strings_are_cleaned_in_the_database_and_the_site(
    unsplash: UnsplashImitation, settings_for: Any
) -> None:
    settings = settings_for(unsplash_per_page=30)
    hostile = {
        "surrogate": {"description": "a lone \ud800 surrogate", "name": "Ana \udfff"},
        "nul": {"alt_description": "NUL\x00inside\x07bell\x9fC1", "name": "Bo\x00b"},
        "crlf": {"description": "line\r\nSet-Cookie: session=stolen", "name": "Cy\r\nX-Evil: 1"},
        "bidi": {"description": "\u202egnp.exe\u202c file", "name": "\u202eDee\u2066\u2069"},
        "long": {
            "description": "d" * 10_000,
            "alt_description": "a" * 10_000,
            "name": "n" * 10_000,
        },
    }
    photos = []
    for i, (photo_id, fields) in enumerate(hostile.items()):
        item = unsplash.photo(photo_id, promoted_at=at(0, 20 - i), likes=100 - i)
        item["user"]["name"] = fields.pop("name")
        item.update(fields)
        photos.append(item)
    photos.append(unsplash.photo("decomposed", promoted_at=at(0, 10), likes=50))
    photos[-1]["alt_description"] = "Cafe\u0301 au lait"  # NFD: é as e + combining accent
    unsplash.photos = [*photos, unsplash.photo("older", promoted_at=at(-1, 5))]

    result = materialize(settings_for(unsplash_per_page=30, photos_per_day=6))
    assert result.success, failure_of(result)
    rows = day_rows(settings)
    assert [r.source_id for r in rows] == [*hostile, "decomposed"]
    assert all(r.used for r in rows) and metadata_of(result)["photos"] == 6  # still K photos
    for row in rows:
        for column in TEXT_COLUMNS:
            assert_clean(getattr(row, column) or "")
        assert_clean(str(row.credit))
    by_id = {r.source_id: r for r in rows}
    assert by_id["surrogate"].title == "a lone surrogate"  # the description is the title
    assert by_id["surrogate"].photographer_name == "Ana"
    assert by_id["nul"].description == "NULinsidebellC1"
    assert by_id["crlf"].title == "line Set-Cookie: session=stolen"
    assert by_id["crlf"].photographer_name == "Cy X-Evil: 1"
    assert by_id["bidi"].photographer_name == "Dee"
    assert by_id["bidi"].title == "gnp.exe file"
    assert by_id["long"].description is not None and len(by_id["long"].description) == 1000
    assert by_id["long"].photographer_name == "n" * 100
    assert by_id["decomposed"].description == "Caf\u00e9 au lait"

    # The gallery as the pipeline builds it, with the allow-list entry as written
    # (http://127.0.0.1:PORT, a documented form): its CSP names that origin.
    built = dg.materialize([gallery_site], resources=build_resources(settings))
    assert built.success
    pages = [p for p in (settings.objects_dir / "site").rglob("*.html")]
    assert pages
    index = (settings.objects_dir / "site" / "index.html").read_text(encoding="utf-8")
    assert f"img-src &#39;self&#39; {unsplash.root_url};" in index
    html = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    assert_clean(html.replace("\n", " "))
    assert "Set-Cookie: session=stolen" in html  # shown as text on one line, never a header
    assert "<bdi>Dee</bdi>" in html  # names are isolated from the text around them


def test_k_beyond_the_calls_left_never_uses_a_photo_without_its_tracking(
    unsplash: UnsplashImitation, settings_for: Any
) -> None:
    on_day = [unsplash.photo(f"p{i}", promoted_at=at(0, 20 - i), likes=60 - i) for i in range(6)]
    unsplash.photos = [*on_day, unsplash.photo("older", promoted_at=at(-1, 5))]
    unsplash.ratelimit_remaining = 7  # the feed page leaves 6; the reserve keeps 2: 4 calls
    settings = settings_for(photos_per_day=6, unsplash_per_page=30)
    description, metadata = failure_of(materialize(settings))
    assert "2 photo(s) wait for a download-tracking call" in description
    assert (metadata["photos"], metadata["photos_waiting"]) == (4, 2)
    assert successful_tracking(unsplash) == {f"p{i}": 1 for i in range(4)}
    rows = day_rows(settings)
    assert [r.source_id for r in rows if r.used] == ["p0", "p1", "p2", "p3"]
    assert all(r.download_tracked_at is not None for r in rows)  # nothing stored untracked

    unsplash.ratelimit_remaining = 50  # the next hour
    result = materialize(settings)
    assert result.success
    assert successful_tracking(unsplash) == {f"p{i}": 1 for i in range(6)}
    assert metadata_of(result)["photos"] == 6
    assert all(r.used for r in day_rows(settings))


@pytest.mark.slow
def test_tracking_that_fails_for_three_runs_then_recovers_is_made_once(
    unsplash: UnsplashImitation, settings_for: Any
) -> None:
    from testbed.unsplash_server import standard_feed

    standard_feed(unsplash)
    settings = settings_for()
    for run in (1, 2, 3):  # the tracking endpoint answers 500 for three whole runs
        unsplash.clear()
        unsplash.fail("download", "error_json", times=100)
        description, metadata = failure_of(materialize(settings))
        assert "4 stored photo(s) wait for their download tracking" in description
        assert (metadata["photos"], metadata["photos_untracked"]) == (0, 4)
        # One try per photo per run; after the first run the feed is not listed again.
        assert sorted(r.path for r in unsplash.api_requests() if "download" in r.path) == [
            f"/photos/{p}/download" for p in "bcdf"
        ]
        assert len(unsplash.requests_for("feed")) == (2 if run == 1 else 0)
        assert successful_tracking(unsplash) == {}
    unsplash.clear()
    result = materialize(settings)
    assert result.success and metadata_of(result)["photos"] == 4
    assert successful_tracking(unsplash) == {"d": 1, "b": 1, "f": 1, "c": 1}
    assert len(unsplash.api_requests()) == 4
    rows = day_rows(settings)
    assert all(r.used and r.tracking_error is None for r in rows)

    unsplash.clear()
    assert materialize(settings).success
    assert unsplash.requests == []  # done: nothing more is ever asked


@pytest.mark.slow
def test_tracking_that_never_recovers_stops_at_the_bound_and_says_so(
    unsplash: UnsplashImitation, settings_for: Any
) -> None:
    from testbed.unsplash_server import standard_feed

    standard_feed(unsplash)
    settings = settings_for()
    unsplash.fail("download", "error_json", times=100, photo_id="b")
    for _run in range(TRACKING_ATTEMPTS - 1):
        assert not materialize(settings).success
    result = materialize(settings)  # the last try fails: b is given up, the day says so
    assert result.success
    assert len(unsplash.requests_for("download", "b")) == TRACKING_ATTEMPTS
    metadata = metadata_of(result)
    assert (metadata["photos"], metadata["photos_untracked"]) == (3, 0)
    [b] = [r for r in day_rows(settings) if r.source_id == "b"]
    assert b.status == "untracked" and not b.used
    assert b.error and b.error.startswith(f"download tracking failed {TRACKING_ATTEMPTS} times")

    unsplash.clear()
    assert materialize(settings).success
    assert unsplash.requests == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty", "no photos found in"),
        ("bad-json", "cannot read the credits file"),
        ("not-utf8", "cannot read the credits file"),
    ],
)
def test_configuration_errors_stop_with_one_line_and_no_retry(
    tmp_path: Path, setup: str, message: str
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    if setup == "bad-json":
        (folder / "photos.json").write_text('[{"id": "a", "file": ', encoding="utf-8")
    elif setup == "not-utf8":
        (folder / "photos.json").write_bytes(b"\xff\xfe[]")
    settings = migrated(load_settings(_env_file=None, data_dir=tmp_path / "data",
                                      source="folder", folder=folder))  # fmt: skip
    result = dg.materialize(
        [unsplash_images], partition_key=DAY, resources=build_resources(settings),
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len([e for e in result.all_events if e.is_step_failure]) == 1
    assert retries == []
    line = failure_reason(result)
    assert needs_a_setting(result)  # a setting to fix: `doppel run` exits 2
    assert message in line and "\n" not in line
    assert "Traceback" not in line and "Exceeded max_retries" not in line
    assert line == f"failed at unsplash_images: {line.split(': ', 1)[1]}" and "dagster." not in line


def test_an_empty_folder_setting_is_one_line_not_the_current_directory(tmp_path: Path) -> None:
    from pipeline.lib.settings import SettingsError

    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, data_dir=tmp_path, source="folder", folder="")
    assert "needs DOPPEL_FOLDER to name a folder of photos" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_photo_whose_row_the_database_refuses_fails_alone(
    unsplash: UnsplashImitation, settings_for: Any
) -> None:
    from testbed.unsplash_server import standard_feed

    standard_feed(unsplash)
    [b] = [p for p in unsplash.photos if p["id"] == "b"]
    b["likes"] = 10**30  # fits JSON, fits no integer column of either database
    settings = settings_for()
    result = materialize(settings)
    assert result.success
    rows = {r.source_id: r for r in day_rows(settings)}
    assert rows["b"].status == "failed" and not rows["b"].used
    error = rows["b"].error or ""
    assert "\n" not in error and ("integer" in error.lower() or "too large" in error)
    assert [p for p, r in rows.items() if r.used] == ["d", "f", "c"]
    assert (metadata_of(result)["photos"], metadata_of(result)["photos_failed"]) == (3, 1)
    assert unsplash.requests_for("download", "b") == []  # not used, so not tracked


def test_a_day_keeps_its_source_until_redone_and_every_total_agrees(
    tmp_path: Path, database_url: str | None
) -> None:
    from datetime import date

    from pipeline.lib.db import Database
    from testbed.unsplash_server import tiny_jpeg

    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("one", "two", "three", "four"):
        (folder / f"{name}.jpg").write_bytes(tiny_jpeg(name))
    common: dict[str, Any] = {"data_dir": tmp_path / "data", "photos_per_day": 3,
                              "database_url": database_url}  # fmt: skip
    samples = migrated(load_settings(_env_file=None, source="samples", **common))
    mine = load_settings(_env_file=None, source="folder", folder=folder, **common)

    def run(settings: DoppelSettings) -> None:
        result = dg.materialize(
            [unsplash_images], partition_key=DAY, resources=build_resources(settings),
            raise_on_error=False,
        )  # fmt: skip
        assert result.success

    def totals() -> tuple[str | None, int, int, int]:
        db = Database(samples.resolved_database_url)
        [status] = [d for d in day_status(db) if d["day"] == DAY]
        source = db.day_source(date.fromisoformat(DAY))
        db.dispose()
        store = LocalObjectStore(samples.objects_dir)
        table = store.get(f"tables/unsplash_images/{DAY}.json").decode()
        build_site(store, tables=DAY_TABLES)
        index = (samples.objects_dir / "site" / "index.html").read_text(encoding="utf-8")
        shown = int(index.split(f'id="d-{DAY}"', 1)[1].split('class="muted">', 1)[1].split()[0])
        return source, status["photos"], table.count('"status": "stored"'), shown

    run(samples)
    assert totals() == ("samples", 3, 3, 3)
    run(mine)  # a change of source applies to days not yet collected
    assert totals() == ("samples", 3, 3, 3)

    db = Database(mine.resolved_database_url)
    assert db.set_day_source(date.fromisoformat(DAY), "folder") == "samples"  # `doppel redo`
    db.dispose()
    run(mine)
    assert totals() == ("folder", 3, 3, 3)
    db = Database(mine.resolved_database_url)
    kept = db.photos_of_day(date.fromisoformat(DAY), "samples")
    db.dispose()
    assert len(kept) == 3 and all(r.used for r in kept)  # nothing stored is lost


def test_a_backfill_13_days_back_behind_600_newer_photos_stays_within_the_budget(
    unsplash: UnsplashImitation, settings_for: Any
) -> None:
    newer = [
        unsplash.photo(f"n{day}-{i}", promoted_at=at(day, 23 - i * 0.4), likes=999)
        for day in range(13, 0, -1)
        for i in range(48)
    ]  # 13 later days of 48 promotions each: 624 photos, newest first
    likes = [7, 40, 3, 25, 90, 12, 33, 5]
    on_day = [unsplash.photo(f"d{i}", promoted_at=at(0, 22 - i * 2), likes=n)
              for i, n in enumerate(likes)]  # fmt: skip
    older = [unsplash.photo(f"o{i}", promoted_at=at(-1, 23 - i * 0.3), likes=999)
             for i in range(60)]  # fmt: skip
    unsplash.photos = [*newer, *on_day, *older]
    assert len(newer) >= 600
    settings = settings_for(unsplash_per_page=30, unsplash_call_budget=20, unsplash_max_pages=10)

    result = materialize(settings)
    assert result.success, failure_of(result)
    rows = day_rows(settings)
    assert [r.source_id for r in rows] == ["d4", "d1", "d6", "d3"]  # the day's top 4 by likes
    feed = unsplash.requests_for("feed")
    pages = -(-len(unsplash.photos) // 30)  # 24 pages; walking would need 21 to reach the day
    assert len(feed) <= 1 + (pages - 1).bit_length() + 1  # page 1, the bisection, the day
    assert len(unsplash.api_requests()) == len(feed) + 4 <= 20
    assert metadata_of(result)["unsplash_day_complete"] is True
