from __future__ import annotations

import json
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from pipeline.lib.core.images import decode_image
from pipeline.lib.sources import PhotoFetchError
from pipeline.lib.sources.folder import SAMPLE_PHOTOS_DIR, FolderSource, sample_source


def test_bundled_samples_carry_credits_and_licences() -> None:
    entries = json.loads((SAMPLE_PHOTOS_DIR / "photos.json").read_text())
    assert len(entries) == 7
    for entry in entries:
        assert entry["license"] and entry["photographer"] and entry["source_url"]
        assert decode_image((SAMPLE_PHOTOS_DIR / entry["file"]).read_bytes()).size


def test_days_are_deterministic_and_neighbours_differ() -> None:
    source = sample_source()
    day = date(2026, 11, 20)
    first = [p.source_id for p in source.day_photos(day, 4)]
    assert first == [p.source_id for p in sample_source().day_photos(day, 4)]
    assert len(set(first)) == 4 and all(s.startswith("2026-11-20/") for s in first)
    ids = [{p.credit["photo_id"] for p in source.day_photos(day + timedelta(n), 4)}
           for n in range(7)]  # fmt: skip
    assert all(a != b for a, b in pairwise(ids))
    assert set().union(*ids) == {e["id"] for e in json.loads(
        (SAMPLE_PHOTOS_DIR / "photos.json").read_text())}  # fmt: skip


def test_count_is_capped_by_what_the_folder_has(tmp_path: Path) -> None:
    (tmp_path / "one.jpg").write_bytes((SAMPLE_PHOTOS_DIR / "coffee.jpg").read_bytes())
    (tmp_path / "notes.txt").write_text("not a photo")
    source = FolderSource(tmp_path)
    [photo] = source.day_photos(date(2026, 11, 20), 5)
    assert photo.credit == {"photo_id": "one"} and photo.rank == 1
    assert source.fetch_image(photo)[:2] == b"\xff\xd8"


def test_missing_file_is_a_per_photo_error(tmp_path: Path) -> None:
    (tmp_path / "photos.json").write_text(json.dumps([{"id": "gone", "file": "gone.jpg"}]))
    source = FolderSource(tmp_path)
    [photo] = source.day_photos(date(2026, 11, 20), 1)
    with pytest.raises(PhotoFetchError, match=r"cannot read 'gone\.jpg': no such file in"):
        source.fetch_image(photo)


def test_empty_or_malformed_folders_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no photos found"):
        FolderSource(tmp_path)
    (tmp_path / "photos.json").write_text('{"id": "x"}')
    with pytest.raises(ValueError, match="list of objects"):
        FolderSource(tmp_path)
