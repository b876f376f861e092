"""`doppel generate IN OUT --generator patch-remix --seed 7 --size 256`, as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.lib.core.images import decode_image

SAMPLES = Path(__file__).parents[1] / "pipeline" / "lib" / "sources" / "sample_photos"


def _doppel(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("doppel") or str(Path(sys.executable).parent / "doppel")
    command = [exe] if Path(exe).exists() else [sys.executable, "-m", "pipeline.cli"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_generate_writes_the_image_and_prints_one_json_record(tmp_path: Path) -> None:
    out = tmp_path / "lookalike.png"
    done = _doppel(
        "generate", str(SAMPLES / "coffee.jpg"), str(out),
        "--generator", "patch-remix", "--seed", "7", "--size", "256",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["generator"] == "patch-remix" and record["seed"] == 7
    assert isinstance(record["accepted"], bool) and record["reason"]
    assert record["attempts"] and "patch_swd" in record and "seconds" in record
    assert decode_image(out.read_bytes()).size == (256, 171)  # coffee is 600×400


@pytest.mark.slow
@pytest.mark.parametrize(
    "make_input",
    [
        lambda d: d / "missing.jpg",
        lambda d: _write(d / "notes.jpg", b"just some text, not a photo"),
        lambda d: _write(d / "cut.jpg", (SAMPLES / "rocket.jpg").read_bytes()[:5000]),
    ],
    ids=["missing", "not-an-image", "truncated"],
)
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(
    tmp_path: Path, make_input: Callable[[Path], Path]
) -> None:
    out = tmp_path / "out.png"
    done = _doppel("generate", str(make_input(tmp_path)), str(out), "--seed", "1")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.strip()
    assert not out.exists()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("out_name", "extra", "needle"),
    [
        ("out.gif", [], "unsupported output type"),
        ("no-such-folder/out.png", [], "does not exist"),
        ("out.png", ["--size", "5"], "--size must be between"),
    ],
)
def test_bad_arguments_are_one_plain_line(
    tmp_path: Path, out_name: str, extra: list[str], needle: str
) -> None:
    done = _doppel("generate", str(SAMPLES / "coffee.jpg"), str(tmp_path / out_name), *extra)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("doppel: error: ") and needle in line
    assert "ValueError" not in line and "DOPPEL_DEBUG" not in line


@pytest.mark.slow
def test_style_transfer_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "painted.png"
    done = _doppel(
        "generate", str(SAMPLES / "coffee.jpg"), str(out),
        "--generator", "style-transfer", "--seed", "7", "--size", "120", "--style", "9",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["generator"] == "style-transfer" and record["style_key"] == "builtin:9"
    assert decode_image(out.read_bytes()).size == (120, 80)
    bad = _doppel("generate", str(SAMPLES / "coffee.jpg"), str(out), "--generator",
                  "style-transfer", "--style", "31")  # fmt: skip
    assert bad.returncode == 2 and "0 to 25" in bad.stderr and "Traceback" not in bad.stderr
