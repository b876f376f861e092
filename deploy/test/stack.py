"""The compose stack for real (`make deploy-test`, after deploy/test/run.sh built the images).

Brings up docker-compose.yml plus deploy/test/docker-compose.test.yml as its own project,
launches a day through the containerized webserver (`doppel backfill`), checks where every
piece of it landed, injects faults, then layers docker-compose.docker-runs.yml on top for a
backfill with a container per run (one of them killed), and prints one table. Exits non-zero
if any row fails.
The day is the last complete UTC day by the pipeline's clock, never a fixed date.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.exceptions import ClientError

from pipeline.lib.core import clock

REPO = Path(__file__).resolve().parents[2]
FILES = ["docker-compose.yml", "deploy/test/docker-compose.test.yml"]
# One container per run (dagster-docker's DockerRunLauncher), layered on top for its phase.
DOCKER_RUNS_FILE = "docker-compose.docker-runs.yml"
# Everything the day needs; the daemon comes last so the first backfill is the test's own.
SERVICES = ["postgres", "minio", "user_code", "webserver", "exporter", "votes", "gallery",
            "prometheus"]  # fmt: skip
PHOTOS_PER_DAY = 3
BUCKET = "doppel"
OTHER_BUCKET = "not-doppels"  # another tenant's bucket on the same store
PREFIX = "doppel"
LOGS_PREFIX = "dagster-logs"
IP_FORMAT = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
DOCKER_SOCKET = "/var/run/docker.sock"
# Labels and tags dagster-docker puts on a run's container and on the run.
RUN_LABEL = "dagster/run_id"
CONTAINER_TAG = "docker/container_id"


class CheckFailed(Exception):
    pass


@dataclass
class Row:
    check: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def check(self, name: str, probe: Callable[[], str]) -> bool:
        """Run one check; its detail (or its failure) and its time become a row."""
        start = time.monotonic()
        try:
            detail, ok = probe(), True
        except Exception as exc:  # every failure is a failing row, not a crash of the table
            detail, ok = f"{type(exc).__name__}: {exc}", False
        row = Row(name, ok, " ".join(detail.split())[:150], time.monotonic() - start)
        self.rows.append(row)
        print(f"deploy-test: {'ok  ' if ok else 'FAIL'} {name}: {row.detail}", file=sys.stderr)
        return ok

    def render(self) -> str:
        width = max(len(r.check) for r in self.rows)
        lines = [f"{'check':<{width}}  result  {'time':>7}  detail", "-" * (width + 40)]
        for r in self.rows:
            result = "pass" if r.ok else "FAIL"
            lines.append(f"{r.check:<{width}}  {result:<6}  {r.seconds:6.1f}s  {r.detail}")
        return "\n".join(lines)


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float, every_s: float = 2.0) -> Any:
    """probe() until it returns something truthy; its last error explains a timeout."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if result := probe():
                return result
        except Exception as exc:  # retried until the deadline
            last = exc
        time.sleep(every_s)
    raise CheckFailed(f"{what}: not within {timeout_s:.0f} s" + (f" ({last})" if last else ""))


