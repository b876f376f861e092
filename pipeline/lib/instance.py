"""The local, persistent Dagster instance that `make run` and `make dev` share."""

from __future__ import annotations

import os
from pathlib import Path

LOCAL_INSTANCE_YAML = Path(__file__).with_name("local_dagster.yaml")
DEFAULT_HOME = Path(".dagster_home")


def ensure_local_instance() -> Path:
    """Make sure DAGSTER_HOME exists with Doppel's local dagster.yaml; return the folder.

    An unset DAGSTER_HOME becomes ./.dagster_home, so runs are kept between invocations.
    A dagster.yaml the user wrote themselves (without our header line) is left alone.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    template = LOCAL_INSTANCE_YAML.read_text(encoding="utf-8")
    header = template.splitlines()[0]
    if not config.exists() or config.read_text(encoding="utf-8").startswith(header):
        config.write_text(template, encoding="utf-8")
    return home
