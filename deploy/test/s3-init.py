"""The test stack's minio-init, for the S3 stand-in (moto, deploy/test/bases/s3/serve.py): what
deploy/minio/init.sh does on MinIO, as root: the bucket; the policy of the user Doppel writes
as, from the same deploy/minio/app-policy.sh, attached to that user through the IAM API (its
own bucket only; the stand-in enforces it); and anonymous read of the gallery's prefix only.
Idempotent: runs on every `up`."""

import json
import os
import subprocess

import boto3

ENDPOINT = os.environ.get("DOPPEL_S3_INIT_ENDPOINT", "http://minio:9000")
POLICY_NAME = "doppel-app"

bucket = os.environ["DOPPEL_S3_BUCKET"]
site = os.environ["DOPPEL_SITE_KEY_PREFIX"]
user = os.environ["DOPPEL_ACCESS_KEY_ID"]  # the stand-in names users by their key, as MinIO
root = {
    "endpoint_url": ENDPOINT,
    "region_name": "us-east-1",
    "aws_access_key_id": os.environ["MINIO_ROOT_USER"],
    "aws_secret_access_key": os.environ["MINIO_ROOT_PASSWORD"],
}
s3, iam = boto3.client("s3", **root), boto3.client("iam", **root)

if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket=bucket)

document = subprocess.run(
    ["sh", os.path.join(os.path.dirname(__file__), "minio", "app-policy.sh")],
    capture_output=True, text=True, check=True,
).stdout  # fmt: skip
policies = iam.list_policies(Scope="Local")["Policies"]
arn = next((p["Arn"] for p in policies if p["PolicyName"] == POLICY_NAME), None)
if arn is None:
    arn = iam.create_policy(PolicyName=POLICY_NAME, PolicyDocument=document)["Policy"]["Arn"]
elif (
    json.loads(document)
    != iam.get_policy_version(
        PolicyArn=arn, VersionId=iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
):
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
attached = iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
if arn not in [p["PolicyArn"] for p in attached]:
    iam.attach_user_policy(UserName=user, PolicyArn=arn)

public_read = {
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
s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read))
print(f"s3-init: bucket {bucket} ready; {user} may use it alone; public read on {site}/")