class Stack:
    def __init__(self, project: str, env_file: Path):
        self.project = project
        self.env_file = env_file
        self.files = list(FILES)

    def compose(self, *args: str, timeout_s: float = 600, with_logs: bool = False) -> str:
        """The command's standard output (`with_logs`: and its standard error after it)."""
        command = ["docker", "compose", "-p", self.project, "--env-file", str(self.env_file)]
        for name in self.files:
            command += ["-f", name]
        done = subprocess.run(
            [*command, *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            # Only what docker needs: a variable of this shell would win over the env file.
            env={
                "DOPPEL_TEST_ENV_FILE": str(self.env_file),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/root"),
            },
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise CheckFailed(f"docker compose {' '.join(args[:2])}: {' | '.join(tail)}")
        return done.stdout + (done.stderr if with_logs else "")

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).split()
        if not ids:
            raise CheckFailed(f"no running container for {service}")
        return ids[0]

    def ip(self, service: str) -> str:
        out = subprocess.run(
            ["docker", "inspect", "-f", IP_FORMAT, self.container(service)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return out[0]

    def sql(self, database: str, query: str) -> list[list[str]]:
        out = self.compose(
            "exec", "-T", "postgres", "psql", "-U", "dagster", "-d", database, "-AtF", "\t",
            "-v", "ON_ERROR_STOP=1", "-c", query,
        )  # fmt: skip
        return [line.split("\t") for line in out.splitlines() if line]

    def s3(self, user: str = "MINIO_ROOT") -> Any:
        """An S3 client as the root user (MINIO_ROOT_USER), or as Doppel's ("AWS_ACCESS")."""
        env = dict(line.split("=", 1) for line in self.env_file.read_text().splitlines())
        names = {"MINIO_ROOT": ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"),
                 "AWS_ACCESS": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}[user]  # fmt: skip
        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.ip('minio')}:9000",
            region_name="us-east-1",
            aws_access_key_id=env[names[0]],
            aws_secret_access_key=env[names[1]],
        )

    def keys(self, prefix: str) -> list[str]:
        client = self.s3()
        found: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found


def write_env(path: Path, start_day: str, project: str) -> None:
    """The test deployment's .env: fresh random secrets each run, never written in the repo."""
    values = {
        "DAGSTER_PG_PASSWORD": secrets.token_hex(16),
        "MINIO_ROOT_USER": "doppel-root",
        "MINIO_ROOT_PASSWORD": secrets.token_hex(16),
        "AWS_ACCESS_KEY_ID": "doppel-test",
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
        "GRAFANA_ADMIN_PASSWORD": secrets.token_hex(16),
        "DOPPEL_START_DATE": start_day,
        "DOPPEL_PHOTOS_PER_DAY": str(PHOTOS_PER_DAY),
        # The gap-fill sensor heals a failed day within a minute here, not hours.
        "DOPPEL_GAP_SENSOR_INTERVAL_S": "20",
        "DOPPEL_GAP_RETRY_AFTER_MINUTES": "0.2",
        # Only the fault days, so it never touches the days of the one-container-per-run phase.
        "DOPPEL_GAP_LOOKBACK_DAYS": "3",
        # docker-compose.docker-runs.yml: the socket's group, and the project's own network.
        "DOCKER_SOCKET_GID": str(os.stat(DOCKER_SOCKET).st_gid),
        "DOPPEL_RUN_NETWORK": f"{project}_default",
    }
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)


def launch_day(stack: Stack, day: str, last_day: str | None = None) -> str:
    """`doppel backfill` inside the webserver container, against the webserver's GraphQL."""
    out = stack.compose(
        "exec", "-T", "webserver", "doppel", "backfill", "--from", day, "--to", last_day or day
    )
    found = re.search(r"^backfill (\S+):", out, re.M)
    if not found:
        raise CheckFailed(f"doppel backfill printed no id: {out.strip()}")
    return found.group(1)


def backfill_status(stack: Stack, backfill_id: str) -> str:
    rows = stack.sql("dagster", f"select status from bulk_actions where key = '{backfill_id}'")
    return rows[0][0] if rows else "MISSING"


def wait_backfill(stack: Stack, backfill_id: str, timeout_s: float) -> str:
    done = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
    return str(
        wait_for(
            f"backfill {backfill_id}",
            lambda: (s := backfill_status(stack, backfill_id)) in done and s,
            timeout_s,
            every_s=3,
        )
    )


def day_runs(stack: Stack, day: str) -> list[tuple[str, str]]:
    """(run id, status) of the day's runs, oldest first, from Dagster's own tables."""
    rows = stack.sql(
        "dagster",
        "select r.run_id, r.status from runs r join run_tags t on t.run_id = r.run_id "
        f"where t.key = 'dagster/partition' and t.value = '{day}' order by r.id",
    )
    return [(r[0], r[1]) for r in rows]


def day_rows(stack: Stack, day: str) -> dict[str, int]:
    rows = stack.sql(
        "doppel",
        "select "
        f"(select count(*) from inspiration_images where day = '{day}'),"
        f"(select count(*) from inspiration_images where day = '{day}' and status = 'stored'),"
        "(select count(*) from generated_images g join inspiration_images i "
        f" on i.id = g.inspiration_id where i.day = '{day}'),"
        "(select count(*) from generated_images g join inspiration_images i "
        f" on i.id = g.inspiration_id where i.day = '{day}' and g.status = 'succeeded'),"
        "(select coalesce(max(g.attempts), 0) from generated_images g join inspiration_images i"
        f" on i.id = g.inspiration_id where i.day = '{day}')",
    )
    photos, stored, looks, succeeded, attempts = (int(v) for v in rows[0])
    return {
        "photos": photos,
        "stored": stored,
        "lookalikes": looks,
        "succeeded": succeeded,
        "max_attempts": attempts,
    }


