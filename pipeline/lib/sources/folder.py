"""Photos from a folder on disk; the bundled CC0 / public-domain samples are one such folder.

A folder may hold a `photos.json` with credits (id, file, description, photographer,
licence, source_url); otherwise every image file is used with its file name as the id.
Each day takes `count` photos, chosen deterministically so that neighbouring days differ.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.lib.sources import PhotoFetchError, SourcePhoto

SAMPLE_PHOTOS_DIR = Path(__file__).parent / "sample_photos"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MAX_FILE_BYTES = 50 * 1024 * 1024


class FolderSource:
    def __init__(self, folder: str | Path, *, name: str = "folder"):
        self.folder = Path(folder)
        self.name = name
        self._entries = _read_entries(self.folder)
        if not self._entries:
            raise ValueError(f"no photos found in {self.folder}: add images or a photos.json")
        # A fixed shuffle, then a window that slides by `count` each day: neighbouring days
        # differ, every photo comes round, and the choice never depends on the clock.
        self._order = sorted(self._entries, key=lambda e: e["id"])
        random.Random(20261128).shuffle(self._order)

    def day_photos(self, day: date, count: int) -> list[SourcePhoto]:
        n = len(self._order)
        start = (day.toordinal() * count) % n
        chosen = [self._order[(start + i) % n] for i in range(min(count, n))]
        return [self._photo(entry, day, rank) for rank, entry in enumerate(chosen, start=1)]

    def fetch_image(self, photo: SourcePhoto) -> bytes:
        path = self.folder / photo.image_ref
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise PhotoFetchError(f"{path.name} is over {MAX_FILE_BYTES >> 20} MB")
            return path.read_bytes()
        except OSError as exc:
            raise PhotoFetchError(f"cannot read {path.name}: {exc.strerror or exc}") from None

    def track_use(self, photo: SourcePhoto) -> None:
        """Local files need no download tracking."""

    def _photo(self, entry: dict[str, Any], day: date, rank: int) -> SourcePhoto:
        # The same file may be chosen on several days; each day's use is its own record,
        # while the stored bytes are shared (originals are keyed by content hash).
        return SourcePhoto(
            source=self.name,
            source_id=f"{day.isoformat()}/{entry['id']}",
            rank=rank,
            image_ref=entry["file"],
            title=entry.get("title") or entry["id"].replace("-", " ").replace("_", " "),
            description=entry.get("description"),
            width=entry.get("width"),
            height=entry.get("height"),
            photographer_name=entry.get("photographer"),
            page_url=entry.get("source_url"),
            license=entry.get("license"),
            credit={"photo_id": entry["id"]},
        )


def sample_source() -> FolderSource:
    """The photos bundled with Doppel (credits and licences in their photos.json)."""
    return FolderSource(SAMPLE_PHOTOS_DIR, name="samples")


def _read_entries(folder: Path) -> list[dict[str, Any]]:
    manifest = folder / "photos.json"
    if manifest.is_file():
        entries = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and "id" in e and "file" in e for e in entries
        ):
            raise ValueError(f"{manifest} must be a list of objects with 'id' and 'file'")
        return entries
    return [
        {"id": path.stem, "file": path.name}
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]
