"""The suite's own scheduling: a module marked `xdist_group` runs whole on one worker, so its
module fixtures (webserver, browser, built site) are made once. pytest 9.2 broke this
silently for pytest-xdist 3.8, which is why pytest is capped in pyproject.toml."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("suite_layout")


def test_a_grouped_module_stays_on_one_worker(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only meaningful under `make test` (pytest -n 3 --dist loadgroup)")
    # xdist's loadgroup scheduler sends together the tests whose id carries the same suffix.
    assert request.node.nodeid.endswith("@suite_layout")


def test_the_longest_modules_listed_to_start_first_exist() -> None:
    from pathlib import Path

    from pipeline_tests.conftest import LONGEST_FIRST

    names = {path.name for path in Path(__file__).parent.rglob("test_*.py")}
    assert set(LONGEST_FIRST) <= names, set(LONGEST_FIRST) - names