def day_object_keys(stack: Stack, day: str) -> list[str]:
    rows = stack.sql(
        "doppel",
        f"select object_key from inspiration_images where day = '{day}' and object_key is not null "
        "union all select g.object_key from generated_images g join inspiration_images i "
        f"on i.id = g.inspiration_id where i.day = '{day}' and g.object_key is not null",
    )
    return [r[0] for r in rows]


class Checks:
    def __init__(self, stack: Stack, table: Table):
        self.stack = stack
        self.table = table

    def day_complete(self, day: str, backfill_id: str, timeout_s: float) -> None:
        def probe() -> str:
            status = wait_backfill(self.stack, backfill_id, timeout_s)
            runs = day_runs(self.stack, day)
            if status != "COMPLETED_SUCCESS" or not runs or runs[-1][1] != "SUCCESS":
                raise CheckFailed(f"backfill {status}, runs {runs}")
            return f"backfill {backfill_id} {status}; runs {[s for _, s in runs]} in postgres"

        self.table.check(f"{day}: run succeeded (Dagster storage, container Postgres)", probe)

    def rows_and_objects(self, day: str) -> None:
        def rows() -> str:
            counts = day_rows(self.stack, day)
            if not (counts["stored"] == counts["succeeded"] == PHOTOS_PER_DAY):
                raise CheckFailed(f"{counts}")
            if counts["photos"] != PHOTOS_PER_DAY or counts["lookalikes"] != PHOTOS_PER_DAY:
                raise CheckFailed(f"duplicate rows: {counts}")
            return f"{counts}"

        def objects() -> str:
            keys = day_object_keys(self.stack, day)
            present = set(self.stack.keys(f"{PREFIX}/"))
            missing = [k for k in keys if f"{PREFIX}/{k}" not in present]
            if len(keys) != 2 * PHOTOS_PER_DAY or missing or len(set(keys)) != len(keys):
                raise CheckFailed(f"{len(keys)} keys in the database, missing {missing[:3]}")
            return f"{len(keys)} originals+look-alikes in s3://{BUCKET}/{PREFIX}/"

        self.table.check(f"{day}: photos and look-alikes in Doppel's database", rows)
        self.table.check(f"{day}: objects in the bucket", objects)

    def gallery(self, day: str) -> None:
        def probe() -> str:
            base = f"http://{self.stack.ip('gallery')}:8080"

            def served() -> bool:
                page = httpx.get(f"{base}/days/{day}.html", timeout=10)
                return page.status_code == 200

            wait_for(f"the gallery page of {day}", served, 300, every_s=5)
            index = httpx.get(f"{base}/", timeout=10)
            page = httpx.get(f"{base}/days/{day}.html", timeout=10)
            images = re.findall(r'src="(?:\.\./)*(media/[^"]+)"', page.text)
            if not images:
                raise CheckFailed("the day page shows no image")
            image = httpx.get(f"{base}/{images[0]}", timeout=10)
            codes = (index.status_code, page.status_code, image.status_code)
            if codes != (200, 200, 200) or not image.headers["content-type"].startswith("image/"):
                raise CheckFailed(f"index, day, image answered {codes}")
            framing = {(r.headers.get("x-frame-options"), r.headers.get("content-security-policy"))
                       for r in (index, page, image)}  # fmt: skip
            if framing != {("DENY", "frame-ancestors 'none'")}:
                raise CheckFailed(f"the gallery may be framed: {framing}")
            kind = image.headers["content-type"]
            return f"200 for /, /days/{day}.html, /{images[0][:24]}… ({kind}); none may be framed"

        self.table.check(f"{day}: nginx container serves the gallery", probe)

    def s3_user_owns_one_bucket(self) -> None:
        """Doppel's S3 user (deploy/minio/app-policy.sh) reads and writes its own bucket and
        nothing else: a write to another bucket, a read of it and a listing of the buckets
        are refused."""

        def probe() -> str:
            root, app = self.stack.s3(), self.stack.s3("AWS_ACCESS")
            if OTHER_BUCKET not in [b["Name"] for b in root.list_buckets()["Buckets"]]:
                root.create_bucket(Bucket=OTHER_BUCKET)
            root.put_object(Bucket=OTHER_BUCKET, Key="not-doppels.txt", Body=b"other")
            key = f"{PREFIX}/deploy-test-probe.txt"
            app.put_object(Bucket=BUCKET, Key=key, Body=b"mine")
            if app.get_object(Bucket=BUCKET, Key=key)["Body"].read() != b"mine":
                raise CheckFailed("its own bucket did not give back what it wrote")
            app.delete_object(Bucket=BUCKET, Key=key)
            refused = []
            for what, call in (
                ("write", lambda: app.put_object(Bucket=OTHER_BUCKET, Key="x", Body=b"x")),
                ("read", lambda: app.get_object(Bucket=OTHER_BUCKET, Key="not-doppels.txt")),
                ("list", lambda: app.list_objects_v2(Bucket=OTHER_BUCKET)),
                ("list buckets", app.list_buckets),
            ):
                try:
                    call()
                except ClientError as exc:
                    code = exc.response["Error"]["Code"]
                    if code != "AccessDenied":
                        raise CheckFailed(f"{what} on {OTHER_BUCKET}: {code}") from None
                    refused.append(what)
                else:
                    raise CheckFailed(f"{what} on {OTHER_BUCKET} was allowed")
            return (
                f"put/get/delete in s3://{BUCKET}/ ok; {', '.join(refused)} of "
                f"s3://{OTHER_BUCKET} AccessDenied"
            )

        self.table.check("S3: Doppel's user may use its own bucket only", probe)

    def prometheus(self) -> None:
        def probe() -> str:
            base = f"http://{self.stack.ip('prometheus')}:9090"

            def up() -> bool:
                targets = httpx.get(f"{base}/api/v1/targets", timeout=10).json()
                return any(
                    t["labels"]["job"] == "doppel" and t["health"] == "up"
                    for t in targets["data"]["activeTargets"]
                )

            wait_for("prometheus target doppel up", up, 120, every_s=5)
            query = "doppel_generations_total"
            result = httpx.get(f"{base}/api/v1/query", params={"query": query}, timeout=10).json()
            series = result["data"]["result"]
            if not series:
                raise CheckFailed(f"{query}: no series")
            return f"target exporter:9108 up; {query} has {len(series)} series"

        self.table.check("Prometheus scrapes the exporter", probe)

    def compute_logs(self, day: str) -> None:
        def probe() -> str:
            runs = [run_id for run_id, status in day_runs(self.stack, day) if status == "SUCCESS"]
            keys = self.stack.keys(f"{LOGS_PREFIX}/")
            mine = [k for k in keys if runs and runs[-1] in k]
            if not mine:
                raise CheckFailed(f"no key for run {runs[-1:]} among {len(keys)} log objects")
            return (
                f"{len(mine)} log objects for run {runs[-1][:8]} under s3://{BUCKET}/{LOGS_PREFIX}/"
            )

        self.table.check(f"{day}: the run's compute logs are in the bucket", probe)


