"""`doppel backfill` against a real `dagster-webserver` on 127.0.0.1 with a temporary instance:
the backfill it launches is the UI's kind (a REQUESTED asset backfill for the daemon)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from pipeline.cli import main
from pipeline.defs.partitions import last_complete_days
from pipeline.lib.orchestration.backfills import WebserverError, launch_backfill, list_backfills
from pipeline.lib.settings import DEFAULT_START_DATE
from pipeline_tests.conftest import free_port
from pipeline_tests.dagster_processes import (
    dagster_env,
    dagster_process,
    make_home,
    wait_for_http,
)
from pipeline_tests.fixtures.assets import TEST_PARTITIONS

# One worker takes the whole module, so its module fixtures are made once.
pytestmark = pytest.mark.xdist_group("test_cli_backfill")

DOPPEL = str(Path(sys.executable).parent / "doppel")
BOTH = {"unsplash_images", "generated_images", "image_features", "human_votes"}  # and the rest
# The days below come from TEST_PARTITIONS; its start is set explicitly, or the local
# instance would start at yesterday (the first day it makes).
START = DEFAULT_START_DATE.isoformat()


@dataclass(frozen=True)
class Webserver:
    url: str
    home: Path
    env: dict[str, str]
    cwd: Path


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    tmp = tmp_path_factory.mktemp("webserver")
    home = make_home(tmp)
    env = dagster_env(home, data_dir=str(tmp / "data"), start_date=START)
    url = f"http://127.0.0.1:{free_port()}"
    log = tmp / "webserver.log"
    command = ["-m", "pipeline.definitions", "-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1]]
    with dagster_process("dagster-webserver", *command, env=env, cwd=tmp, log=log) as process:
        wait_for_http(f"{url}/server_info", process, log)
        yield Webserver(url, home, env, tmp)


def doppel(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOPPEL, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow  # a real webserver
def test_backfill_cli_launches_one_backfill_of_both_assets(webserver: Webserver) -> None:
    first, last = last_complete_days(TEST_PARTITIONS, 2)
    result = doppel(
        "backfill", "--from", first, "--to", last, "--url", webserver.url,
        env=webserver.env | {"DOPPEL_LOG_FORMAT": "json"}, cwd=webserver.cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    with dg.DagsterInstance.from_config(str(webserver.home)) as instance:
        [backfill] = list_backfills(instance)  # exactly one, and it is the one printed
        # Its runs name the JSON console logger (a run's only comes from its run config).
        run_config = instance.get_backfill(backfill.id).run_config  # type: ignore[union-attr]
    assert result.stdout.splitlines()[:2] == [
        f"backfill {backfill.id}: {first}..{last} (2 days) of unsplash_images, generated_images,"
        " image_features and human_votes",
        f"watch it: {webserver.url}/runs/b/{backfill.id}",
    ]
    assert backfill.status == "REQUESTED"  # no daemon here: it waits, as the UI's would
    assert backfill.days_by_asset == {key: [first, last] for key in BOTH}
    assert backfill.tags["doppel/trigger"] == "doppel_backfill"
    assert run_config == {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@pytest.mark.slow  # a real webserver
def test_backfill_refused_by_the_webserver_says_why(webserver: Webserver) -> None:
    day = last_complete_days(TEST_PARTITIONS, 1)[0]
    with pytest.raises(WebserverError) as refused:
        launch_backfill(
            webserver.url,
            asset_paths=[["no_such_asset"]],
            first_day=day,
            last_day=day,
            title="test",
            tags={},
        )
    assert str(refused.value).startswith("the webserver refused the backfill (PythonError):")
    assert "no_such_asset" in str(refused.value)


@pytest.mark.slow
def test_backfill_cli_without_a_webserver_is_one_line(tmp_path: Path) -> None:
    day = last_complete_days(TEST_PARTITIONS, 1)[0]
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    env = dagster_env(make_home(tmp_path), webserver_url=url, start_date=START)
    result = doppel("backfill", "--from", day, "--to", day, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"doppel: error: cannot reach the Dagster webserver at {url} (ConnectError): start it "
        "with `make dev`, or point --url (DOPPEL_WEBSERVER_URL) at a running one"
    ]


def _bad_ranges() -> list[tuple[str, str, str]]:
    last = last_complete_days(TEST_PARTITIONS, 1)[0]
    tomorrow = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
    return [
        ("2026-11-20", "2026-11-19", "--from 2026-11-20 is after --to 2026-11-19"),
        ("2026-10-31", "2026-11-02", "2026-10-31 is not a day Doppel makes: days run from"),
        (last, tomorrow, f"{tomorrow} is not a day Doppel makes"),
        ("yesterday", last, "--from 'yesterday' is not a day: write it as YYYY-MM-DD"),
        (last, "2026-13-01", "--to '2026-13-01' is not a day"),
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("first", "last", "message"), _bad_ranges())
def test_backfill_cli_rejects_days_outside_the_partitions(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: str,
    last: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    assert main(["backfill", "--from", first, "--to", last, "--url", "http://127.0.0.1:9"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"doppel: error: {message}")
