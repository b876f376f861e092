"""System tools some tests need (Chromium, nginx, promtool, torch for a reference test): one
rule for all.

On a machine without one, its tests skip with one line that names the install command. CI
sets DOPPEL_REQUIRE_TOOLS=1 after installing them, which turns any such skip into a failure,
so a green CI run never hides a test that did not run.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from typing import Any, NoReturn

import pytest

REQUIRE_TOOLS_ENV = "DOPPEL_REQUIRE_TOOLS"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL = "apt-get install -y chromium"
NGINX_INSTALL = "apt-get install -y --no-install-recommends nginx-light"
# Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
SBIN = ("/usr/sbin", "/sbin")
# Headless, and quiet: without the background-networking flags Chromium keeps dialling out.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def tool_missing(what: str, install: str) -> NoReturn:
    reason = f"{what} is not installed ({install})"
    if os.environ.get(REQUIRE_TOOLS_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_TOOLS_ENV}=1 requires it", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_tool(name: str, install: str, *, also: tuple[str, ...] = ()) -> str:
    """The path of `name` on PATH (or at one of `also`), or a skip that says how to install it."""
    for candidate in (shutil.which(name), *also):
        if candidate and _runnable(Path(candidate)):
            return candidate
    tool_missing(f"`{name}`", install)


def require_nginx() -> str:
    """nginx, from PATH or Debian's /usr/sbin."""
    return require_tool("nginx", NGINX_INSTALL, also=tuple(f"{d}/nginx" for d in SBIN))


def require_chromium() -> Path:
    """Debian's Chromium and Playwright for Python, which drives it (no browser download)."""
    if not _runnable(CHROMIUM):
        tool_missing(str(CHROMIUM), CHROMIUM_INSTALL)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        tool_missing("playwright", "make install")
    return CHROMIUM


def _runnable(path: Path) -> bool:
    """A file that may be executed: a leftover without its x bit is as good as missing."""
    return path.is_file() and os.access(path, os.X_OK)


def require_module(name: str, install: str) -> Any:
    """An optional Python package a reference test needs (torch), by the same rule."""
    try:
        return importlib.import_module(name)
    except ImportError:
        tool_missing(f"the Python package {name}", install)
