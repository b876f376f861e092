"""`doppel gallery`: the gallery built from the stored day tables by a process that never
imports Dagster (nor do its render workers), publishing what the `gallery_site` asset does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.defs.keys import LOOK_ALIKES_KEY, PHOTOS_KEY, table_folder
from pipeline.defs.names import DAY_TABLES
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.site.publish import MANIFEST_PATH
from pipeline_tests.fixtures.small_days import write_day

REPO = Path(__file__).resolve().parents[2]
# What a build into a folder from SQLite settings never uses (issue 28: a one-day build as
# a fresh process in 1 s), each a large import.
UNUSED_BY_A_LOCAL_BUILD = ("dagster", "dagster_aws", "pandas", "sqlalchemy", "openai", "boto3")


def imported_modules(importtime_stderr: str) -> set[str]:
    """Module names from `python -X importtime` lines ("import time: self | total | name")."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def doppel(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env |= {"DOPPEL_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pipeline.cli", *args],
        cwd=tmp_path,  # no .env of the checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_gallery_reads_the_tables_where_the_assets_write_them() -> None:
    assert (table_folder(PHOTOS_KEY), table_folder(LOOK_ALIKES_KEY)) == (
        DAY_TABLES.photos,
        DAY_TABLES.look_alikes,
    )


@pytest.mark.slow  # two fresh `doppel` processes, about 2.5 s on a quiet machine
def test_doppel_gallery_builds_the_site_without_importing_dagster(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "data" / "objects")
    for n, day in enumerate(("2026-11-19", "2026-11-20")):
        write_day(store, day, 2 * n + 1)

    done = doppel(tmp_path, "gallery")

    assert done.returncode == 0, done.stderr[-2000:]
    assert "gallery: 2 days, 4 pairs" in done.stdout
    site = tmp_path / "data" / "objects" / "site"
    assert (site / "index.html").is_file() and (site / MANIFEST_PATH).is_file()
    assert (site / "pairs" / "2026-11-20" / "03-photo-3.html").is_file()
    modules = imported_modules(done.stderr)
    assert "pipeline.lib.site.build" in modules  # the importtime lines were read
    # Nor pandas: only a findings table (none here) needs it. Nor SQLAlchemy: the site's lock
    # beside a SQLite file is a file lock. Nor the generators' clients, nor boto3 (local store).
    assert not {m for m in modules if m.split(".")[0] in UNUSED_BY_A_LOCAL_BUILD}

    again = doppel(tmp_path, "gallery")
    assert again.returncode == 0 and "0 files written" in again.stdout


def fresh_imports(code: str) -> set[str]:
    """The modules a fresh interpreter imports to run `code`."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return imported_modules(done.stderr)


@pytest.mark.slow  # a fresh interpreter's imports: under 1 s quiet, seconds under load
def test_render_workers_import_no_dagster_nor_pandas(tmp_path: Path) -> None:
    """What a spawned render worker imports: the renderer, and the module of the work it is
    sent (`build.render_day`), each a fresh process's import."""
    code = "import pipeline.lib.site.render, pipeline.lib.site.build, pipeline.lib.site.gallery"
    modules = fresh_imports(code)
    assert "pipeline.lib.site.build" in modules
    assert not {m for m in modules if m.split(".")[0] in UNUSED_BY_A_LOCAL_BUILD}


def test_what_doppel_gallery_imports_to_build_stays_small() -> None:
    """The modules `doppel gallery` imports before it builds (the CLI, the settings, the
    site's lock, the builder), in one fresh interpreter: none of the large unused ones.
    About 0.55 s of CPU (seconds of wall time only on a loaded machine), so not marked slow."""
    code = (
        "import pipeline.cli, pipeline.lib.settings, pipeline.lib.db.locks, "
        "pipeline.lib.site.gallery, pipeline.defs.names"
    )
    modules = fresh_imports(code)
    assert {"pipeline.lib.settings", "pipeline.lib.site.build"} <= modules
    assert not {m for m in modules if m.split(".")[0] in UNUSED_BY_A_LOCAL_BUILD}
