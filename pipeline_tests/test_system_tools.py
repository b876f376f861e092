"""A missing system tool skips its tests with the install command, or fails them in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_tests.system_tools import REQUIRE_TOOLS_ENV, require_tool

MISSING = "doppel-no-such-tool"


def test_a_missing_tool_skips_with_its_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_TOOLS_ENV, raising=False)
    with pytest.raises(
        pytest.skip.Exception,
        match=r"`doppel-no-such-tool` is not installed \(apt-get install -y it\)",
    ):
        require_tool(MISSING, "apt-get install -y it")


def test_ci_turns_the_skip_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_TOOLS_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_TOOLS_ENV}=1 requires it"):
        require_tool(MISSING, "apt-get install -y it")


def test_a_present_tool_is_found_on_path_or_at_a_known_place() -> None:
    assert require_tool("sh", "-").endswith("/sh")
    assert require_tool(MISSING, "-", also=("/bin/sh",)) == "/bin/sh"


def test_a_file_that_cannot_run_is_a_missing_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_TOOLS_ENV, raising=False)
    leftover = tmp_path / "nginx"
    leftover.write_bytes(b"")  # present, but not executable (or a folder, below)
    for candidate in (leftover, tmp_path):
        with pytest.raises(pytest.skip.Exception, match="is not installed"):
            require_tool(MISSING, "-", also=(str(candidate),))


def test_the_ci_flag_survives_the_tests_isolated_environment() -> None:
    from pipeline_tests.conftest import TEST_RUN_ENV

    assert REQUIRE_TOOLS_ENV in TEST_RUN_ENV
