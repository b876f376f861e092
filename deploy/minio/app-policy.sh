#!/bin/sh
# The policy of the user Doppel writes as: read and write its own bucket (DOPPEL_S3_BUCKET),
# nothing else; no other bucket, no listing of buckets, no admin. Printed as JSON for
# `mc admin policy create` (init.sh) and, in `make deploy-test`, for the S3 stand-in's IAM
# (deploy/test/s3-init.py), so both enforce this one document.
set -eu
bucket="arn:aws:s3:::${DOPPEL_S3_BUCKET:?the bucket Doppel uses}"
cat <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
      "Resource": ["$bucket"]
    },
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                 "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
      "Resource": ["$bucket/*"]
    }
  ]
}
JSON
