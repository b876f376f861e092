"""The test stack's minio-init, for moto's S3 server: the bucket, and anonymous read of the
gallery's prefix only (what nginx serves), as deploy/minio/init.sh sets on MinIO. moto
enforces that bucket policy for anonymous requests; it has no users, so MinIO's user step has
nothing to set here. Idempotent: runs on every `up`."""

import json
import os

import boto3

bucket = os.environ["DOPPEL_S3_BUCKET"]
site = os.environ["DOPPEL_SITE_KEY_PREFIX"]
s3 = boto3.client(
    "s3",
    endpoint_url="http://minio:9000",
    region_name="us-east-1",
    aws_access_key_id=os.environ["DOPPEL_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["DOPPEL_SECRET_ACCESS_KEY"],
)
if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket=bucket)
policy = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/{site}/*"],
        }
    ],
}
s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
print(f"s3-init: bucket {bucket} ready; public read on {site}/")
