#!/bin/sh
# Runs once, when the postgres container starts on an empty volume: Doppel's tables get a
# database of their own (DOPPEL_PG_DB) beside Dagster's (POSTGRES_DB), as both use Alembic.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --command "CREATE DATABASE \"${DOPPEL_PG_DB}\" OWNER \"${POSTGRES_USER}\""
