"""`DOPPEL_SOURCE=folder` against a hostile folder, through the real `doppel run`: links that
lead out (to a file, a folder, a photo), a FIFO, a hidden file, and a photos.json naming
absolute, `..`, `~`, URL-encoded and Windows-style paths. The run ends 0, every good photo is
stored and drawn, each refused entry is recorded with its reason, and no byte from outside
the folder is in the store, the database, the logs or the gallery."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pipeline_tests.test_cli import DOPPEL, SMALL
from testbed.unsplash_server import tiny_jpeg

TEXT_MARKER = b"TEXT-FROM-OUTSIDE-7f3a"
PHOTO_MARKER = b"PHOTO-FROM-OUTSIDE-91c4"
GOOD = ("harbour", "meadow", "street")


def outside_photo() -> bytes:
    """A real photo with a marker in its JPEG comment: were it stored, the marker would be."""
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 30, 90)).save(buffer, "JPEG", comment=PHOTO_MARKER)
    return buffer.getvalue()


def hostile_folder(root: Path) -> tuple[Path, dict[str, str]]:
    """The folder, and each refused entry's id with the reason it must be recorded with."""
    inside, outside = root / "photos", root / "outside"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(TEXT_MARKER)
    (outside / "photo.jpg").write_bytes(outside_photo())
    (outside / "dir").mkdir()
    (outside / "dir" / "photo.jpg").write_bytes(outside_photo())
    for name in GOOD:
        (inside / f"{name}.jpg").write_bytes(tiny_jpeg(name, (96, 64)))
    (inside / ".hidden.jpg").write_bytes(outside_photo())  # inside, but hidden: not read
    (inside / "link-to-text.jpg").symlink_to(outside / "secret.txt")
    (inside / "link-to-photo.jpg").symlink_to(outside / "photo.jpg")
    (inside / "link-to-folder").symlink_to(outside / "dir", target_is_directory=True)
    os.mkfifo(inside / "fifo.jpg")  # opened for reading, it would block the run for ever
    refused = {
        "link-text": ("link-to-text.jpg", "resolves outside the folder"),
        "link-photo": ("link-to-photo.jpg", "resolves outside the folder"),
        "link-folder": ("link-to-folder/photo.jpg", "resolves outside the folder"),
        "fifo": ("fifo.jpg", "is a FIFO, not a regular file"),
        "hidden": (".hidden.jpg", "is hidden"),
        "absolute": (str(outside / "photo.jpg"), "is an absolute path"),
        "dotdot": ("../outside/photo.jpg", "goes up out of the folder"),
        "tilde": ("~/photo.jpg", "starts with ~"),
        "url-encoded": ("%2e%2e%2foutside%2fphoto.jpg", "is URL-encoded"),
        "windows": ("..\\outside\\photo.jpg", "is a Windows-style path"),
        "windows-drive": ("C:\\outside\\photo.jpg", "is a Windows-style path"),
    }
    entries = [{"id": name, "file": f"{name}.jpg", "license": "CC0"} for name in GOOD]
    entries += [{"id": key, "file": file} for key, (file, _) in refused.items()]
    (inside / "photos.json").write_text(json.dumps(entries))
    return inside, {key: why for key, (_, why) in refused.items()}


@pytest.mark.slow  # one whole `doppel run` in a subprocess
def test_doppel_run_reads_nothing_outside_the_folder(tmp_path: Path) -> None:
    folder, refused = hostile_folder(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOPPEL_", "DAGSTER_"))}
    env |= SMALL | {
        "DAGSTER_HOME": str(work / ".dagster_home"),
        "HOME": str(tmp_path / "outside"),  # where `~` would lead, were it expanded
        "DOPPEL_SOURCE": "folder",
        "DOPPEL_FOLDER": str(folder),
        "DOPPEL_PHOTOS_PER_DAY": str(len(GOOD) + len(refused)),  # every entry on one day
    }
    # A read of the FIFO would block: the timeout turns that into a failure, not a hang.
    run = subprocess.run([DOPPEL, "run", "--days", "1"], cwd=work, env=env,
                         capture_output=True, timeout=240)  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output.decode(errors="replace")[-3000:]

    db = sqlite3.connect(work / "data" / "doppel.db")
    photos = {
        source_id.split("/", 1)[1]: (status, error)
        for source_id, status, error in db.execute(
            "select source_id, status, error from inspiration_images"
        )
    }
    looks = db.execute("select count(*) from generated_images where status = 'succeeded'")
    assert {name: photos[name][0] for name in GOOD} == dict.fromkeys(GOOD, "stored")
    assert looks.fetchone() == (len(GOOD),)
    for key, why in refused.items():
        status, error = photos[key]
        assert status == "refused" and why in error and "\n" not in error, (key, error)
    db.close()

    # No byte from outside: not in the store (originals, look-alikes, tables, the gallery),
    # not in the database, not in Dagster's logs and events, not in what the run printed.
    assert (work / "data" / "objects" / "site" / "index.html").is_file()
    everything = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in everything) and len(everything) > 20
    for marker in (TEXT_MARKER, PHOTO_MARKER):
        assert marker not in output
        found = [p for p in everything if marker in p.read_bytes()]
        assert found == [], (marker, found)
    originals = list((work / "data" / "objects" / "originals").rglob("*.jpg"))
    assert len(originals) == len(GOOD)
