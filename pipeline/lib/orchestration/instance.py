"""The local, persistent Dagster instance that `make run` and `make dev` share."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from pipeline.lib.core import clock
from pipeline.lib.settings import DoppelSettings

LOCAL_INSTANCE_YAML = Path(__file__).with_name("local_dagster.yaml")
DEFAULT_HOME = Path(".dagster_home")


def ensure_local_instance() -> Path:
    """Make sure DAGSTER_HOME exists with Doppel's local dagster.yaml; return the folder.

    An unset DAGSTER_HOME becomes ./.dagster_home, so runs are kept between invocations.
    A dagster.yaml the user wrote themselves (without our header line) is left alone. A new
    local instance starts at yesterday, the first day its schedule or gap-fill sensor makes;
    this is the entry points' work (`doppel run`, `doppel dev`...), so that loading the
    definitions only reads it.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    template = LOCAL_INSTANCE_YAML.read_text(encoding="utf-8")
    header = template.splitlines()[0]
    if not config.exists() or config.read_text(encoding="utf-8").startswith(header):
        config.write_text(template, encoding="utf-8")
        record_first_day(home, clock.utc_today() - timedelta(days=1))
    return home


# The first day a local instance makes, one ISO date, kept beside its dagster.yaml.
FIRST_DAY_FILE = "doppel_first_day"


def is_local_instance(home: Path) -> bool:
    """A DAGSTER_HOME whose dagster.yaml is Doppel's local one (as `ensure_local_instance`
    writes it), as opposed to a deployment's instance or one the user wrote."""
    config = home / "dagster.yaml"
    header = LOCAL_INSTANCE_YAML.read_text(encoding="utf-8").splitlines()[0]
    return config.is_file() and config.read_text(encoding="utf-8").startswith(header)


def recorded_first_day(home: Path) -> date | None:
    try:
        return date.fromisoformat((home / FIRST_DAY_FILE).read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def record_first_day(home: Path, wanted: date) -> None:
    """Record that the local instance at `home` makes `wanted`: its first day becomes the
    earliest asked of it so far. It only ever moves earlier, which adds partitions and hides
    none; every process (`doppel run`, the webserver's and daemon's code servers, run
    workers) reads the same file, so they agree on the partitions."""
    recorded = recorded_first_day(home)
    if recorded is not None and recorded <= wanted:
        return
    # Written whole, then renamed: a process reading at the same time sees either date.
    path = home / FIRST_DAY_FILE
    partial = path.with_name(f".{FIRST_DAY_FILE}.{os.getpid()}")
    partial.write_text(wanted.isoformat() + "\n", encoding="utf-8")
    partial.replace(path)


def _local_start_home(settings: DoppelSettings) -> Path | None:
    """DAGSTER_HOME if its partitions start at its first day: a local instance, and no
    DOPPEL_START_DATE (deployments set one; docker-compose.yml requires it)."""
    home = os.environ.get("DAGSTER_HOME")
    if "start_date" in settings.model_fields_set or not home or not is_local_instance(Path(home)):
        return None
    return Path(home)


def record_local_start(settings: DoppelSettings, wanted: date) -> None:
    """`doppel run` makes `wanted`: the local instance's partitions must reach back to it."""
    if (home := _local_start_home(settings)) is not None:
        record_first_day(home, wanted)


def with_local_start(settings: DoppelSettings, unrecorded: date) -> DoppelSettings:
    """The settings with the start date the partitions use (read, never written).

    An explicit DOPPEL_START_DATE wins. Otherwise a local instance starts at its recorded
    first day (`unrecorded` if none is), so a new one shows only the days it made, not weeks
    of days missing since a fixed date. Any other instance keeps the settings' default.
    Call it once per settings object: the start it returns counts as set."""
    home = _local_start_home(settings)
    if home is None:
        return settings
    return settings.model_copy(update={"start_date": recorded_first_day(home) or unrecorded})
