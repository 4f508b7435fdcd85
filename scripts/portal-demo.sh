#!/usr/bin/env bash
# The Service Portal on the demo ledger, with a development OpenID provider (idp/, npm oidc-provider).
#   make portal            (or: scripts/portal-demo.sh [PORT])
# Builds ledger-demo.db when it is missing (ledger demo), adds the portal's demo people to it, starts the
# provider on 127.0.0.1:4001 and `ledger serve` on 127.0.0.1:PORT (8000); Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
PORT=${1:-8000}
DB=ledger-demo.db
mkdir -p .cache/portal-demo
[ -f "$DB" ] || "$BIN/ledger" demo >/dev/null
"$BIN/python" -m ledger.http.portal.demo --db "$DB" --portal-url "http://127.0.0.1:$PORT" \
  --idp-config .cache/portal-demo/idp.json --env .cache/portal-demo/env.sh
# shellcheck disable=SC1091
source .cache/portal-demo/env.sh
node idp/server.mjs .cache/portal-demo/idp.json > .cache/portal-demo/idp.log 2>&1 &
IDP_PID=$!
trap 'kill "$IDP_PID" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  grep -q '"ready":true' .cache/portal-demo/idp.log 2>/dev/null && break
  kill -0 "$IDP_PID" 2>/dev/null || { cat .cache/portal-demo/idp.log >&2; exit 1; }
  sleep 0.1
done
echo "Portal: http://127.0.0.1:$PORT  (Ctrl-C stops it)"
"$BIN/ledger" serve --db "$DB" --port "$PORT"
