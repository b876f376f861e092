"""The lock files are current and are what is installed."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(name: str) -> dict[str, str]:
    """Name → version for the pins of a lock file that apply to this interpreter."""
    pins = {}
    for line in (REPO / name).read_text().splitlines():
        if match := PIN.match(line):
            package, version, marker = match.groups()
            if marker is None or Marker(marker).evaluate():
                pins[canonicalize_name(package)] = version
    return pins


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(r) for r in found]


# The image installs requirements.lock, and with it the `docker` extra (one container per run).
@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", ["docker"]), ("requirements-dev.lock", ["docker", "dev"])],
)
def test_every_declared_dependency_is_locked_within_its_range(lock: str, extras: list[str]) -> None:
    pins = locked(lock)
    for requirement in declared() + [r for extra in extras for r in declared(extra)]:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in pyproject.toml but not in {lock}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {name}=={pins[name]}, outside {requirement.specifier}: run `make lock`"
        )


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    runtime, dev = locked("requirements.lock"), locked("requirements-dev.lock")
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}


def test_installed_versions_are_the_locked_ones() -> None:
    wrong = {}
    for name, version in locked("requirements-dev.lock").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[name] = f"{installed} installed, {version} locked"
    assert wrong == {}, "the venv drifted from the lock: `rm -rf .venv && make install`"
