# Quick start:  make demo   (installs, runs the demo on the embedded SQLite store)
#               make test   (installs, starts PostgreSQL and Kafka, runs lint, types and the whole suite on SQLite and PostgreSQL)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-sqlite test-postgres bench-quick lint services stop-services kafka clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ledger demo

kafka:
	scripts/kafka.sh start

services:
	scripts/postgres.sh start
	scripts/kafka.sh start

stop-services:
	scripts/postgres.sh stop
	scripts/kafka.sh stop

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy aggregates commands ledger projections replay
	$(BIN)/ledger schema --check
	$(BIN)/ledger event-schemas --check

test-sqlite: install kafka
	$(BIN)/python -m pytest -q --backend sqlite

test-postgres: install services
	LEDGER_TEST_PG_URL="$$(cat .cache/pg-url)" $(BIN)/python -m pytest -q --backend postgres

bench-quick: install services
	LEDGER_TEST_PG_URL="$$(cat .cache/pg-url)" $(BIN)/python -m benchmarks --quick --json .cache/bench-quick.json

test: install services
	$(MAKE) lint test-sqlite test-postgres bench-quick; status=$$?; scripts/kafka.sh stop; exit $$status

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis .mypy_cache .ruff_cache
