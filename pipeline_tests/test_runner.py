"""What `doppel run`'s summary tells the user to run next names the `doppel` that ran, from
wherever it is installed (pipeline_tests/test_wheel.py: a venv outside any checkout)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.lib.settings import load_settings
from pipeline.runner import RunReport, doppel_command

BESIDE = Path(sys.executable).parent / "doppel"  # `make install`'s console script


def test_a_doppel_not_on_path_is_named_by_its_full_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert BESIDE.is_file()
    monkeypatch.setenv("PATH", str(tmp_path))  # no doppel there
    assert doppel_command() == str(BESIDE)
    # Not a checkout's relative path: it works from any folder.
    assert Path(doppel_command()).is_absolute()


def test_the_doppel_path_finds_is_named_bare(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(BESIDE.parent))
    assert doppel_command() == "doppel"


def test_another_doppel_first_on_path_is_not_taken_for_this_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "doppel"
    other.write_text("#!/bin/sh\n")
    other.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{BESIDE.parent}")
    assert doppel_command() == str(BESIDE)


def test_the_summary_shows_a_database_server_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://doppel:s3cret-pw@db.example:5432/doppel"
    settings = load_settings(_env_file=None, database_url=url, data_dir=tmp_path)
    [line] = [x for x in RunReport(settings, str(tmp_path)).lines() if x.startswith("database:")]
    assert "s3cret-pw" not in line
    assert line.endswith("doppel:***@db.example:5432/doppel")
