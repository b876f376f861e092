"""`make deploy-test`'s S3 stand-in (moto, deploy/test/bases/s3/serve.py, in a process of its
own) with its minio-init (deploy/test/s3-init.py): the policy deploy/minio/app-policy.sh gives
Doppel's user (the one init.sh gives it on MinIO) lets it use its own bucket and nothing else,
anonymous readers get the gallery's prefix only, and after a restart (the recording replayed)
what was refused stays refused."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from pipeline_tests.conftest import free_port
from pipeline_tests.deploy.tools import REPO

ROOT = ("doppel-root", "root-secret-123")
APP = ("doppel-app-key", "app-secret-456")
ENV = {
    "MINIO_ROOT_USER": ROOT[0], "MINIO_ROOT_PASSWORD": ROOT[1],
    "DOPPEL_ACCESS_KEY_ID": APP[0], "DOPPEL_SECRET_ACCESS_KEY": APP[1],
    "DOPPEL_S3_BUCKET": "doppel", "DOPPEL_SITE_KEY_PREFIX": "doppel/site",
    "MOTO_ENABLE_RECORDING": "true", "AWS_DEFAULT_REGION": "us-east-1",
}  # fmt: skip


class StandIn:
    def __init__(self, folder: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | ENV | {
            "S3_PORT": str(self.port), "S3_READY_FILE": str(folder / "ready"),
            "MOTO_RECORDER_FILEPATH": str(folder / "recording.jsonl"),
            "DOPPEL_S3_INIT_ENDPOINT": self.url,
        }  # fmt: skip
        Path(self.env["MOTO_RECORDER_FILEPATH"]).touch()
        # minio-init's layout: its script beside the folder of deploy/minio.
        (folder / "init").mkdir()
        (folder / "init" / "init.py").symlink_to(REPO / "deploy/test/s3-init.py")
        (folder / "init" / "minio").symlink_to(REPO / "deploy/minio")
        self.init = folder / "init" / "init.py"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        serve = REPO / "deploy/test/bases/s3/serve.py"
        self.process = subprocess.Popen(
            [sys.executable, str(serve)], env=self.env, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # its ready line comes once the replay is done
            if line.startswith("s3: replayed"):
                break
        else:
            raise AssertionError(f"the stand-in ended before it was ready: {self.process.wait()}")
        with mock.patch.dict(os.environ, self.env):  # minio-init, in this process
            runpy.run_path(str(self.init), run_name="__main__")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def s3(self, user: tuple[str, str]) -> Any:
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=user[0], aws_secret_access_key=user[1])  # fmt: skip


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[StandIn]:
    running = StandIn(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def refused(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def assert_only_its_own_bucket(stand_in: StandIn) -> None:
    app = stand_in.s3(APP)
    assert app.get_object(Bucket="doppel", Key="doppel/tables/day.json")["Body"].read() == b"{}"
    assert [o["Key"] for o in app.list_objects_v2(Bucket="doppel")["Contents"]] == [
        "doppel/site/index.html", "doppel/tables/day.json",
    ]  # fmt: skip
    assert refused(lambda: app.put_object(Bucket="other", Key="x", Body=b"x")) == "AccessDenied"
    assert refused(lambda: app.get_object(Bucket="other", Key="theirs.txt")) == "AccessDenied"
    assert refused(app.list_buckets) == "AccessDenied"
    assert refused(lambda: app.delete_bucket_policy(Bucket="doppel")) == "AccessDenied"
    wrong = stand_in.s3((APP[0], "not-the-secret"))
    assert refused(lambda: wrong.list_objects_v2(Bucket="doppel")) == "SignatureDoesNotMatch"
    # Anonymous readers (nginx): the gallery's prefix, nothing else, and no writes.
    assert httpx.get(f"{stand_in.url}/doppel/doppel/site/index.html").text == "<h1>days</h1>"
    assert httpx.get(f"{stand_in.url}/doppel/doppel/tables/day.json").status_code == 403
    assert httpx.put(f"{stand_in.url}/doppel/doppel/site/x.html", content=b"x").status_code == 403
    assert stand_in.s3(ROOT).get_object(Bucket="other", Key="theirs.txt")["Body"].read() == b"t"


@pytest.mark.slow  # two servers and two inits in processes of their own: seconds
def test_doppels_user_may_use_its_own_bucket_only_before_and_after_a_restart(
    stand_in: StandIn,
) -> None:
    root, app = stand_in.s3(ROOT), stand_in.s3(APP)
    root.create_bucket(Bucket="other")
    root.put_object(Bucket="other", Key="theirs.txt", Body=b"t")
    app.put_object(Bucket="doppel", Key="doppel/site/index.html", Body=b"<h1>days</h1>")
    app.put_object(Bucket="doppel", Key="doppel/tables/day.json", Body=b"{}")
    app.put_object(Bucket="doppel", Key="doppel/tmp.bin", Body=b"x")
    app.delete_object(Bucket="doppel", Key="doppel/tmp.bin")
    assert_only_its_own_bucket(stand_in)
    stand_in.stop()  # `down` then `up`: the recording replayed, refusals refused again
    stand_in.start()
    assert_only_its_own_bucket(stand_in)
