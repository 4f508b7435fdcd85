# Quick start:  make demo   (installs, runs the demo on the embedded SQLite store)
#               make test   (installs, starts PostgreSQL and Kafka, runs lint, types and the whole suite on SQLite and PostgreSQL)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
IDP_STAMP := idp/node_modules/.installed

.PHONY: install idp-install idp demo test test-sqlite test-postgres bench-quick lint services stop-services kafka clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# The OpenID Connect provider of the tests and the demo (npm oidc-provider, pinned by idp/package-lock.json).
$(IDP_STAMP): idp/package.json idp/package-lock.json
	@command -v node >/dev/null || { echo "node (Node.js 20+) is required: the tests sign in through a real OpenID provider (idp/)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "npm is required to install idp/ (npm ci)" >&2; exit 1; }
	cd idp && npm ci --no-audit --no-fund
	touch $(IDP_STAMP)

idp-install: $(IDP_STAMP)

# A provider for trying the API by hand: operator issuer on 127.0.0.1:4001, a customer's SSO issuer on :4002.
idp: idp-install
	node idp/server.mjs idp/demo.json

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
	$(BIN)/ledger openapi --check

test-sqlite: install idp-install kafka
	$(BIN)/python -m pytest -q --backend sqlite

test-postgres: install idp-install services
	LEDGER_TEST_PG_URL="$$(cat .cache/pg-url)" $(BIN)/python -m pytest -q --backend postgres

bench-quick: install services
	LEDGER_TEST_PG_URL="$$(cat .cache/pg-url)" $(BIN)/python -m benchmarks --quick --json .cache/bench-quick.json

test: install services
	$(MAKE) lint test-sqlite test-postgres bench-quick; status=$$?; scripts/kafka.sh stop; exit $$status

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis .mypy_cache .ruff_cache idp/node_modules
