"""The `doppel` command as a user runs it: the installed console script, in a fresh folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DOPPEL = str(Path(sys.executable).parent / "doppel")


def doppel(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DOPPEL_", "DAGSTER_"))}
    return subprocess.run(
        [DOPPEL, *args],
        cwd=cwd,
        env=base | {"DAGSTER_HOME": str(cwd / ".dagster_home")} | env,
        capture_output=True,
        text=True,
        timeout=300,
    )


# A small working size keeps this quick; `make run` uses the defaults.
SMALL = {"DOPPEL_WORK_SIZE": "64", "DOPPEL_OUTPUT_SIZE": "96", "DOPPEL_PHOTOS_PER_DAY": "2"}
# One worker takes the whole module, so the first `doppel run` below is made once.
pytestmark = pytest.mark.xdist_group("test_cli")


@dataclass
class FirstRun:
    folder: Path
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> FirstRun:
    """`doppel run --days 3` in a new folder, as `make run` does for a new user."""
    folder = tmp_path_factory.mktemp("first-run")
    # As after a `make dev` on its own: the local instance already starts at yesterday.
    assert doppel("instance", "init", cwd=folder).returncode == 0
    assert doppel("status", cwd=folder).returncode == 0
    assert (folder / ".dagster_home" / "doppel_first_day").is_file()
    return FirstRun(folder, doppel("run", "--days", "3", cwd=folder, **SMALL))


def copy_of(run: FirstRun, tmp_path: Path) -> Path:
    """A private copy of the first run's folder (database, images, Dagster instance)."""
    shutil.copytree(run.folder, tmp_path / "copy")
    return tmp_path / "copy"


@pytest.mark.slow  # two whole `doppel run`s in a subprocess
def test_run_twice_makes_three_days_then_nothing_new(first_run: FirstRun, tmp_path: Path) -> None:
    first = first_run.result
    assert first.returncode == 0, first.stdout + first.stderr
    assert "new look-alikes this run: 6" in first.stdout
    folder = copy_of(first_run, tmp_path)
    # ...and ends by printing the gallery's local index.html, built from those days.
    index = (first_run.folder / "data" / "objects" / "site" / "index.html").resolve()
    assert first.stdout.strip().splitlines()[-1] == f"gallery:         {index}"
    assert index.is_file() and "gallery build: ok" in first.stdout
    status = json.loads(doppel("status", "--json", cwd=folder).stdout)
    assert len(status["days"]) == 3
    assert all(d["photos"] == 2 and d["generated_succeeded"] == 2 for d in status["days"])
    # The local instance's partitions start at the first of those days (what `make dev` shows).
    first_day = (folder / ".dagster_home" / "doppel_first_day").read_text().strip()
    assert first_day == min(d["day"] for d in status["days"])

    second = doppel("run", "--days", "3", cwd=folder, **SMALL)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "new look-alikes this run: 0" in second.stdout
    assert json.loads(doppel("status", "--json", cwd=folder).stdout) == status
    # The runs went into the persistent local instance that `make dev` opens.
    assert (folder / ".dagster_home" / "dagster.yaml").is_file()
    assert any((folder / ".dagster_home").rglob("*.db"))


@pytest.mark.slow
def test_status_json_on_an_empty_database(tmp_path: Path) -> None:
    result = doppel("status", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"days": []}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DOPPEL_SOURCE": "unsplash"}, "needs UNSPLASH_ACCESS_KEY"),
        ({"DOPPEL_PHOTOS_PER_DAY": "lots"}, "DOPPEL_PHOTOS_PER_DAY"),
    ],
)
def test_bad_settings_are_one_line_without_traceback(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    result = doppel("status", cwd=tmp_path, **env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_dotenv_in_the_working_folder_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DOPPEL_DATA_DIR={tmp_path / 'from-env'}\n")
    assert doppel("db", "upgrade", cwd=tmp_path).returncode == 0
    assert (tmp_path / "from-env" / "doppel.db").is_file()


@pytest.mark.slow
def test_redo_hands_a_day_to_the_configured_source(first_run: FirstRun, tmp_path: Path) -> None:
    from testbed.unsplash_server import tiny_jpeg

    assert first_run.result.returncode == 0, first_run.result.stdout + first_run.result.stderr
    folder = copy_of(first_run, tmp_path)
    mine_folder = tmp_path / "mine"
    mine_folder.mkdir()
    for name in ("one", "two"):
        (mine_folder / f"{name}.jpg").write_bytes(tiny_jpeg(name, (96, 64)))
    day, *others = json.loads(doppel("status", "--json", cwd=folder).stdout)["days"]

    mine = SMALL | {"DOPPEL_SOURCE": "folder", "DOPPEL_FOLDER": str(mine_folder)}
    bad = doppel("redo", "2026-13-01", cwd=folder, **mine)
    assert bad.returncode == 2 and "is not a day" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0

    # (A plain run with the new source keeps the day: test_hostile_sources shows it.)
    redo = doppel("redo", day["day"], cwd=folder, **mine)
    assert redo.returncode == 0, redo.stdout + redo.stderr
    assert f"{day['day']}: source samples -> folder" in redo.stdout
    after, *others_after = json.loads(doppel("status", "--json", cwd=folder).stdout)["days"]
    assert (after["day"], after["photos"], after["generated_succeeded"]) == (day["day"], 2, 2)
    assert others_after == others  # the other days are left as they were


@pytest.mark.slow  # a `doppel status` process
def test_status_sets_aside_look_alikes_waiting_on_a_generator_out_of_the_lineup(
    tmp_path: Path,
) -> None:
    from datetime import UTC, date, datetime

    from pipeline.lib.db import Database, LookAlike, Photo
    from pipeline.lib.settings import load_settings

    day = date(2026, 11, 20)
    settings = load_settings(_env_file=None, data_dir=tmp_path / "data")
    db = Database(settings.resolved_database_url)
    db.upgrade()
    with db.session() as session:
        photo = Photo(source="samples", source_id="p", day=day, rank=0, status="stored",
                      download_tracked_at=datetime(2026, 11, 21, tzinfo=UTC))  # fmt: skip
        session.add(photo)
        session.flush()
        for generator, status in (("patch-remix", "succeeded"), ("img2img", "waiting")):
            session.add(LookAlike(photo_id=photo.id, status=status, generator=generator))
    db.claim_day(day, "samples")
    db.dispose()

    lines = {
        lineup: doppel("status", cwd=tmp_path, DOPPEL_GENERATORS=lineup).stdout.strip()
        for lineup in ("patch-remix", "patch-remix,img2img")
    }
    assert lines == {
        "patch-remix": "2026-11-20: 1 photos, 1 look-alikes, 0 failed, 1 waiting on a "
        "generator no longer in the lineup",
        "patch-remix,img2img": "2026-11-20: 1 photos, 1 look-alikes, 1 failed",
    }