# The Doppel services that must start only once the one-off migrate service has finished.
AFTER_MIGRATE = ["user_code", "webserver", "exporter"]


def container_state(stack: Stack, container: str) -> dict[str, Any]:
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{json .State}}", container],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def docker_time(value: str) -> datetime:
    """Docker's RFC 3339 times carry up to 9 fraction digits; Python reads 6."""
    whole, _, fraction = value.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


def migrated_first(stack: Stack) -> str:
    """The migrate service ran once, exited 0, and the Doppel services started after it."""
    containers = stack.compose("ps", "-a", "-q", "migrate").split()
    if len(containers) != 1:
        raise CheckFailed(f"{len(containers)} migrate containers")
    state = container_state(stack, containers[0])
    if state["Status"] != "exited" or state["ExitCode"] != 0:
        raise CheckFailed(f"migrate is {state['Status']}, exit code {state['ExitCode']}")
    # From the engine, not `compose logs`, which starts each line with terminal escapes.
    logs = subprocess.run(["docker", "logs", containers[0]], capture_output=True, text=True)
    said = [line for line in logs.stdout.splitlines() if line.startswith("database ")]
    if len(said) != 1 or "migrated from empty to" not in said[0]:
        raise CheckFailed(f"migrate said {said}")
    finished = docker_time(state["FinishedAt"])
    started = {s: docker_time(container_state(stack, stack.container(s))["StartedAt"])
               for s in AFTER_MIGRATE}  # fmt: skip
    if early := [s for s, at in started.items() if at < finished]:
        raise CheckFailed(f"{early} started before migrate finished at {state['FinishedAt']}")
    return f"exit 0 ({said[0].split(' migrated ')[1]}); {', '.join(AFTER_MIGRATE)} started after it"


