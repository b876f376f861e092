"""The code location loads as Dagster itself loads it, with the embedded default."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipeline.definitions import build_definitions
from pipeline.defs.assets import daily_assets
from pipeline.defs.limits import API_STEP_RETRY
from pipeline.lib.orchestration.instance import LOCAL_INSTANCE_YAML
from pipeline.lib.settings import DoppelSettings, SettingsError, load_settings
from pipeline_tests.fixtures.assets import TEST_PARTITIONS

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_dagster_definitions_validate(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env |= {"DOPPEL_DATA_DIR": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "pipeline.definitions"],
        cwd=tmp_path,  # no .env from the developer's checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr
    # Loading only checks the database's schema, says what to run, and creates nothing.
    database = tmp_path / "data" / "doppel.db"
    assert (
        f"doppel: the database sqlite {database} has no Doppel tables yet: run `doppel migrate`"
    ) in result.stderr.splitlines()
    assert not database.exists()


def test_definitions_hold_the_pipeline(local_settings: DoppelSettings) -> None:
    defs = build_definitions(local_settings)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"unsplash_images", "generated_images"} <= keys
    job = defs.resolve_job_def("daily_images_job")
    assert job.partitions_def is not None


def test_the_daily_assets_take_their_start_and_step_retry_from_the_definitions(
    local_settings: DoppelSettings,
) -> None:
    settings = local_settings.model_copy(update={"start_date": date(2026, 11, 20)})
    defs = build_definitions(settings)
    for name in ("unsplash_images", "generated_images"):
        asset = defs.get_assets_def(name)
        assert asset.op.retry_policy == API_STEP_RETRY  # production: blips are retried
        assert asset.partitions_def is not None
        assert asset.partitions_def.get_first_partition_key() == "2026-11-20"
    job = defs.resolve_job_def("daily_images_job")
    assert job.partitions_def is not None
    assert job.partitions_def.get_first_partition_key() == "2026-11-20"
    # One attempt per run is asked for by building the assets so, not by patching them.
    assert [a.op.retry_policy for a in daily_assets(TEST_PARTITIONS, step_retry=None)] == [
        None,
        None,
    ]


@pytest.mark.slow
def test_a_malformed_start_date_is_a_settings_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOPPEL_START_DATE", "2026-13-01")
    with pytest.raises(SettingsError, match="DOPPEL_START_DATE"):
        load_settings(_env_file=None)
    # Importing the wiring reads nothing from the environment (the settings do, once).
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    result = subprocess.run(
        [sys.executable, "-c", "import pipeline.defs.sensors, pipeline.defs.assets"],
        env=env | {"DOPPEL_START_DATE": "not a date"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_unbuilt_real_backend_fails_loading_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env |= {"DOPPEL_DATA_DIR": str(tmp_path), "DOPPEL_SOURCE": "unsplash"}
    env.pop("UNSPLASH_ACCESS_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", "import pipeline.definitions as d; d.defs()"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "needs UNSPLASH_ACCESS_KEY" in result.stderr


# In a fresh interpreter, as a code server loads them: what changed in the process.
LOAD_AND_REPORT = """
import json, logging, os
factory = logging.getLogRecordFactory()
import dagster as dg
import pipeline.definitions
dg.Definitions.validate_loadable(pipeline.definitions.defs())
print(json.dumps({
    "record_factory_replaced": logging.getLogRecordFactory() is not factory,
    "handlers": [h.name for n in ("pipeline", "doppel") for h in logging.getLogger(n).handlers],
    "DOPPEL_SOURCE": os.environ.get("DOPPEL_SOURCE"),
}))
"""


def tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.slow  # a fresh interpreter: the import is what is tested
def test_loading_the_definitions_writes_nothing_reads_no_dotenv_configures_no_logging(
    tmp_path: Path,
) -> None:
    cwd, home, data = tmp_path / "cwd", tmp_path / "home", tmp_path / "data"
    for folder in (cwd, home, data):
        folder.mkdir()
    # A local instance with no first day recorded yet (loading used to record one)...
    shutil.copy(LOCAL_INSTANCE_YAML, home / "dagster.yaml")
    # ...and a .env that, read, would ask for Unsplash without a key and fail the load.
    (cwd / ".env").write_text("DOPPEL_SOURCE=unsplash\n")
    before = tree(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOPPEL_", "DAGSTER_"))}
    env |= {"DAGSTER_HOME": str(home), "DOPPEL_DATA_DIR": str(data)}
    env.pop("UNSPLASH_ACCESS_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_REPORT],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"record_factory_replaced": False, "handlers": [], "DOPPEL_SOURCE": None}
    assert tree(tmp_path) == before  # nothing written in cwd, DAGSTER_HOME or the data dir
