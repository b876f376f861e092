"""One photo fails alone, through the real `doppel run`: the day publishes every other
look-alike, says in one line what became of the photo, and the exit status tells a failure
for good (0: nothing left to do) from one that may pass (1: a later run makes it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from pipeline_tests.test_cli import SMALL, doppel
from pipeline_tests.test_openai_generated_images import EDITS, small_photos
from testbed.openai_server import TEST_API_KEY, OpenAIImitation

pytestmark = pytest.mark.slow  # each `doppel run` is a process: 10-20 s


def the_day(folder: Path) -> str:
    [day] = json.loads(doppel("status", "--json", cwd=folder).stdout)["days"]
    return str(day["day"])


def day_page(folder: Path, day: str) -> str:
    return (folder / "data" / "objects" / "site" / "days" / f"{day}.html").read_text()


def test_a_photo_the_generator_cannot_take_fails_alone_and_the_run_exits_0(
    tmp_path: Path,
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.linear_gradient("L").resize((96, 64)).convert("RGB").save(photos / "harbour.jpg")
    # A 20:1 panorama is made; a 69:1 thread is more than an offline generator takes.
    for name, size in (("panorama", (640, 32)), ("thread", (2200, 32))):
        Image.linear_gradient("L").rotate(90).resize(size).convert("RGB").save(
            photos / f"{name}.png"
        )
    env = SMALL | {"DOPPEL_PHOTOS_PER_DAY": "3", "DOPPEL_SOURCE": "folder",
                   "DOPPEL_FOLDER": str(photos)}  # fmt: skip

    run = doppel("run", "--days", "1", cwd=tmp_path, **env)
    assert run.returncode == 0, run.stdout + run.stderr
    day = the_day(tmp_path)
    reason = (
        "patch remix: the image is 2200×32 px, 69:1; the offline generators take photos up to 64:1"
    )
    assert f"{day}: 2 of 3 look-alikes; 1 failed: thread ({reason})" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    page = day_page(tmp_path, day)
    assert "3 photos, 2 look-alikes, 1 failed" in page and f"Failed: {reason}" in page


def test_a_photo_waiting_for_a_retry_exits_1_and_the_next_run_makes_only_it(
    tmp_path: Path,
) -> None:
    with OpenAIImitation() as server:
        env = {
            "OPENAI_API_KEY": TEST_API_KEY,
            "DOPPEL_SOURCE": "folder",
            "DOPPEL_FOLDER": str(small_photos(tmp_path / "photos")),
            "DOPPEL_PHOTOS_PER_DAY": "4",
            "DOPPEL_GENERATOR": "openai",
            "DOPPEL_OPENAI_BASE_URL": server.base_url,
            "DOPPEL_OPENAI_SIZE": "128x128",
            "DOPPEL_OPENAI_QUALITY": "low",
            "DOPPEL_OPENAI_MAX_RETRIES": "1",
        }

        def lake(request: object) -> bool:
            return "a lake." in getattr(request, "params", {}).get("prompt", "")

        server.add_fault("server_error", times=2, when=lake)  # both tries of one photo
        first = doppel("run", "--days", "1", cwd=tmp_path, **env)
        assert first.returncode == 1, first.stdout + first.stderr
        day = the_day(tmp_path)
        assert f"{day}: 3 of 4 look-alikes; 1 waiting for a retry: lake (OpenAI" in first.stdout
        assert "3 look-alikes, 1 waiting for a retry" in day_page(tmp_path, day)

        server.clear()
        second = doppel("run", "--days", "1", cwd=tmp_path, **env)
        assert second.returncode == 0, second.stdout + second.stderr
        assert f"{day}: 4 of 4 look-alikes" in second.stdout
        assert [lake(r) for r in server.requests_to(EDITS)] == [True]  # only that photo
        assert "4 look-alikes" in day_page(tmp_path, day)