WORKSPACE = "/opt/dagster/home/workspace.yaml"


def gap_sensor(stack: Stack, action: str) -> None:
    """Start or stop the gap-fill sensor (`dagster sensor start|stop` in the webserver)."""
    stack.compose("exec", "-T", "webserver", "dagster", "sensor", action, "gap_fill_sensor",
                  "-w", WORKSPACE)  # fmt: skip


def step_started(stack: Stack, day: str, step: str) -> bool:
    rows = stack.sql(
        "dagster",
        "select count(*) from event_logs e join run_tags t on t.run_id = e.run_id "
        f"where t.key = 'dagster/partition' and t.value = '{day}' "
        f"and e.dagster_event_type = 'STEP_START' and e.step_key like '{step}%'",
    )
    return int(rows[0][0]) > 0


def failure_text(stack: Stack, day: str) -> str:
    """The error messages of the day's failed steps and runs, from Dagster's event log."""
    rows = stack.sql(
        "dagster",
        "select e.event from event_logs e join run_tags t on t.run_id = e.run_id "
        f"where t.key = 'dagster/partition' and t.value = '{day}' "
        "and e.dagster_event_type in ('STEP_FAILURE', 'RUN_FAILURE', 'PIPELINE_FAILURE')",
    )
    messages: list[str] = []
    for (event,) in rows:
        messages += re.findall(r'"message": "((?:[^"\\]|\\.)*)"', event)
    return " | ".join(dict.fromkeys(m for m in messages if m))


def day_healed(stack: Stack, day: str, timeout_s: float) -> list[tuple[str, str]]:
    """Wait until the day's newest run succeeded and every photo has its look-alike."""

    def healed() -> list[tuple[str, str]] | None:
        runs = day_runs(stack, day)
        counts = day_rows(stack, day)
        if runs and runs[-1][1] == "SUCCESS" and counts["succeeded"] == PHOTOS_PER_DAY:
            return runs
        return None

    return list(wait_for(f"{day} to complete", healed, timeout_s, every_s=3))


def nothing_twice(stack: Stack, day: str) -> str:
    """One row per photo, one look-alike object per row, each row's bytes the stored ones."""
    counts = day_rows(stack, day)
    if counts["photos"] != PHOTOS_PER_DAY or counts["lookalikes"] != PHOTOS_PER_DAY:
        raise CheckFailed(f"duplicate or missing rows: {counts}")
    pngs = [k for k in stack.keys(f"{PREFIX}/generated/{day}/") if k.endswith(".png")]
    originals = day_object_keys(stack, day)
    if len(pngs) != PHOTOS_PER_DAY or len(set(originals)) != len(originals):
        raise CheckFailed(f"{len(pngs)} look-alike objects for {PHOTOS_PER_DAY} photos")
    if counts["max_attempts"] != 1:
        raise CheckFailed(f"a look-alike was generated more than once: {counts}")
    return f"{counts['photos']} photos, {len(pngs)} look-alikes, each made once"


# What a run logs when it leaves a photo to the run that claimed it (pipeline/lib/day/generate.py).
MADE_ELSEWHERE = "is being made by another run"


def worker_command(day: str, worker: str) -> list[str]:
    """`doppel run --day DAY` in a one-off container of the Doppel image, with a Dagster
    instance of its own (as a second deployment pointed at the same database would have):
    no run queue or pool is shared, only Doppel's database and the bucket."""
    own = ["-e", f"DAGSTER_HOME=/tmp/{worker}", "-e", f"DOPPEL_START_DATE={day}"]
    return ["run", "--rm", "--no-deps", "-T", *own, "user_code", "doppel", "run", "--day", day]


def workers_verdict(day: str, outputs: Sequence[str], counts: dict[str, int]) -> str:
    """Both workers finished the day, and each photo was made and recorded once (a second
    making, an adopted copy or a recorded failure would count an attempt more)."""
    whole = f"{day}: {PHOTOS_PER_DAY} of {PHOTOS_PER_DAY} look-alikes"
    for number, output in enumerate(outputs, 1):
        if whole not in output:
            last = output.strip().splitlines()[-1:] or ["(nothing)"]
            raise CheckFailed(f"worker {number} did not end the day whole: {last[0][:200]}")
    if not counts["photos"] == counts["lookalikes"] == counts["succeeded"] == PHOTOS_PER_DAY:
        raise CheckFailed(f"rows: {counts}")
    if counts["max_attempts"] != 1:
        raise CheckFailed(f"a photo was made or recorded more than once: {counts}")
    left = " and ".join(str(output.count(MADE_ELSEWHERE)) for output in outputs)
    return (
        f"{len(outputs)} workers exit 0; {PHOTOS_PER_DAY} photos, each made once "
        f"(photos left to the other worker: {left})"
    )


