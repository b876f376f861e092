"""The one gate for files read from a user's folder: every kind of name that could lead out of
it, and every kind of file that is not a regular one, is refused with its reason before
anything is opened; the folder source and the style folder both go through it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from pipeline.lib.core.local_files import FileRefused, LocalFolder
from pipeline.lib.generators.style_transfer.paint import style_pool
from pipeline.lib.generators.style_transfer.settings import StyleSettings
from pipeline.lib.sources import PhotoRefused
from pipeline.lib.sources.folder import FolderSource
from testbed.unsplash_server import tiny_jpeg

SECRET = b"outside-the-folder-secret"


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Path]:
    """`inside/` (the folder) beside `outside/` (a secret and a photo that must never be
    read), with every kind of entry that could lead out or block."""
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "photo.jpg").write_bytes(tiny_jpeg("outside", (64, 48)))
    (inside / "good.jpg").write_bytes(tiny_jpeg("good", (64, 48)))
    (inside / "sub").mkdir()
    (inside / "sub" / "nested.jpg").write_bytes(tiny_jpeg("nested", (64, 48)))
    (inside / ".hidden.jpg").write_bytes(tiny_jpeg("hidden", (64, 48)))
    (inside / "alias.jpg").symlink_to("good.jpg")  # a link that stays inside: fine
    (inside / "notes.jpg").symlink_to(outside / "secret.txt")
    (inside / "elsewhere.jpg").symlink_to(outside / "photo.jpg")
    (inside / "linked").symlink_to(outside, target_is_directory=True)
    (inside / "zero.jpg").symlink_to("/dev/zero")
    os.mkfifo(inside / "pipe.jpg")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(inside / "sock.jpg"))
    (inside / "folder.jpg").mkdir()
    yield inside


REFUSED = [
    ("notes.jpg", "resolves outside the folder"),
    ("elsewhere.jpg", "resolves outside the folder"),
    ("linked/photo.jpg", "resolves outside the folder"),
    ("zero.jpg", "resolves outside the folder"),
    ("pipe.jpg", "is a FIFO, not a regular file"),
    ("sock.jpg", "is a socket, not a regular file"),
    ("folder.jpg", "is a folder, not a regular file"),
    (".hidden.jpg", "is hidden"),
    ("sub/../../outside/photo.jpg", "goes up out of the folder"),
    ("../outside/photo.jpg", "goes up out of the folder"),
    ("{outside}/photo.jpg", "is an absolute path"),
    ("~/photo.jpg", "starts with ~"),
    ("%2e%2e/outside/photo.jpg", "is URL-encoded"),
    ("file:///etc/passwd", "is URL-encoded or a URL"),
    ("..\\outside\\photo.jpg", "is a Windows-style path"),
    ("C:/outside/photo.jpg", "is a Windows-style path"),
    ("", "is not a file name"),
    ("./", "is not a file name"),
]


@pytest.mark.parametrize(("name", "why"), REFUSED)
def test_every_way_out_is_refused_before_opening(layout: Path, name: str, why: str) -> None:
    name = name.format(outside=layout.parent / "outside")
    with pytest.raises(FileRefused, match=why) as refused:
        LocalFolder(layout).read(name, 1 << 20)  # a FIFO opened for reading would block
    message = str(refused.value)
    assert "\n" not in message and str(layout.parent / "outside") not in message.replace(name, "")


def test_files_inside_are_read_links_inside_included(layout: Path) -> None:
    folder = LocalFolder(layout)
    good = (layout / "good.jpg").read_bytes()
    assert folder.read("good.jpg", 1 << 20) == good
    assert folder.read("./alias.jpg", 1 << 20) == good
    assert folder.read("sub/nested.jpg", 1 << 20).startswith(b"\xff\xd8")
    with pytest.raises(FileRefused, match="over the 10-byte cap"):
        folder.read("good.jpg", 10)
    with pytest.raises(FileNotFoundError, match="no such file"):
        folder.read("missing.jpg", 1 << 20)


def test_a_scan_lists_regular_files_and_links_and_skips_the_rest(layout: Path) -> None:
    # Hidden names, the FIFO, the socket and the folder are not photos; links are listed
    # and judged when read (so a link out is recorded as refused, with its reason).
    assert LocalFolder(layout).files({".jpg"}) == [
        "alias.jpg", "elsewhere.jpg", "good.jpg", "notes.jpg", "zero.jpg",
    ]  # fmt: skip


def test_the_folder_source_records_a_refusal_and_reads_nothing_outside(layout: Path) -> None:
    source = FolderSource(layout)  # no photos.json: the folder's image files
    photos = {p.image_ref: p for p in source.day_photos(date(2026, 11, 20), 30)}
    assert sorted(photos) == ["alias.jpg", "elsewhere.jpg", "good.jpg", "notes.jpg", "zero.jpg"]
    assert source.fetch_image(photos["alias.jpg"]) == (layout / "good.jpg").read_bytes()
    for name in ("elsewhere.jpg", "notes.jpg", "zero.jpg"):
        with pytest.raises(PhotoRefused, match="resolves outside the folder"):
            source.fetch_image(photos[name])


def test_photos_json_itself_must_be_inside_the_folder(layout: Path) -> None:
    (layout.parent / "outside" / "photos.json").write_text('[{"id": "x", "file": "good.jpg"}]')
    (layout / "photos.json").symlink_to(layout.parent / "outside" / "photos.json")
    with pytest.raises(ValueError, match=r"photos\.json.*resolves outside the folder"):
        FolderSource(layout)
    (layout / "photos.json").unlink()
    os.mkfifo(layout / "photos.json")
    with pytest.raises(ValueError, match=r"photos\.json.*is a FIFO"):
        FolderSource(layout)


def test_the_style_folder_uses_the_same_rule(
    layout: Path, caplog: pytest.LogCaptureFixture
) -> None:
    styles = style_pool(StyleSettings(style_folder=layout))
    assert [s.key for s in styles] == ["picture:alias.jpg", "picture:good.jpg"]
    refused = [r.getMessage() for r in caplog.records if "style folder" in r.getMessage()]
    assert len(refused) == 3 and all("resolves outside the folder" in m for m in refused)
