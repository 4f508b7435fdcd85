#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for development and the tests.
#   scripts/kafka.sh start    fetch the jars once, format storage once, start, wait until 127.0.0.1:9092 accepts
#   scripts/kafka.sh stop     stop the broker this script started (SIGTERM, then SIGKILL after 30 s)
#   scripts/kafka.sh status   exit 0 and say so when running, exit 3 when not
#   scripts/kafka.sh reset    stop, then wipe the broker's data (topics, offsets); the jars are kept
#
# The broker's jars come from Maven Central (org.apache.kafka:kafka_2.13 plus log4j 2 for logging, see
# scripts/kafka/pom.xml), copied once with maven-dependency-plugin into .cache/kafka/libs. Needs java (17+) and
# mvn. Everything it writes is under .cache/kafka/: libs/, data/, server.properties, kafka.pid, kafka.log.
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HEAP_OPTS (-Xms256m -Xmx512m),
#              KAFKA_START_TIMEOUT seconds (60), KAFKA_HOME (.cache/kafka), KAFKA_LIBS (the jars: $KAFKA_HOME/libs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KAFKA_VERSION=4.3.1
HOME_DIR=${KAFKA_HOME:-$ROOT/.cache/kafka}
LIBS=${KAFKA_LIBS:-$HOME_DIR/libs}
DATA=$HOME_DIR/data
PIDFILE=$HOME_DIR/kafka.pid
LOG=$HOME_DIR/kafka.log
PROPS=$HOME_DIR/server.properties
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
HEAP=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
TIMEOUT=${KAFKA_START_TIMEOUT:-60}

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid of the broker we started, if it is still that process (a reused pid is not ours).
our_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "kafka.Kafka $PROPS" || return 1
  echo "$pid"
}

fetch_jars() {
  if [ -f "$LIBS/.complete-$KAFKA_VERSION" ]; then return 0; fi
  command -v java >/dev/null || die "java is not installed (OpenJDK 17+ is needed)"
  command -v mvn >/dev/null || die "mvn is not installed (apt-get install maven)"
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (once)"
  local started=$SECONDS tmp=$HOME_DIR/libs.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -B -q -f scripts/kafka/pom.xml \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$HOME_DIR/fetch.log" 2>&1; then
    tail -n 40 "$HOME_DIR/fetch.log" >&2
    die "could not fetch the broker's jars (full output in $HOME_DIR/fetch.log)"
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || die "the fetch did not bring kafka_2.13-$KAFKA_VERSION.jar"
  rm -rf "$LIBS"
  mkdir -p "$(dirname "$LIBS")"  # a broker of a test's own (KAFKA_HOME elsewhere) shares the checkout's jars
  mv "$tmp" "$LIBS"
  touch "$LIBS/.complete-$KAFKA_VERSION"
  say "fetched $(ls "$LIBS"/*.jar | wc -l) jars in $((SECONDS - started)) s"
}

write_config() {
  mkdir -p "$DATA"
  sed -e "s#@DATA_DIR@#$DATA#" -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    scripts/kafka/server.properties.in > "$PROPS"
}

format_storage() {
  if [ -f "$DATA/meta.properties" ]; then return 0; fi
  # A cluster id is 16 random bytes in URL-safe base64 without padding; it must not start with '-'.
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    case "$id" in -*) continue ;; *) break ;; esac
  done
  say "formatting storage in $DATA (cluster id $id)"
  java -Xmx256m -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" -cp "$LIBS/*" \
    kafka.tools.StorageTool format -t "$id" -c "$PROPS" --standalone >"$HOME_DIR/format.log" 2>&1 \
    || { cat "$HOME_DIR/format.log" >&2; die "formatting the storage failed"; }
}

start() {
  mkdir -p "$HOME_DIR"
  if pid=$(our_pid); then
    if port_open "$PORT"; then say "already running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
    wait_ready "$pid"
    return 0
  fi
  if port_open "$PORT"; then
    die "127.0.0.1:$PORT is taken by a process this script did not start; stop it or set KAFKA_PORT"
  fi
  fetch_jars
  write_config
  format_storage
  : > "$LOG"
  # setsid: the broker outlives the shell that started it and is not hit by its terminal's signals.
  # shellcheck disable=SC2086
  setsid java $HEAP -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$LOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  wait_ready "$!"
}

wait_ready() {
  local pid=$1 started=$SECONDS
  while ! port_open "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOG" >&2
      rm -f "$PIDFILE"
      die "the broker exited during start-up (log: $LOG)"
    fi
    if (( SECONDS - started >= TIMEOUT )); then
      tail -n 40 "$LOG" >&2
      die "the broker (pid $pid) did not accept connections on 127.0.0.1:$PORT within $TIMEOUT s (log: $LOG)"
    fi
    sleep 0.5
  done
  say "running (pid $pid) on 127.0.0.1:$PORT, ready after $((SECONDS - started)) s; log: $LOG"
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    say "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "the broker (pid $pid) did not stop within 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

status() {
  local pid
  if pid=$(our_pid); then
    if port_open "$PORT"; then echo "running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
    echo "starting (pid $pid), 127.0.0.1:$PORT not accepting connections yet"
    return 3
  fi
  echo "not running"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset) stop; rm -rf "$DATA"; say "wiped $DATA" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