def two_workers(stack: Stack, table: Table, day: str) -> None:
    """Two workers make the same day at once."""

    def probe() -> str:
        outputs: dict[int, str] = {}
        errors: list[str] = []

        def work(number: int) -> None:
            try:
                command = worker_command(day, f"worker{number}")
                outputs[number] = stack.compose(*command, timeout_s=900, with_logs=True)
            except (CheckFailed, subprocess.TimeoutExpired) as exc:
                errors.append(f"worker {number}: {exc}")

        threads = [threading.Thread(target=work, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise CheckFailed("; ".join(errors))
        return workers_verdict(day, [outputs[1], outputs[2]], day_rows(stack, day))

    table.check(f"{day}: two workers make the same day at once", probe)


def snapshot(stack: Stack, days: Sequence[str]) -> dict[str, Any]:
    """What must survive `down`/`up`: runs, rows, objects, the gallery's index."""
    gallery = httpx.get(f"http://{stack.ip('gallery')}:8080/", timeout=10)
    return {
        "runs": {d: day_runs(stack, d) for d in days},
        "rows": {d: day_rows(stack, d) for d in days},
        "objects": sorted(stack.keys(f"{PREFIX}/")),
        "gallery": (gallery.status_code, len(gallery.content)),
    }


def faults(stack: Stack, table: Table, pg_day: str, s3_day: str) -> None:
    """Break a day two ways, then let the gap-fill sensor heal both: with the sensor on from
    the start it would also fill the day not yet broken, so it waits until both have failed."""
    outage: dict[str, float] = {}

    def failed_day(day: str) -> str | None:
        runs = day_runs(stack, day)
        return failure_text(stack, day) if runs and runs[-1][1] == "FAILURE" else None

    def s3_stopped() -> str:
        outage["start"] = time.monotonic()
        stack.compose("stop", "minio")
        launch_day(stack, s3_day)
        error = str(wait_for(f"{s3_day} to fail without S3", lambda: failed_day(s3_day), 300, 3))
        if not re.search(r"endpoint|connect", error, re.I):
            raise CheckFailed(f"the failure does not say S3 is unreachable: {error[:200]}")
        time.sleep(max(0.0, 60 - (time.monotonic() - outage["start"])))
        stack.compose("start", "minio")
        outage["seconds"] = time.monotonic() - outage["start"]
        return f"S3 down {outage['seconds']:.0f} s; the day failed: {error[:90]!r}"

    def postgres_restarted() -> str:
        launch_day(stack, pg_day)
        started = lambda: step_started(stack, pg_day, "generated_images")  # noqa: E731
        wait_for("generation to start", started, 600, 1)
        stack.compose("restart", "postgres")

        def ended() -> str | None:
            runs = day_runs(stack, pg_day)
            status = runs[-1][1] if runs else ""
            return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

        # The run may ride it out (connections are checked before use) or fail; either way
        # the day must end complete, below.
        status = str(wait_for(f"{pg_day}'s run to end", ended, 600, 3))
        why = f": {failure_text(stack, pg_day)[:80]!r}" if status == "FAILURE" else ""
        return f"restarted during generated_images; the run ended {status}{why}"

    broken = [
        table.check(f"{s3_day}: S3 stopped a minute: the day fails, saying why", s3_stopped),
        table.check(f"{pg_day}: Postgres restarted mid-generation", postgres_restarted),
    ]
    if not all(broken):
        return
    # A failed step is the gap-fill sensor's to heal (run retries cover dead run workers).
    gap_sensor(stack, "start")
    try:
        for day in (s3_day, pg_day):

            def healed(day: str = day) -> str:
                runs = day_healed(stack, day, 900)
                return f"runs {[s for _, s in runs]}; " + nothing_twice(stack, day)

            table.check(f"{day}: completes (gap-fill sensor if it failed), nothing twice", healed)
    finally:
        gap_sensor(stack, "stop")


def run_tag(stack: Stack, run_id: str, key: str) -> str:
    rows = stack.sql(
        "dagster", f"select value from run_tags where run_id = '{run_id}' and key = '{key}'"
    )
    return rows[0][0] if rows else ""


def run_containers() -> dict[str, str]:
    """Container id → run id of every run container on the engine, running or not."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--no-trunc", "--filter", f"label={RUN_LABEL}",
         "--format", '{{.ID}} {{.Label "' + RUN_LABEL + '"}}'],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def one_container_per_run(stack: Stack, table: Table, days: Sequence[str]) -> None:
    """docker-compose.docker-runs.yml on top: a backfill of `days` whose runs each get a
    container of their own, one of them killed mid-generation. Run monitoring notices the
    dead container and the run retry (not the gap-fill sensor, which stays off) completes it."""
    seen: dict[str, str] = {}  # every run container the engine had, container id → run id
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            # A failed look is retried a second later: a run container lives far longer.
            with contextlib.suppress(subprocess.CalledProcessError):
                seen.update(run_containers())
            stop.wait(1)

    def switch() -> str:
        stack.files.append(DOCKER_RUNS_FILE)
        stack.compose("up", "-d", "--wait", *SERVICES, "daemon")
        launcher = stack.compose(
            "exec", "-T", "daemon", "python", "-c",
            "import dagster; print(type(dagster.DagsterInstance.get().run_launcher).__name__)",
        ).strip()  # fmt: skip
        if launcher != "EnvForwardingDockerRunLauncher":
            raise CheckFailed(f"the daemon's run launcher is {launcher}")
        return f"daemon and webserver recreated with {DOCKER_RUNS_FILE}: run launcher {launcher}"

    killed: dict[str, str] = {}

    def kill() -> str:
        killed["backfill"] = launch_day(stack, days[0], days[-1])

        def generating() -> tuple[str, str] | None:
            for day in days:
                runs = day_runs(stack, day)
                started = runs and runs[-1][1] == "STARTED"
                if started and step_started(stack, day, "generated_images"):
                    return day, runs[-1][0]
            return None

        day, run_id = wait_for("a run to start generating", generating, 900, every_s=1)
        container = run_tag(stack, run_id, CONTAINER_TAG)
        if not container:
            raise CheckFailed(f"run {run_id} has no {CONTAINER_TAG} tag: not in a container")
        subprocess.run(["docker", "kill", container], check=True, capture_output=True)
        made = day_rows(stack, day)["succeeded"]
        killed.update(day=day, run=run_id)

        def ended() -> str | None:
            status = dict(day_runs(stack, day)).get(run_id, "")
            return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

        status = str(wait_for(f"run {run_id} to be marked ended", ended, 600, every_s=3))
        if status != "FAILURE":
            raise CheckFailed(f"the killed run ended {status}")
        return (
            f"backfill {killed['backfill']} {days[0]}..{days[-1]}; killed {container[:12]} "
            f"(run {run_id[:8]}) in generated_images, {made}/{PHOTOS_PER_DAY} look-alikes made; "
            "run monitoring marked the run FAILURE"
        )

    def retried() -> str:
        # Behind the backfill's other runs in the queue (two backfill runs at a time).
        runs = day_healed(stack, killed["day"], 1800)
        retry = [r for r, _ in runs if run_tag(stack, r, "dagster/parent_run_id") == killed["run"]]
        if not retry or runs[-1][0] != retry[-1]:
            raise CheckFailed(f"no successful retry of {killed['run']}: runs {runs}")
        return f"retry {retry[-1][:8]} SUCCESS; " + nothing_twice(stack, killed["day"])

    def containers() -> str:
        for day in days:
            day_healed(stack, day, 900)
        runs = [run_id for day in days for run_id, _ in day_runs(stack, day)]
        of_run = {run_id: run_tag(stack, run_id, CONTAINER_TAG) for run_id in runs}
        alone = [r for r, c in of_run.items() if c and seen.get(c) == r]
        if len(alone) != len(runs) or len(set(of_run.values())) != len(runs):
            raise CheckFailed(f"runs without a container of their own: {of_run}, seen {seen}")
        firsts = [r for r in runs if not run_tag(stack, r, "dagster/parent_run_id")]
        if len(firsts) != len(days):
            raise CheckFailed(f"{len(firsts)} first runs for {len(days)} days")
        left = lambda: not set(of_run.values()) & set(run_containers())  # noqa: E731
        wait_for("the run containers to be removed", left, 120, every_s=2)
        for day in days:
            if day != killed.get("day"):
                nothing_twice(stack, day)
        status = backfill_status(stack, killed["backfill"])
        return (
            f"{len(runs)} runs ({len(firsts)} + {len(runs) - len(firsts)} retry) in "
            f"{len(runs)} containers, each seen on the engine, all removed; every day's newest "
            f"run SUCCESS, nothing twice; backfill {status}"
        )

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        if table.check("one container per run: DockerRunLauncher profile up", switch) and (
            table.check("run container killed mid-generation: run monitoring fails it", kill)
        ):
            table.check(f"{killed['day']}: the run retry completes it, nothing twice", retried)
        if "backfill" in killed:
            table.check(f"{days[0]}..{days[-1]}: 3-day backfill, a container per run", containers)
    finally:
        stop.set()
        watcher.join()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", default="doppel-test")
    parser.add_argument("--state", type=Path, default=Path("/tmp/doppel-deploy-test"))
    parser.add_argument(
        "--only-docker-runs",
        action="store_true",
        help="only the one-container-per-run phase (to work on it; not a passing run)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()

    # The last complete UTC day, and the two before it for the faults.
    today = clock.utc_now().date()
    day = (today - timedelta(days=1)).isoformat()
    fault_day = (today - timedelta(days=2)).isoformat()
    s3_day = (today - timedelta(days=3)).isoformat()
    # The oldest three: the backfill of one container per run.
    run_days = [(today - timedelta(days=n)).isoformat() for n in (6, 5, 4)]
    # Before them all, the day two workers make at once (no other phase touches it).
    workers_day = (today - timedelta(days=7)).isoformat()
    env_file = args.state / "test.env"
    write_env(env_file, start_day=run_days[0], project=args.project)
    stack = Stack(args.project, env_file)
    table = Table()
    checks = Checks(stack, table)

    stack.compose("down", "-v", "--remove-orphans")
    up_ok = table.check(
        "stack up and healthy (without the daemon)",
        lambda: (
            (stack.compose("up", "-d", "--wait", *SERVICES) and "")
            + f"{len(stack.compose('ps', '-q').split())} containers healthy"
        ),
    )
    if up_ok:
        table.check("migrate: one-off, ran once, exit 0, before the Doppel services",
                    lambda: migrated_first(stack))  # fmt: skip
        # The gap-fill sensor stays off until the test wants it, so each day is launched
        # the way the test says; the schedule fires only at 01:00.
        stack.compose(
            "exec", "-T", "webserver", "dagster", "sensor", "stop", "gap_fill_sensor",
            "-w", "/opt/dagster/home/workspace.yaml",
        )  # fmt: skip
        checks.s3_user_owns_one_bucket()
        if not args.only_docker_runs:
            two_workers(stack, table, workers_day)
        backfill = {}
        if args.only_docker_runs:
            one_container_per_run(stack, table, run_days)

        def launch() -> str:
            backfill["id"] = launch_day(stack, day)
            stack.compose("up", "-d", "daemon")
            return f"doppel backfill --from {day} --to {day} in webserver → {backfill['id']}"

        launched = not args.only_docker_runs and table.check(
            f"{day}: launched through the containerized webserver", launch
        )
        if launched:
            checks.day_complete(day, backfill["id"], timeout_s=900)
            checks.rows_and_objects(day)
            checks.gallery(day)
            from votes_rows import votes_rows  # this folder: stack.py runs as a script

            votes_rows(stack, table, day)
            checks.prometheus()
            checks.compute_logs(day)

            def down_up() -> str:
                before = snapshot(stack, [day])
                stack.compose("down")
                stack.compose("up", "-d", "--wait", *SERVICES, "daemon")
                after = wait_for("the gallery after up", lambda: snapshot(stack, [day]), 120)
                if after != before:
                    diff = [k for k in before if before[k] != after[k]]
                    raise CheckFailed(f"changed across down/up: {diff}")
                return (
                    f"{len(after['objects'])} objects, runs, rows and gallery "
                    f"({after['gallery'][1]} B index) unchanged"
                )

            table.check("down then up: everything still there", down_up)
            faults(stack, table, fault_day, s3_day)
            one_container_per_run(stack, table, run_days)

    print(f"\nDoppel deploy-test ({time.monotonic() - started:.0f} s in the stack)")
    print(table.render())
    failed = [r for r in table.rows if not r.ok]
    if failed:
        log_tail = stack.compose("logs", "--tail", "30", "--no-color")
        print(log_tail[-6000:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
