#!/usr/bin/env bash
# `make deploy-test`: the production image and compose stack, run for real on this machine.
# Installs and starts the Docker engine if missing, builds local stand-ins for the base images
# (no registry is reachable; cached by a hash of their inputs), builds the Doppel image from the
# production Dockerfile, then hands over to deploy/test/stack.py, which brings the stack up,
# runs a day end to end, injects the faults and prints the table. Everything it started is
# stopped at the end: the test stack (its own compose project and volumes) and, if this script
# started it, the engine.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
STATE=${DOPPEL_DEPLOY_TEST_STATE:-/tmp/doppel-deploy-test}
PROJECT=doppel-test
COMPOSE_DEB=2.26.1-4
BUILDX_DEB=0.13.1+ds1-3
mkdir -p "$STATE"
started_engine=""

log() { printf 'deploy-test: %s\n' "$*" >&2; }
# The one-line verdict when the engine itself is the problem; CI may go on only then.
engine_failed() {
  printf 'deploy-test: ENGINE UNAVAILABLE: %s\n' "$*" >&2
  exit 3
}

cleanup() {
  local status=$?
  if docker info >/dev/null 2>&1; then
    # Run containers (docker-compose.docker-runs.yml) are the engine's, not compose's: remove
    # any of this project's network before compose removes the network itself.
    docker ps -aq --filter label=dagster/run_id --filter "network=${PROJECT}_default" |
      xargs -r docker rm -f >/dev/null 2>&1 || true
    docker compose -p "$PROJECT" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  if [ -n "$started_engine" ]; then
    log "stopping the engine this run started (pid $started_engine)"
    kill "$started_engine" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$started_engine" 2>/dev/null || break; sleep 1; done
  fi
  exit "$status"
}
trap cleanup EXIT

apt_install() {
  log "installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Compose v2 and buildx: bookworm has only compose v1, which cannot read docker-compose.yml.
# Debian's next release on the same mirror has them, depending only on libc6 >= 2.34.
install_compose() {
  local lists="$STATE/apt-trixie"
  mkdir -p "$lists/lists/partial" "$lists/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    >"$lists/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$lists/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$lists/lists" -o "Dir::Cache=$lists/cache")
  log "installing docker-compose $COMPOSE_DEB and docker-buildx $BUILDX_DEB from trixie"
  apt-get "${opts[@]}" update -qq
  (cd "$lists" && apt-get "${opts[@]}" download -qq "docker-compose=$COMPOSE_DEB" "docker-buildx=$BUILDX_DEB" 2>/dev/null)
  dpkg -i "$lists"/docker-compose_*.deb "$lists"/docker-buildx_*.deb >/dev/null
}

ensure_engine() {
  command -v dockerd >/dev/null || apt_install docker.io
  command -v mmdebstrap >/dev/null || apt_install mmdebstrap
  docker compose version 2>/dev/null | grep -q "v\?${COMPOSE_DEB%%-*}" || install_compose
  if docker info >/dev/null 2>&1; then
    return
  fi
  log "starting dockerd"
  # No systemd here: the engine runs in the background for this test only.
  dockerd >"$STATE/dockerd.log" 2>&1 &
  started_engine=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    kill -0 "$started_engine" 2>/dev/null || break
    sleep 1
  done
  local why
  why=$(grep -iE 'level=(fatal|error)' "$STATE/dockerd.log" | tail -1 | sed 's/.*msg="\([^"]*\)".*/\1/')
  started_engine=""
  engine_failed "dockerd did not answer within 60 s: ${why:-see $STATE/dockerd.log}"
}

# quietly NAME COMMAND...: the command's output goes to $STATE/NAME.log, shown only if it fails.
quietly() {
  local name=$1
  shift
  if ! "$@" >"$STATE/$name.log" 2>&1; then
    tail -n 25 "$STATE/$name.log" >&2
    log "$name failed (full log: $STATE/$name.log)"
    return 1
  fi
}

# A hash of the files that make an image, so an unchanged base is never rebuilt.
inputs_hash() {
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "${2:-}") | sha256sum | cut -c1-16
}

built_from() {
  docker image inspect -f '{{ index .Config.Labels "doppel.inputs" }}' "$1" 2>/dev/null || true
}

# debian:bookworm-slim from a minbase root filesystem made with the host's apt sources.
build_rootfs() {
  local sources=/etc/apt/sources.list.d/debian.sources
  [ -f "$sources" ] || sources=/etc/apt/sources.list
  local hash
  hash=$( (echo "mmdebstrap minbase bookworm ca-certificates"; cat "$sources") | sha256sum | cut -c1-16)
  if [ "$(built_from debian:bookworm-slim)" = "$hash" ]; then
    return
  fi
  log "building the debian:bookworm-slim stand-in (mmdebstrap)"
  quietly mmdebstrap mmdebstrap --variant=minbase --include=ca-certificates bookworm "$STATE/rootfs.tar" "$sources"
  quietly import docker import --change "LABEL doppel.inputs=$hash" --change 'CMD ["bash"]' \
    "$STATE/rootfs.tar" debian:bookworm-slim
  rm -f "$STATE/rootfs.tar"
}

# build_base TAG DIR PARENT: a stand-in image from deploy/test/bases/DIR on top of PARENT.
build_base() {
  local tag=$1 context="$STATE/context-$2" parent=$3
  rm -rf "$context" && cp -r "deploy/test/bases/$2" "$context"
  if [ "$2" = python ]; then
    # The host's locally added CAs (a TLS-intercepting proxy may sit between pip and PyPI).
    mkdir -p "$context/certs"
    find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$context/certs/" \; 2>/dev/null || true
  fi
  local hash
  hash=$(inputs_hash "$context" "$(built_from "$parent")")
  if [ "$(built_from "$tag")" = "$hash" ]; then
    return
  fi
  log "building the $tag stand-in"
  DOCKER_BUILDKIT=0 quietly "build-$2" docker build --label "doppel.inputs=$hash" -t "$tag" "$context"
}

# The production Dockerfile as it is; the classic builder uses the local stand-ins without
# asking a registry.
build_doppel() {
  log "building doppel:local from ./Dockerfile"
  DOCKER_BUILDKIT=0 quietly build-doppel docker build -t doppel:local .
}

# in_parallel "COMMAND ARGS" ...: run each in the background; fail if any failed.
in_parallel() {
  local pids=() failed=0 pid
  for job in "$@"; do
    # shellcheck disable=SC2086 # each job is a function name and its words
    $job &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return "$failed"
}

main() {
  local t0=$SECONDS
  ensure_engine
  build_rootfs
  # Two independent apt layers at once, then the thin stand-ins and the app images at once:
  # the machine's time goes to downloads and layer commits more than to its cores.
  in_parallel "build_base python:3.11.10-slim-bookworm python debian:bookworm-slim" \
    "build_base doppel-test/services:local services debian:bookworm-slim"
  in_parallel "build_base postgres:16.4-bookworm postgres doppel-test/services:local" \
    "build_base nginx:1.27.2-alpine nginx doppel-test/services:local" \
    "build_base prom/prometheus:v2.54.1 prometheus doppel-test/services:local" \
    "build_base doppel-test/s3:local s3 python:3.11.10-slim-bookworm" \
    build_doppel
  log "images ready after $((SECONDS - t0)) s"
  # `--images-only`: build (or check) the images and stop, e.g. to warm the cache for later.
  [ "${1:-}" = "--images-only" ] && return
  PYTHONPATH="$REPO" "$PYTHON" deploy/test/stack.py --project "$PROJECT" --state "$STATE" "$@"
}

main "$@"
