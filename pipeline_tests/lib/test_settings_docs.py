"""`.env.example` and the README's settings table agree with the declarations."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from pipeline.cli import main
from pipeline.lib import settings_docs
from pipeline.lib.settings import variables

REPO = Path(__file__).resolve().parents[2]


def _generated(text: str, begin: str, end: str) -> str:
    return text.split(begin + "\n", 1)[1].split(end + "\n", 1)[0]


def test_env_example_and_readme_agree_with_the_declarations() -> None:
    stale = settings_docs.stale(REPO)
    assert not stale, f"{stale} disagree with the settings: run `make settings-docs`"


def test_env_example_names_every_variable_with_its_default() -> None:
    # Said directly, not only as "the generator's output": a name or default changed in a
    # declaration and not in .env.example fails here.
    text = (REPO / ".env.example").read_text()
    block = _generated(text, settings_docs.ENV_BEGIN, settings_docs.ENV_END)
    written = dict(re.findall(r"^# ([A-Z][A-Z0-9_]+)=(.*?)(?:\s{2,}# .*)?$", block, re.M))
    expected = {v.name: settings_docs.default_text(v) for v in variables()}
    assert written == expected
    table = _generated(
        (REPO / "README.md").read_text(), settings_docs.MD_BEGIN, settings_docs.MD_END
    )
    shown = {v.name: _shown(v.field.json_schema_extra) for v in variables()}
    for name, default in re.findall(r"^\| `(\w+)` \| ([^|]+) \|", table, re.M):
        assert default.strip() in {f"`{expected[name]}`", "(unset)", shown[name]}, name


def _shown(extra: object) -> str:
    return str(extra.get("shown", "")) if isinstance(extra, dict) else ""


def test_write_restores_a_stale_file_and_check_says_so(tmp_path: Path) -> None:
    for name in (".env.example", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    env = tmp_path / ".env.example"
    env.write_text(
        env.read_text().replace("DOPPEL_UNSPLASH_PER_PAGE=30", "DOPPEL_UNSPLASH_PER_PAGE=20")
    )
    assert main(["settings", "--check", "--root", str(tmp_path)]) == 1
    assert main(["settings", "--write", "--root", str(tmp_path)]) == 0
    assert env.read_text() == (REPO / ".env.example").read_text()
    assert main(["settings", "--check", "--root", str(tmp_path)]) == 0
    # The hand-written parts stay: the header, the [compose] notes, Dagster's own variables.
    assert "# DAGSTER_PG_PASSWORD=change-me    # [compose]" in env.read_text()
