"""The test stack's minio-init: the bucket on moto's S3 server (moto checks no credentials or
bucket policies, so MinIO's user and anonymous-read steps have nothing to set). Idempotent."""

import os
import urllib.error
import urllib.request

bucket = os.environ["DOPPEL_S3_BUCKET"]
request = urllib.request.Request(f"http://minio:9000/{bucket}", method="PUT")
try:
    urllib.request.urlopen(request, timeout=30)
except urllib.error.HTTPError as exc:
    if exc.code != 409:  # BucketAlreadyOwnedByYou on a later `up`
        raise
print(f"s3-init: bucket {bucket} ready")
