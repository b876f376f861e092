"""moto's S3 server standing in for MinIO in `make deploy-test`, with MinIO's access rules.

moto checks IAM (identities, signatures, attached policies) once INITIAL_NO_AUTH_ACTION_COUNT
requests have passed; here that is from the first request:

- the root user (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD, the variables MinIO itself reads)
  may do anything;
- the user Doppel writes as (DOPPEL_ACCESS_KEY_ID / DOPPEL_SECRET_ACCESS_KEY) exists with no
  rights of its own: MinIO's init makes it with `mc admin user add`, whose chosen key moto's
  API cannot set, so it is made here. What it may do is only what the IAM API attaches to it
  (deploy/test/s3-init.py attaches deploy/minio/app-policy.sh's policy, the one init.sh gives
  MinIO);
- an anonymous request (nginx reading the gallery) gets what the bucket's policy grants to
  everyone and nothing else. moto's IAM check needs a signature, so that case is decided
  here, by moto's own policy evaluation.

The requests recorded before are replayed first, under the same checks (their signatures
still hold: the users and keys are made again from the same variables), so a request that was
refused stays refused; then the health check's marker is written.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import urllib.request
from pathlib import Path
from typing import Any

from moto import settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import PermissionResult
from moto.iam.models import iam_backends
from moto.s3.exceptions import S3AccessDeniedError
from moto.server import ThreadedMotoServer

PORT = int(os.environ.get("S3_PORT", "9000"))
READY = Path(os.environ.get("S3_READY_FILE", "/tmp/ready"))  # the health check looks for it
EVERYTHING = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}  # fmt: skip


def add_user(access_key: str, secret: str, inline_policy: dict[str, Any] | None) -> None:
    """An IAM user named as its access key (as MinIO names users), with that key."""
    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    iam.create_user(region_name="us-east-1", user_name=access_key, path="/", tags=[])
    key = iam.create_access_key(user_name=access_key, prefix="AKIA")
    key.access_key_id, key.secret_access_key = access_key, secret
    if inline_policy is not None:
        iam.put_user_policy(access_key, "root", json.dumps(inline_policy))


def anonymous_by_bucket_policy() -> None:
    """An unsigned request is judged by the bucket's policy alone, as S3 and MinIO do."""
    signed_check = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action

    def check(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
        if "Authorization" in self.headers or "Signature=" in self.uri:  # signed: IAM decides
            signed_check(self, bucket_name=bucket_name, key_name=key_name)
            return
        if not bucket_name:
            raise S3AccessDeniedError()
        resource = f"arn:aws:s3:::{bucket_name}" + (f"/{key_name}" if key_name else "")
        bucket = self.backend.get_bucket(bucket_name)
        allowed = bucket.get_permission(f"s3:{self._get_action()}", resource)
        if allowed != PermissionResult.PERMITTED:
            raise S3AccessDeniedError()

    ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = check  # type: ignore[method-assign]


def main() -> None:
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # every request is checked, replayed ones too
    add_user(os.environ["MINIO_ROOT_USER"], os.environ["MINIO_ROOT_PASSWORD"], EVERYTHING)
    add_user(os.environ["DOPPEL_ACCESS_KEY_ID"], os.environ["DOPPEL_SECRET_ACCESS_KEY"], None)
    anonymous_by_bucket_policy()
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=PORT)
    server.start()
    replay = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/moto-api/recorder/replay-recording", method="POST"
    )
    urllib.request.urlopen(replay).close()
    recorded = Path(os.environ["MOTO_RECORDER_FILEPATH"]).read_text().count("\n")
    READY.write_text(f"s3: replayed {recorded} recorded requests; IAM enforced; ready\n")
    print(READY.read_text(), end="", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
