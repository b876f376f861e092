# Doppel: `make run` makes today's gallery offline; `make test` proves it works.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install run dev test lint clean

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

lint: install
	$(BIN)/ruff check pipeline pipeline_tests bench
	$(BIN)/ruff format --check pipeline pipeline_tests bench

test: install
	$(BIN)/ruff check pipeline pipeline_tests bench
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .dagster_home data site/_build
