# Quick start:  make demo   (installs, runs the demo on the embedded SQLite store)
#               make test   (installs, starts PostgreSQL and Kafka, runs lint, types and the whole suite on SQLite and PostgreSQL)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
IDP_STAMP := idp/node_modules/.installed
PORTAL_STAMP := ledger/http/portal/node_modules/.installed
CHROMIUM := /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install idp-install idp portal-install browser portal demo test test-sqlite test-postgres bench-quick lint services stop-services kafka clean interop

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

# The portal's static files: htmx (served as a file, no CDN, no build step) and axe-core for the browser tests.
$(PORTAL_STAMP): ledger/http/portal/package.json ledger/http/portal/package-lock.json
	@command -v npm >/dev/null || { echo "npm is required to install ledger/http/portal (npm ci: htmx for the portal)" >&2; exit 1; }
	cd ledger/http/portal && npm ci --no-audit --no-fund
	touch $(PORTAL_STAMP)

portal-install: $(PORTAL_STAMP)

# Debian's Chromium for the portal's browser tests (Playwright drives it; it never downloads a browser).
browser:
	@test -x $(CHROMIUM) || { apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing: the portal tests need Debian's chromium (apt-get install -y chromium)" >&2; exit 1; }

# The portal on the demo ledger with a development OpenID provider (demo people, password "demo").
portal: install idp-install portal-install
	scripts/portal-demo.sh

demo: install portal-install
	$(BIN)/ledger demo
	@echo
	@echo "The Service Portal on this demo ledger: run  make portal  and open http://127.0.0.1:8000"
	@echo "(sign in as admin@acme.example, viewer@acme.example or pat@avpro.example, password: demo)."

kafka:
	scripts/kafka.sh start

services:
	scripts/postgres.sh start
	scripts/kafka.sh start

stop-services:
	scripts/postgres.sh stop
	scripts/kafka.sh stop

# The Go program that checks the ledger's checkpoints and proofs with the reference implementations
# (golang.org/x/mod/sumdb/note, github.com/transparency-dev/merkle, pinned in tests/interop/go/go.sum;
# Go fetches them from the module proxy). A missing Go toolchain fails the build.
interop:
	@command -v go >/dev/null || { echo "make interop: the Go toolchain is missing (apt-get install golang)" >&2; exit 1; }
	mkdir -p .cache
	cd tests/interop/go && go build -o ../../../.cache/ledger-interop .

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy aggregates commands ledger projections replay
	$(BIN)/ledger schema --check
	$(BIN)/ledger event-schemas --check
	$(BIN)/ledger openapi --check

# Each pass runs in $(TEST_WORKERS) pytest-xdist workers, a test file per worker at a time (--dist loadfile keeps
# a module's fixtures, such as its server, in one process); the slowest tests are listed at the end.
TEST_WORKERS ?= 2
PYTEST = $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

test-sqlite: install idp-install portal-install browser kafka interop
	$(PYTEST) --backend sqlite

test-postgres: install idp-install portal-install browser services interop
	LEDGER_TEST_PG_URL="$$(cat .cache/pg-url)" $(PYTEST) --backend postgres

bench-quick: install services
	LEDGER_TEST_PG_URL="$$(cat .cache/pg-url)" $(BIN)/python -m benchmarks --quick --json .cache/bench-quick.json

test: install services
	$(MAKE) lint test-sqlite test-postgres bench-quick; status=$$?; scripts/kafka.sh stop; exit $$status

clean:
	rm -rf $(VENV) .cache .pytest_cache .hypothesis .mypy_cache .ruff_cache idp/node_modules ledger/http/portal/node_modules
