"""The local, persistent Dagster instance that `make run` and `make dev` share."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from pipeline.lib.settings import DoppelSettings

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


# The first day a local instance makes, one ISO date, kept beside its dagster.yaml.
FIRST_DAY_FILE = "doppel_first_day"


def is_local_instance(home: Path) -> bool:
    """A DAGSTER_HOME whose dagster.yaml is Doppel's local one (as `ensure_local_instance`
    writes it), as opposed to a deployment's instance or one the user wrote."""
    config = home / "dagster.yaml"
    header = LOCAL_INSTANCE_YAML.read_text(encoding="utf-8").splitlines()[0]
    return config.is_file() and config.read_text(encoding="utf-8").startswith(header)


def first_day(home: Path, wanted: date) -> date:
    """The first day the local instance at `home` makes: the earliest day asked of it so
    far (`wanted` included). It only ever moves earlier, which adds partitions and hides
    none; every process (`doppel run`, the webserver's and daemon's code servers, run
    workers) reads the same file, so they agree on the partitions."""
    path = home / FIRST_DAY_FILE
    try:
        recorded: date | None = date.fromisoformat(path.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        recorded = None
    if recorded is not None and recorded <= wanted:
        return recorded
    # Written whole, then renamed: a process reading at the same time sees either date.
    partial = path.with_name(f".{FIRST_DAY_FILE}.{os.getpid()}")
    partial.write_text(wanted.isoformat() + "\n", encoding="utf-8")
    partial.replace(path)
    return wanted


def with_local_start(settings: DoppelSettings, wanted: date) -> DoppelSettings:
    """The settings with the start date the partitions use.

    An explicit DOPPEL_START_DATE wins: deployments set one (docker-compose.yml requires it),
    and so may a user. Otherwise a local instance starts at its `first_day`, so a new one
    shows only the days it made, not weeks of days missing since a fixed date. Any other
    instance keeps the settings' default. Call it once per settings object: the start it
    returns counts as set."""
    home = os.environ.get("DAGSTER_HOME")
    if "start_date" in settings.model_fields_set or not home or not is_local_instance(Path(home)):
        return settings
    return settings.model_copy(update={"start_date": first_day(Path(home), wanted)})
