"""Photos from a folder on disk; the bundled CC0 / public-domain samples are one such folder.

A folder may hold a `photos.json` with credits (id, file, description, photographer,
licence, source_url); otherwise every image file is used with its file name as the id
(hidden names, FIFOs, devices and sub-folders are skipped). Each day takes `count` photos,
chosen deterministically so that neighbouring days differ.

Nothing outside the folder is read: every file, photos.json included, goes through
`pipeline.lib.core.local_files`, which refuses a name that is absolute, `~`, `..`,
Windows-style, URL-encoded, hidden, resolves outside the folder or is not a regular file,
before opening it. A refused photo is recorded as `refused` with that one-line reason.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.lib.core.local_files import FileRefused, LocalFolder
from pipeline.lib.sources import ListedPhoto, PhotoFetchError, PhotoRefused, SourceConfigError
from pipeline.lib.sources.text import clean_text

SAMPLE_PHOTOS_DIR = Path(__file__).parent / "sample_photos"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_CREDITS_BYTES = 5 * 1024 * 1024  # photos.json: thousands of entries fit in far less


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
        self._files = LocalFolder(self.folder)
        self._entries = [_cleaned(entry) for entry in _read_entries(self._files)]
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
        try:
            return self._files.read(photo.image_ref, MAX_FILE_BYTES)
        except FileRefused as exc:
            raise PhotoRefused(str(exc)) from None
        except OSError as exc:  # missing or unreadable: may be fixed, so tried again
            name = repr(photo.image_ref[:100])
            raise PhotoFetchError(f"cannot read {name}: {exc.strerror or exc}") from None

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


def _read_entries(files: LocalFolder) -> list[dict[str, Any]]:
    try:
        data = files.read("photos.json", MAX_CREDITS_BYTES)
    except FileNotFoundError:
        return _image_files(files)
    except (FileRefused, OSError) as exc:
        raise SourceConfigError(
            f"cannot read the credits file photos.json in {files.root}: "
            f"{getattr(exc, 'strerror', None) or exc}"
        ) from None
    manifest = files.root / "photos.json"
    try:
        entries = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise SourceConfigError(f"cannot read the credits file {manifest}: {reason}") from None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("file"), str)
        for e in entries
    ):
        raise SourceConfigError(f"{manifest} must be a list of objects with 'id' and 'file'")
    return entries


def _image_files(files: LocalFolder) -> list[dict[str, Any]]:
    try:
        names = files.files(IMAGE_SUFFIXES)
    except OSError as exc:
        raise SourceConfigError(
            f"cannot read the photo folder {files.root}: {exc.strerror}"
        ) from None
    return [{"id": Path(name).stem, "file": name} for name in names]


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
