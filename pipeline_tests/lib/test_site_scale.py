"""A long history built incrementally: a new day or a changed old day reads the tables and
manifest parts of the months it touches, not the whole history, and leaves the same site, file
for file, as a build from scratch."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore, ObjectStore
from pipeline.lib.day.tables import LOOK_ALIKES, PHOTOS, decode_table, encode_table, table
from pipeline.lib.site import build_site
from pipeline.lib.site.pages.days import INDEX_DAYS
from pipeline.lib.site.publish import MANIFEST_PATH, month_manifest_path
from pipeline_tests.fixtures.small_days import write_day

# Weekly days over more than 14 months: past the charts' day and week grains, so the
# stats page is drawn from the months' summaries.
SITE_URL = "https://doppel.example/"  # with a sitemap: its parts are by month too
DAYS = [(date(2024, 1, 1) + timedelta(days=7 * n)).isoformat() for n in range(64)]


class CountingStore:
    """A store that records the keys read and written."""

    def __init__(self, store: LocalObjectStore):
        self.store, self.got, self.put_keys = store, [], []  # type: list[str]

    def get(self, key: str) -> bytes:
        self.got.append(key)
        return self.store.get(key)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self.put_keys.append(key)
        self.store.put(key, data, content_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def site_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith("_doppel/")
    }


def from_scratch(data: ObjectStore, root: Path) -> dict[str, str]:
    build_site(
        data, tables=DAY_TABLES, out_store=LocalObjectStore(root), prefix="", site_url=SITE_URL
    )
    return site_files(root)


@pytest.mark.slow  # 64 days of tables and look-alikes, four builds: about 8 s
def test_a_new_day_and_a_changed_old_day_touch_only_their_months(tmp_path: Path) -> None:
    data = LocalObjectStore(tmp_path / "objects")
    for n, day in enumerate(DAYS[:-1]):
        write_day(data, day, 2 * n + 1)
    site = CountingStore(LocalObjectStore(tmp_path / "site"))
    reading = CountingStore(data)
    build_site(reading, tables=DAY_TABLES, out_store=site, prefix="", site_url=SITE_URL)

    write_day(data, DAYS[-1], 2 * len(DAYS) + 1)
    reading.got.clear()
    site.put_keys.clear()
    added = build_site(reading, tables=DAY_TABLES, out_store=site, prefix="", site_url=SITE_URL)

    assert added.days == len(DAYS) and added.pairs == 2 * len(DAYS)
    read_days = {Path(k).stem for k in reading.got if k.startswith("tables/")}
    # The new day, and the newest days the front page shows (the day before is one of them).
    assert read_days == set(DAYS[-INDEX_DAYS:])
    months = {d[:7] for d in DAYS[-INDEX_DAYS:]}
    written = {k for k in site.put_keys if k.startswith("_doppel/")}
    assert written == {MANIFEST_PATH} | {month_manifest_path(m) for m in months}
    assert site_files(tmp_path / "site") == from_scratch(data, tmp_path / "reference-1")

    # An old day's photos table is written again, changed: its month is built again.
    old_day = DAYS[5]
    photos = decode_table(data.get(DAY_TABLES.key(PHOTOS, old_day)), PHOTOS)
    rows = [row | {"title": "A new title"} for row in photos.rows]
    data.put(DAY_TABLES.key(PHOTOS, old_day), encode_table(table(PHOTOS, old_day, rows)))
    reading.got.clear()
    changed = build_site(reading, tables=DAY_TABLES, out_store=site, prefix="", site_url=SITE_URL)

    assert changed.files.written >= 3  # its pair pages and day page, at least
    read_days = {Path(k).stem for k in reading.got if k.startswith("tables/")}
    # ...its month's days (the month page shows them all) and the newest days.
    month = {d for d in DAYS if d[:7] == old_day[:7]}
    assert old_day in read_days and read_days <= month | set(DAYS[-INDEX_DAYS:])
    day_page = (tmp_path / "site" / "days" / f"{old_day}.html").read_text()
    assert "A new title" in day_page
    assert site_files(tmp_path / "site") == from_scratch(data, tmp_path / "reference-2")
    manifest = json.loads((tmp_path / "site" / MANIFEST_PATH).read_text())
    assert len(manifest["months"]) == len({d[:7] for d in DAYS})

    # An old day goes (its tables deleted): its pages go, its neighbours link past it.
    gone = DAYS[9]
    for schema in (PHOTOS, LOOK_ALIKES):
        data.delete(DAY_TABLES.key(schema, gone))
    removed = build_site(reading, tables=DAY_TABLES, out_store=site, prefix="", site_url=SITE_URL)
    assert removed.days == len(DAYS) - 1 and removed.files.deleted >= 3
    assert not (tmp_path / "site" / "days" / f"{gone}.html").exists()
    assert site_files(tmp_path / "site") == from_scratch(data, tmp_path / "reference-3")
