# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# `make run CONFIG=path/to/flurfunk.yaml` runs against a real homeserver instead of the
# local demo Synapse.
CONFIG ?=
# `make run DATABASE=postgres` keeps the demo bot's store in a local PostgreSQL (.dev/postgres)
# instead of the default SQLite file.
DATABASE ?=

.PHONY: run test lint typecheck unit integration bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[homeserver]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run-installed

# The PostgreSQL server binaries (pgserver) come with the dev extra.
run: $(VENV)/.run-installed $(if $(filter postgres,$(DATABASE)),$(VENV)/.dev-installed)
ifeq ($(strip $(CONFIG)),)
	$(BIN)/flurfunk dev$(if $(filter postgres,$(DATABASE)), --database postgres)
else
	$(BIN)/flurfunk run --config $(CONFIG)
endif

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/hadolint --failure-threshold warning Dockerfile

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

unit: $(VENV)/.dev-installed
	$(BIN)/pytest -q -m "not integration"

integration: $(VENV)/.dev-installed
	$(BIN)/pytest -q -m integration

clean:
	rm -rf $(VENV) .dev .pytest_cache .mypy_cache .ruff_cache
