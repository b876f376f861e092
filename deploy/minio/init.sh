#!/bin/sh
# One-shot MinIO set-up (the minio-init service): the bucket, the user Doppel writes as (its
# own bucket only), and anonymous read access to the gallery's prefix only. Every step is
# idempotent, so this runs on every `docker compose up`.
set -eu

mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$DOPPEL_S3_BUCKET"

# Doppel's own credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in .env), not root's,
# allowed its own bucket only (app-policy.sh), not MinIO's built-in readwrite (every bucket).
mc admin user add local "$DOPPEL_ACCESS_KEY_ID" "$DOPPEL_SECRET_ACCESS_KEY" >/dev/null
sh "$(dirname "$0")/app-policy.sh" >/tmp/doppel-app-policy.json
mc admin policy create local doppel-app /tmp/doppel-app-policy.json >/dev/null
mc admin policy attach local doppel-app --user "$DOPPEL_ACCESS_KEY_ID" >/dev/null 2>&1 || true
# A stack set up before this change had readwrite attached: take it back.
mc admin policy detach local readwrite --user "$DOPPEL_ACCESS_KEY_ID" >/dev/null 2>&1 || true

# nginx reads the published gallery anonymously; originals, look-alikes, tables and run
# logs elsewhere in the bucket stay private.
mc anonymous set download "local/$DOPPEL_S3_BUCKET/$DOPPEL_SITE_KEY_PREFIX"
echo "minio-init: bucket $DOPPEL_S3_BUCKET ready; public read on $DOPPEL_SITE_KEY_PREFIX/"
