"""The code location loads as Dagster itself loads it, with the embedded default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.definitions import build_definitions
from pipeline.lib.settings import DoppelSettings

REPO = Path(__file__).resolve().parents[1]


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


def test_definitions_hold_the_pipeline(local_settings: DoppelSettings) -> None:
    defs = build_definitions(local_settings)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"unsplash_images", "generated_images"} <= keys
    job = defs.resolve_job_def("daily_images_job")
    assert job.partitions_def is not None


def test_unbuilt_real_backend_fails_loading_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOPPEL_")}
    env |= {"DOPPEL_DATA_DIR": str(tmp_path), "DOPPEL_SOURCE": "unsplash"}
    env.pop("UNSPLASH_ACCESS_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", "import pipeline.definitions as d; d.defs()"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "needs UNSPLASH_ACCESS_KEY" in result.stderr
