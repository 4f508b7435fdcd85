#!/usr/bin/env bash
# Start a local PostgreSQL for the test suite and create its role and database.
#   scripts/postgres.sh start   -> prints the URL to use (also written to .cache/pg-url)
#   scripts/postgres.sh stop
# Uses the Debian cluster that is installed (pg_ctlcluster); installs postgresql with apt where none is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROLE=${LEDGER_PG_ROLE:-ledger}
PASSWORD=${LEDGER_PG_PASSWORD:-ledger}
DBNAME=${LEDGER_PG_DB:-ledger_test}
PORT=${LEDGER_PG_PORT:-5432}

cluster() { pg_lsclusters --no-header 2>/dev/null | awk 'NR==1 {print $1, $2}'; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi
}

wait_ready() {
  for _ in $(seq 1 60); do
    if as_postgres "psql -p $PORT -tAc 'select 1'" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "postgres.sh: PostgreSQL did not start" >&2
  exit 1
}

start() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(cluster)" ]; then
    echo "postgres.sh: no PostgreSQL cluster here; installing postgresql with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  read -r version name < <(cluster)
  if ! pg_lsclusters --no-header | awk -v v="$version" -v n="$name" '$1==v && $2==n {print $4}' | grep -q online; then
    pg_ctlcluster "$version" "$name" start >&2
  fi
  wait_ready
  # The suite starts many processes at once (eight first starts, several servers, a relay, a projector);
  # Debian's default of 100 connections is too few when other clients share the cluster.
  if [ "$(as_postgres "psql -p $PORT -tAc 'show max_connections'")" -lt 300 ]; then
    echo "postgres.sh: raising max_connections to 300 (restarts the cluster once)" >&2
    as_postgres "psql -p $PORT -q -c 'ALTER SYSTEM SET max_connections = 300'" >&2
    read -r version name < <(cluster)
    pg_ctlcluster "$version" "$name" restart >&2
    wait_ready
  fi
  as_postgres "psql -p $PORT -v ON_ERROR_STOP=1 -q" <<SQL >&2
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB;
  ELSE
    ALTER ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB;
  END IF;
END \$\$;
SQL
  as_postgres "psql -p $PORT -q -c 'DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)'" >&2
  as_postgres "psql -p $PORT -q -c 'CREATE DATABASE $DBNAME OWNER $ROLE'" >&2
  mkdir -p .cache
  url="postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DBNAME"
  echo "$url" > .cache/pg-url
  echo "$url"
}

stop() {
  if [ -n "$(cluster)" ]; then
    read -r version name < <(cluster)
    pg_ctlcluster "$version" "$name" stop >&2 || true
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
