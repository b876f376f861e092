"""Doppel installed from its wheel, as a user outside any checkout has it, makes a gallery.

The wheel is built offline (no build isolation: setuptools is a dev tool) from a copy of the
sources, and installed with `--no-deps` into a fresh venv that reuses this environment's
installed dependencies through a .pth file, so the test costs seconds, not an install."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What the wheel is built from (MANIFEST-free: setuptools takes what pyproject.toml lists).
SOURCES = ("pyproject.toml", "README.md", "pipeline", "site")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "_build")
SMALL = {"DOPPEL_WORK_SIZE": "64", "DOPPEL_OUTPUT_SIZE": "96", "DOPPEL_PHOTOS_PER_DAY": "1"}
LINKED = re.compile(r'(?:href|src)="([^"#?]+)"')


def run(*command: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=300, **kwargs
    )  # type: ignore[call-overload]
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=JUNK)
        else:
            shutil.copy(path, source / name)
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp_path, source)
    [wheel] = tmp_path.glob("doppel-*.whl")
    return wheel


def installed_venv(wheel: Path, tmp_path: Path) -> Path:
    """A new venv with the wheel alone installed; its dependencies are this environment's."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    [site_packages] = venv.glob("lib/python*/site-packages")
    reused = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "doppel_test_dependencies.pth").write_text("\n".join(sorted(reused)) + "\n")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--python")
    run(*pip, venv / "bin" / "python", "install", "--no-deps", "--no-index", wheel)
    return venv


def files_of(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.mark.slow  # a wheel build, a venv and a whole `doppel run` (about 15 s)
def test_the_wheel_installs_a_doppel_that_makes_a_gallery(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    packed = set(zipfile.ZipFile(wheel).namelist())
    # Every file of the package and of site/ is in it (site/ as pipeline/site_files/), and
    # nothing of the tests or their testbed: a folder missing from pyproject.toml's package
    # list shows here.
    expected = {f"pipeline/{f}" for f in files_of(REPO / "pipeline")}
    expected |= {f"pipeline/site_files/{f}" for f in files_of(REPO / "site") if "_build/" not in f}
    assert expected - packed == set(), "add the folder to [tool.setuptools] packages"
    assert not any(name.startswith(("pipeline_tests", "testbed")) for name in packed)

    venv = installed_venv(wheel, tmp_path)
    where = tmp_path / "elsewhere"  # no checkout, no .env, no source on the path
    where.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOPPEL_", "DAGSTER_"))}
    env.pop("PYTHONPATH", None)
    imported = run(venv / "bin" / "python", "-c", "import pipeline; print(pipeline.__file__)",
                   cwd=where, env=env).stdout  # fmt: skip
    assert Path(imported.strip()).is_relative_to(venv), imported

    result = run(venv / "bin" / "doppel", "run", "--days", "1", cwd=where, env=env | SMALL)
    assert "gallery build: ok" in result.stdout, result.stdout
    # The summary's next steps name this installed doppel (no checkout's .venv here), and
    # its status command works as printed.
    [status] = [line for line in result.stdout.splitlines() if line.startswith("status:")]
    command = shlex.split(status.removeprefix("status:"))
    assert command == [str(venv / "bin" / "doppel"), "status"], status
    assert f"(see them with `{command[0]} dev`)" in result.stdout, result.stdout
    assert " 1 photos, 1 look-alikes" in run(*command, cwd=where, env=env | SMALL).stdout
    index = Path(result.stdout.strip().splitlines()[-1].removeprefix("gallery:").strip())
    assert index == (where / "data" / "objects" / "site" / "index.html").resolve()
    [pair, *_] = sorted((index.parent / "pairs").rglob("*.html"))
    for page in (index, pair):
        static = [u for u in LINKED.findall(page.read_text()) if "static/" in u]
        assert len(static) >= 2, page  # the stylesheet and the favicon at least
        for url in static:
            assert (page.parent / url).resolve().is_file(), f"{page} links a missing {url}"
