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

from pipeline.lib.sources import ListedPhoto, PhotoFetchError, SourceConfigError
from pipeline.lib.sources.text import clean_text

SAMPLE_PHOTOS_DIR = Path(__file__).parent / "sample_photos"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MAX_FILE_BYTES = 50 * 1024 * 1024


class FolderSource:
    def __init__(self, folder: str | Path, *, name: str = "folder"):
        self.folder = Path(folder)
        self.name = name
        if not str(folder).strip():
            raise SourceConfigError(
                "DOPPEL_FOLDER is empty: set it to a folder of photos, or use DOPPEL_SOURCE=samples"
            )
        if not self.folder.is_dir():
            raise SourceConfigError(f"the photo folder {self.folder} does not exist")
        self._entries = [_cleaned(entry) for entry in _read_entries(self.folder)]
        if not self._entries:
            raise SourceConfigError(
                f"no photos found in {self.folder}: add images or a photos.json"
            )
        # A fixed shuffle, then a window that slides by `count` each day: neighbouring days
        # differ, every photo comes round, and the choice never depends on the clock.
        self._order = sorted(self._entries, key=lambda e: e["id"])
        random.Random(20261128).shuffle(self._order)

    def day_photos(self, day: date, count: int) -> list[ListedPhoto]:
        n = len(self._order)
        start = (day.toordinal() * count) % n
        chosen = [self._order[(start + i) % n] for i in range(min(count, n))]
        return [self._photo(entry, day, rank) for rank, entry in enumerate(chosen, start=1)]

    def fetch_image(self, photo: ListedPhoto) -> bytes:
        path = self.folder / photo.image_ref
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise PhotoFetchError(f"{path.name} is over {MAX_FILE_BYTES >> 20} MB")
            return path.read_bytes()
        except OSError as exc:
            raise PhotoFetchError(f"cannot read {path.name}: {exc.strerror or exc}") from None

    def track_use(self, photo: ListedPhoto) -> None:
        """Local files need no download tracking."""

    def tracking_calls_left(self) -> int | None:
        return None

    def _photo(self, entry: dict[str, Any], day: date, rank: int) -> ListedPhoto:
        # The same file may be chosen on several days; each day's use is its own record,
        # while the stored bytes are shared (originals are keyed by content hash).
        return ListedPhoto(
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
        try:
            entries = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:200]
            raise SourceConfigError(f"cannot read the credits file {manifest}: {reason}") from None
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("file"), str)
            for e in entries
        ):
            raise SourceConfigError(f"{manifest} must be a list of objects with 'id' and 'file'")
        return entries
    try:
        paths = sorted(folder.iterdir())
    except OSError as exc:
        raise SourceConfigError(f"cannot read the photo folder {folder}: {exc.strerror}") from None
    return [
        {"id": path.stem, "file": path.name}
        for path in paths
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]


def _cleaned(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's text through the one cleaner; `file` stays as is, it only opens the file."""
    url = clean_text(entry.get("source_url"), 2048)
    return {
        "id": clean_text(entry["id"], 200) or clean_text(entry["file"], 200) or "photo",
        "file": entry["file"],
        "title": clean_text(entry.get("title"), 200),
        "description": clean_text(entry.get("description"), 1000),
        "photographer": clean_text(entry.get("photographer"), 100),
        "license": clean_text(entry.get("license"), 200),
        "source_url": url if url and url.startswith(("https://", "http://")) else None,
        "width": _int(entry.get("width")),
        "height": _int(entry.get("height")),
    }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
