# Doppel: `make run` makes today's gallery offline; `make test` proves it works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install run dev test lint types clean dev-services dev-services-down dev-deployed exporter

$(BIN)/doppel: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/doppel

run: install
	$(BIN)/doppel run --days 3

dev: install
	$(BIN)/doppel instance init
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

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
	set -a && . deploy/dev.env && set +a && DAGSTER_HOME=$(DEPLOYED_HOME) \
		$(BIN)/dagster dev -h 127.0.0.1 -p 3000

# Prometheus metrics of the local instance and database on http://127.0.0.1:9108/metrics.
exporter: install
	$(BIN)/doppel exporter --port 9108

types: install
	$(BIN)/mypy

lint: install
	$(BIN)/ruff check pipeline pipeline_tests bench
	$(BIN)/ruff format --check pipeline pipeline_tests bench

test: install
	$(BIN)/ruff check pipeline pipeline_tests bench
	$(BIN)/mypy
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .dagster_home data site/_build

# --- The deployment for real (deploy/test/run.sh; docs/deploy.md): installs and starts a Docker
# engine if missing, builds stand-in base images (cached), the production image and compose
# stack, runs a day end to end through the containers, injects faults and prints a table.
# Separate from `make test` (minutes, not seconds); CI runs both.
.PHONY: deploy-test
deploy-test: install
	PYTHON=$(abspath $(BIN))/python bash deploy/test/run.sh
