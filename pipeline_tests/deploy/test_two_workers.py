"""The deploy test's "two workers make the same day at once" row, checked offline: the
workers' command runs the day in containers with Dagster instances of their own, and its
verdict fails on what would mean a photo made or paid twice (running it is `make
deploy-test`)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from pipeline_tests.deploy.tools import REPO

DAY = "2026-11-13"


@pytest.fixture(scope="module")
def stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deploy_test_stack", REPO / "deploy/test/stack.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def counts(**changed: int) -> dict[str, int]:
    whole = {"photos": 3, "stored": 3, "lookalikes": 3, "succeeded": 3, "max_attempts": 1}
    return whole | changed


def output(stack: ModuleType, left: int) -> str:
    n = stack.PHOTOS_PER_DAY
    return f"{DAY}: {n} of {n} look-alikes\n" + f"INFO x: {stack.MADE_ELSEWHERE}\n" * left


def test_each_worker_is_a_doppel_run_of_the_day_with_a_dagster_instance_of_its_own(
    stack: ModuleType,
) -> None:
    one, two = stack.worker_command(DAY, "worker1"), stack.worker_command(DAY, "worker2")
    assert one[:4] == ["run", "--rm", "--no-deps", "-T"]
    assert one[-5:] == ["user_code", "doppel", "run", "--day", DAY]
    assert "DAGSTER_HOME=/tmp/worker1" in one and "DAGSTER_HOME=/tmp/worker2" in two
    assert f"DOPPEL_START_DATE={DAY}" in one  # the day is a partition of its instance
    # The service it borrows reads the test's env file (Doppel's database and bucket).
    override = (REPO / "deploy/test/docker-compose.test.yml").read_text()
    assert "  user_code:\n    env_file: !override\n" in override


def test_the_verdict_passes_a_day_made_once_and_says_what_each_left_to_the_other(
    stack: ModuleType,
) -> None:
    said = stack.workers_verdict(DAY, [output(stack, 0), output(stack, 3)], counts())
    assert said.endswith("(photos left to the other worker: 0 and 3)")


@pytest.mark.parametrize(
    ("outputs_left", "rows", "why"),
    [
        ((0, None), counts(), "worker 2 did not end the day whole"),
        ((0, 3), counts(max_attempts=2), "made or recorded more than once"),
        ((0, 3), counts(lookalikes=4), "rows:"),
        ((0, 3), counts(succeeded=2), "rows:"),
    ],
)
def test_the_verdict_fails_a_day_not_whole_or_made_twice(
    stack: ModuleType, outputs_left: tuple[int, int | None], rows: dict[str, int], why: str
) -> None:
    outputs = [
        output(stack, left) if left is not None else "doppel: error: database is down"
        for left in outputs_left
    ]
    with pytest.raises(stack.CheckFailed, match=why):
        stack.workers_verdict(DAY, outputs, rows)
