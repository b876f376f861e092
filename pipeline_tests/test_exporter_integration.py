"""The deployment without containers: what docker-compose.yml runs, as processes on loopback.

A gRPC code server, the webserver and the daemon (the repository's dagster.yaml on a
throwaway PostgreSQL, run logs to moto's S3 server), the metrics exporter, and Unsplash's
imitation API. One day is launched through the webserver's GraphQL (as the UI does), queued,
and run by the daemon in the code server; then the exporter's scrape, the Dagster UI in a
real browser, and every place a secret could leak are checked. The processes are shared by
the tests of this module and always stopped (process groups) at its end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from pipeline.lib.core import clock
from pipeline_tests.conftest import free_port, postgres_databases
from pipeline_tests.dagster_processes import BIN, dagster_env, dagster_process, tail, wait_for_http
from pipeline_tests.system_tools import CHROMIUM, CHROMIUM_ARGS, require_chromium
from testbed.unsplash_server import UnsplashImitation

# Real webserver, daemon and exporter processes, made once: one worker takes the whole module.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("test_exporter_integration")]

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 240  # start-up, one queued run, its teardown: about a minute on two cores
# The exporter and the daemon run on the real clock, in their own processes.
YESTERDAY = clock.utc_today() - timedelta(days=1)
DAY = YESTERDAY.isoformat()

# Fake secrets, configured for the run the way a deployment configures real ones.
UNSPLASH_KEY = "unsplash-SECRET-7c1e40a9"
OPENAI_KEY = "sk-test-SECRET123-d6f0"
PG_PASSWORD = "pg-SECRET-456-ab12"
AWS_SECRET = "aws-SECRET-789-cd34"
SECRETS = [UNSPLASH_KEY, OPENAI_KEY, PG_PASSWORD, AWS_SECRET]
LOG_PREFIX = "dagster-logs"

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""
RUN_STATUS = """
query Status($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""
RUN_LOGS = """
query Logs($id: ID!) {
  logsForRun(runId: $id) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message level } } }
  }
}"""
LOCATION = """
query { workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


@dataclass
class Deployment:
    webserver: str
    exporter: str
    run_id: str
    home: Path
    logs: dict[str, Path]
    s3: Any
    bucket: str
    database_urls: dict[str, str]
    unsplash: UnsplashImitation
    timings: dict[str, float] = field(default_factory=dict)


def graphql(url: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": variables}, timeout=30
    )
    body = response.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def until(what: str, deadline: float, check: Callable[[], Any], logs: dict[str, Path]) -> Any:
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(0.5)
    tails = "\n".join(f"--- {name}\n{tail(path, 30)}" for name, path in logs.items())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def unsplash_day(server: UnsplashImitation) -> None:
    """Yesterday's editorial feed, between a photo of today and one of the day before."""
    at = lambda day, hour: datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour)  # noqa: E731
    server.photos = [
        server.photo("today1", promoted_at=at(YESTERDAY + timedelta(days=1), 0.5)),
        server.photo("dayA", promoted_at=at(YESTERDAY, 20), likes=50),
        server.photo("dayB", promoted_at=at(YESTERDAY, 10), likes=5),
        server.photo("prev1", promoted_at=at(YESTERDAY - timedelta(days=1), 20)),
    ]


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str, s3_server: str
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("deployment")
    started = time.monotonic()
    deadline = started + DEADLINE_S
    with ExitStack() as stack:
        make_database = stack.enter_context(postgres_databases(postgres_server))
        dagster_db, app_db = make_database(), make_database()
        unsplash = stack.enter_context(UnsplashImitation(access_key=UNSPLASH_KEY))
        unsplash_day(unsplash)
        bucket = f"doppel-{os.urandom(4).hex()}"
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_server,
            region_name="us-east-1",
            aws_access_key_id="doppel",
            aws_secret_access_key=AWS_SECRET,
        )
        s3.create_bucket(Bucket=bucket)

        # DAGSTER_HOME with the repository's dagster.yaml, as the image has it; the workspace
        # is the repository's, pointed at this code server's port.
        home = tmp / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        code_port, web_port, exporter_port = free_port(), free_port(), free_port()
        workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
        workspace["load_from"][0]["grpc_server"] |= {"host": "127.0.0.1", "port": code_port}
        (tmp / "workspace.yaml").write_text(yaml.safe_dump(workspace))

        # What docker-compose.yml's x-doppel-environment gives every Dagster container.
        user, host, port = dagster_db["username"], dagster_db["hostname"], dagster_db["port"]
        app_url = f"postgresql://{user}:{PG_PASSWORD}@{host}:{port}/{app_db['db_name']}"
        env = dagster_env(
            home,
            source="unsplash",
            unsplash_base_url=unsplash.root_url,
            unsplash_image_hosts=unsplash.root_url,
            unsplash_timeout_s="5",
            generator="patch-remix",
            store="s3",
            s3_bucket=bucket,
            s3_endpoint_url=s3_server,
            database_url=app_url,
            photos_per_day="1",
            work_size="64",
            output_size="96",
            start_date=DAY,  # one partition: nothing else for the gap-fill sensor to fill
            gap_lookback_days="1",
            schedule_hour="23",  # yesterday's scheduled run is the schedule's until 23:59
            schedule_minute="59",
            run_executor="in_process",
            log_format="json",
        ) | {
            "DAGSTER_PG_USER": user,
            "DAGSTER_PG_PASSWORD": PG_PASSWORD,  # trust auth: accepted and unused
            "DAGSTER_PG_HOST": host,
            "DAGSTER_PG_PORT": port,
            "DAGSTER_PG_DB": dagster_db["db_name"],
            "DAGSTER_COMPUTE_LOGS_BUCKET": bucket,
            "DAGSTER_COMPUTE_LOGS_PREFIX": LOG_PREFIX,
            "AWS_ENDPOINT_URL_S3": s3_server,
            "AWS_ACCESS_KEY_ID": "doppel",
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
            "UNSPLASH_ACCESS_KEY": UNSPLASH_KEY,
            "OPENAI_API_KEY": OPENAI_KEY,  # configured, as in a real .env, though unused
        }
        logs = {name: tmp / f"{name}.log" for name in ("code", "web", "daemon", "exporter")}
        ws = str(tmp / "workspace.yaml")

        processes: list[subprocess.Popen[bytes]] = []

        def start(name: str, *command: str) -> Any:
            process = stack.enter_context(
                dagster_process(*command, env=env, cwd=tmp, log=logs[name])
            )
            processes.append(process)
            return process

        # As compose's one-off migrate service, before every other Doppel process.
        migrate = [str(BIN / "doppel"), "migrate"]
        subprocess.run(migrate, env=env, cwd=tmp, capture_output=True, check=True, timeout=120)
        start("code", "dagster", "code-server", "start", "-h", "127.0.0.1", "-p", str(code_port),
              "-m", "pipeline.definitions")  # fmt: skip
        # As compose's health check gates the webserver and daemon on the code server.
        health = [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(code_port)]
        until(
            "the code server",
            deadline,
            lambda: (
                True
                if subprocess.run(health, env=env, capture_output=True, check=False).returncode == 0
                else None
            ),
            logs,
        )
        web = start("web", "dagster-webserver", "-h", "127.0.0.1", "-p", str(web_port), "-w", ws)
        start("daemon", "dagster-daemon", "run", "-w", ws)
        exporter = start("exporter", "doppel", "exporter", "--port", str(exporter_port))

        @stack.callback  # registered last, so it runs first when the stack unwinds
        def stop_all_at_once() -> None:
            # SIGTERM every group before each is waited for in turn: the four processes
            # shut down together rather than one after another.
            for process in processes:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)

        webserver = f"http://127.0.0.1:{web_port}"
        exporter_url = f"http://127.0.0.1:{exporter_port}/metrics"
        wait_for_http(
            f"{webserver}/server_info", web, logs["web"], timeout_s=deadline - time.monotonic()
        )
        wait_for_http(
            exporter_url, exporter, logs["exporter"], timeout_s=deadline - time.monotonic()
        )

        def location_loaded() -> bool | None:
            [entry] = graphql(webserver, LOCATION)["workspaceOrError"]["locationEntries"]
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                raise AssertionError(f"the code location failed to load: {error['message']}")
            return True if entry["loadStatus"] == "LOADED" and error else None

        until("the code location", deadline, location_loaded, logs)
        timings = {"start_s": time.monotonic() - started}

        launched = graphql(
            webserver,
            LAUNCH_RUN,
            params={
                "selector": {
                    "repositoryLocationName": "pipeline",
                    "repositoryName": "__repository__",
                    "jobName": "daily_images_job",
                },
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
            },
        )["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]

        def finished() -> str | None:
            status = graphql(webserver, RUN_STATUS, id=run_id)["runOrError"]["status"]
            return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

        status = until(f"run {run_id}", deadline, finished, logs)
        timings["run_s"] = time.monotonic() - started - timings["start_s"]
        if status != "SUCCESS":
            events = graphql(webserver, RUN_LOGS, id=run_id)["logsForRun"]["events"]
            messages = "\n".join(e.get("message", "") for e in events if e.get("message"))
            raise AssertionError(f"run {status}:\n{messages[-4000:]}\n{tail(logs['code'])}")
        yield Deployment(
            webserver=webserver,
            exporter=exporter_url,
            run_id=run_id,
            home=home,
            logs=logs,
            s3=s3,
            bucket=bucket,
            database_urls={"dagster": dagster_db["url"], "app": app_db["url"]},
            unsplash=unsplash,
            timings=timings,
        )


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_exporter_scrape_shows_the_deployed_day(deployment: Deployment) -> None:
    found = scrape(deployment.exporter)

    def value(name: str, **labels: str) -> float | None:
        return found.get((name, tuple(sorted(labels.items()))))

    assert value("doppel_exporter_read_ok", part="database") == 1
    assert value("doppel_exporter_read_ok", part="dagster") == 1
    assert value("doppel_photos_collected_total", source="unsplash") == 1
    assert value("doppel_generations_total", generator="patch-remix", status="succeeded") == 1
    assert value("doppel_generation_latency_seconds_count", generator="patch-remix") == 1
    assert value("doppel_generation_spend_usd_total", generator="patch-remix") == 0
    assert value("doppel_partitions_behind") == 0  # yesterday is materialized
    newest = datetime.combine(YESTERDAY, datetime.min.time(), UTC).timestamp()
    assert value("doppel_newest_materialized_day_timestamp_seconds") == newest
    assert value("doppel_dagster_failed_runs_total") == 0
    # What Unsplash's last answer said was left, as recorded on the materialization.
    assert value("doppel_unsplash_ratelimit_remaining") == deployment.unsplash.ratelimit_remaining
    assert deployment.unsplash.ratelimit_remaining < deployment.unsplash.ratelimit_limit


def test_exporter_deployment_keeps_run_logs_in_s3_as_json(deployment: Deployment) -> None:
    listed = deployment.s3.list_objects_v2(Bucket=deployment.bucket, Prefix=f"{LOG_PREFIX}/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert any(deployment.run_id in key for key in keys), keys
    stderr = "".join(
        deployment.s3.get_object(Bucket=deployment.bucket, Key=k)["Body"].read().decode()
        for k in keys
        if deployment.run_id in k and k.endswith(".err")
    )
    # DOPPEL_LOG_FORMAT=json: Doppel's own loggers wrote JSON lines into the step's log.
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith('{"ts"')]
    assert any(r["logger"].startswith("pipeline.") for r in records), stderr[-2000:]


def test_exporter_deployment_leaks_no_secret(deployment: Deployment) -> None:
    places: dict[str, str] = {}
    # Every object the run wrote: run logs, originals, look-alikes' sidecars, day tables.
    listed = deployment.s3.list_objects_v2(Bucket=deployment.bucket)
    for item in listed.get("Contents", []):
        body = deployment.s3.get_object(Bucket=deployment.bucket, Key=item["Key"])["Body"].read()
        places[f"s3://{item['Key']}"] = body.decode("utf-8", "replace")
    # The run's event log as the UI shows it, and every row of both databases.
    events = graphql(deployment.webserver, RUN_LOGS, id=deployment.run_id)["logsForRun"]["events"]
    places["event log"] = repr(events)
    assert len(events) > 10
    for name, url in deployment.database_urls.items():
        engine = create_engine(url)
        with engine.connect() as conn:
            tables = (
                conn.execute(text("select tablename from pg_tables where schemaname = 'public'"))
                .scalars()
                .all()
            )
            for table in tables:
                rows = conn.execute(text(f'select * from "{table}"')).all()
                places[f"{name} db {table}"] = repr(rows)
        engine.dispose()
    assert any("generated_images" in k for k in places)
    # What each process printed (docker logs, in compose).
    for name, path in deployment.logs.items():
        places[f"{name} process output"] = path.read_text(errors="replace")
    leaks = [(where, s) for where, content in places.items() for s in SECRETS if s in content]
    assert not leaks, leaks


def test_exporter_deployment_dagster_ui_shows_the_days_materialization(
    deployment: Deployment, tmp_path: Path
) -> None:
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            url = f"{deployment.webserver}/assets/generated_images?view=events"
            page.goto(url, wait_until="networkidle")
            skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter dialog
            if skip.count():
                skip.click()
            # The asset's events list the day's materialization: yesterday's partition...
            expect(page.get_by_text(DAY).first).to_be_visible(timeout=30_000)
            # ...and the run that made it.
            expect(page.get_by_text(deployment.run_id[:8]).first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(tmp_path / "generated_images-events.png"))
        finally:
            browser.close()
