# Doppel: `make run` makes today's gallery offline; `make test` proves it works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# The installer: uv, pinned, inside the venv. It installs exactly the lock files' versions and
# hashes, several times faster than pip. It trusts the system's certificates (proxies).
UV_VERSION := 0.13.9
UV := $(BIN)/uv
export UV_NATIVE_TLS ?= 1
# Bytecode is written at install time: where PYTHONDONTWRITEBYTECODE is set (as on CI's
# machines) every process would otherwise compile Dagster from source, about 3 s of CPU each.
export UV_COMPILE_BYTECODE ?= 1
# ...and this project's own modules get their bytecode cached in __pycache__ (git- and
# docker-ignored): with PYTHONDONTWRITEBYTECODE set, each of the many processes `make run`,
# `make dev` and the tests start would compile pipeline/ from source again (0.3 s each).
export PYTHONDONTWRITEBYTECODE :=
LOCK_FLAGS := --universal --generate-hashes --python-version 3.11 --quiet

.PHONY: install run dev test test-fast test-dates lint check-defs types clean lock upgrade-lock \
	dev-services dev-services-down dev-deployed exporter settings-docs

# requirements.lock: what the Docker image installs (with the `docker` extra: one container
# per run); requirements-dev.lock: that plus the test tools. Both come from pyproject.toml
# through `make lock` (or `make upgrade-lock`).
$(BIN)/doppel: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv==$(UV_VERSION)'
	$(UV) pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

install: $(BIN)/doppel

run: install
	$(BIN)/doppel run --days 3

# Dagster's `dg dev` on the local instance, started from it (so Dagster does not warn about
# the root dagster.yaml, the deployed one); Ctrl-C stops every process within 10 s and
# cancels what was queued (pipeline/lib/orchestration/dev.py).
dev: install
	$(BIN)/doppel dev --host 127.0.0.1 --port 3000

# --- The deployed setup on this machine (docs/deploy.md) -------------------------------------
# PostgreSQL and MinIO in Docker (docker-compose.dev.yml); Dagster and Doppel's code run here,
# with the repository's dagster.yaml (PostgreSQL storage, run logs in MinIO).
DEPLOYED_HOME := $(CURDIR)/.dagster_home_deployed

dev-services:
	docker compose -f docker-compose.dev.yml up -d --wait

dev-services-down:
	docker compose -f docker-compose.dev.yml down

dev-deployed: install dev-services
	mkdir -p $(DEPLOYED_HOME) && cp dagster.yaml $(DEPLOYED_HOME)/dagster.yaml
	set -a && . deploy/dev.env && set +a && $(BIN)/doppel migrate && DAGSTER_HOME=$(DEPLOYED_HOME) \
		$(BIN)/dg dev -m pipeline.definitions -h 127.0.0.1 -p 3000

# Prometheus metrics of the local instance and database on http://127.0.0.1:9108/metrics.
exporter: install
	$(BIN)/doppel exporter --port 9108

types: install
	$(BIN)/mypy

lint: install check-defs
	$(BIN)/ruff check pipeline pipeline_tests testbed bench deploy
	$(BIN)/ruff format --check pipeline pipeline_tests testbed bench deploy

# Dagster's own check that the code location loads (`dg check defs`, configured by
# [tool.dg] in pyproject.toml), on a throwaway instance; it reads a .env here, as `dg dev` does.
check-defs: install
	@home=$$(mktemp -d) && touch $$home/dagster.yaml && DAGSTER_HOME=$$home $(BIN)/dg check defs; \
		status=$$?; rm -rf $$home; exit $$status

# .env.example's Doppel variables and the README's settings table, rewritten from the
# declarations (pipeline/lib/settings.py and the configs it nests); a test checks them.
settings-docs: install
	$(BIN)/doppel settings --write

# The whole suite, as CI runs it. Without Chromium, nginx or promtool the tests that need
# them skip with one line naming the install command (README, "Tests").
# Three workers on two cores share the tests one by one, the longest modules first: about a
# third of the suite's time is spent waiting (daemon ticks, servers starting, timeouts), and
# a third worker fills some of it (quiet 2-core machine: 305 s against 318 s with two). A
# module with an expensive module fixture (webserver, browser, network) goes whole to one
# worker (its xdist_group).
TEST_WORKERS ?= 3
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup
test: install
	$(BIN)/ruff check pipeline pipeline_tests testbed bench deploy
	$(BIN)/mypy
	$(PYTEST)

# The inner loop: everything but the tests marked slow (over about 1.5 s each).
test-fast: install
	$(PYTEST) -m "not slow" -q

# The tests that read the clock, under libfaketime at instants around a year end, a leap day
# and now: the process clock is faked, the PostgreSQL server's is not. The library comes from
# the `libfaketime` wheel (dev extra): Debian bookworm's 0.9.10 breaks Python's time.sleep
# (EINVAL) or hangs timed thread waits, depending on DONT_FAKE_MONOTONIC.
FAKE_INSTANTS := "2026-12-31 23:59:30" "2027-01-01 00:00:30" "2028-02-29 12:00:00"
FAKETIME_LIB = $(shell $(BIN)/python -c "import importlib.util as u, pathlib as p; \
	print(p.Path(u.find_spec('libfaketime').submodule_search_locations[0], \
	'vendor/libfaketime/src/libfaketime.so.1'))")
FAKETIME_ENV = TZ=UTC LD_PRELOAD=$(FAKETIME_LIB) DONT_FAKE_MONOTONIC=1 FAKETIME_DONT_FAKE_MONOTONIC=1
test-dates: install
	@for at in $(FAKE_INSTANTS); do \
		echo "== dated tests at $$at UTC (libfaketime)"; \
		$(FAKETIME_ENV) FAKETIME="@$$at" $(BIN)/python -c \
			"from pipeline.lib.core import clock; print('clock:', clock.utc_now().isoformat())" || exit 1; \
		$(FAKETIME_ENV) FAKETIME="@$$at" $(PYTEST) -m dates -q -p no:cacheprovider || exit 1; \
	done
	@echo "== dated tests at the real now"
	$(PYTEST) -m dates -q -p no:cacheprovider

lock: install
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) --extra docker -o requirements.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) --extra docker --extra dev -c requirements.lock -o requirements-dev.lock

# Newest versions pyproject.toml allows; then run `make test` and commit both lock files.
upgrade-lock: install
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) --extra docker --upgrade -o requirements.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) --extra docker --extra dev -c requirements.lock --upgrade -o requirements-dev.lock

clean:
	rm -rf $(VENV) .dagster_home data site/_build

# --- The deployment for real (deploy/test/run.sh; docs/deploy.md): installs and starts a Docker
# engine if missing, builds stand-in base images (cached), the production image and compose
# stack, runs a day end to end through the containers, injects faults and prints a table.
# Separate from `make test` (minutes, not seconds); CI runs both.
.PHONY: deploy-test
deploy-test: install
	PYTHON=$(abspath $(BIN))/python bash deploy/test/run.sh
