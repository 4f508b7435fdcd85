"""``ledger relay``, ``ledger notify``, ``ledger event-schemas``: the command-line verbs of the stream.

Status lines go to stderr, the closing summary to stdout. Exit status: 0 done, 1 the broker or the
SMTP server failed (what was done is recorded; run again to resume), 2 unusable settings.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ledger.config import DEFAULT_DB, ConfigurationError, MissingSecretKey, parse_db_url, secret_key

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def _err(message: str) -> None:
    """A status line: through the ``ledger.stream`` logger (JSON with LEDGER_LOG_FORMAT=json)."""
    logger = logging.getLogger("ledger.stream")
    if logger.handlers or logging.getLogger("ledger").handlers:
        logger.info(message)
    else:
        print(message, file=sys.stderr, flush=True)


def _stop_on_signals() -> threading.Event:
    """SIGTERM and SIGINT finish the current round, record the position and exit cleanly."""
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        _err(f"ledger: {signal.Signals(signum).name} received; finishing the current round")
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _check_kafka_args(args: argparse.Namespace) -> None:
    if not args.bootstrap_servers.strip():
        raise ConfigurationError("--bootstrap-servers: give host:port[,host:port...]")
    for server in args.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigurationError(f"--bootstrap-servers: {server.strip()!r} is not host:port")
    if not _TOPIC.match(args.topic):
        raise ConfigurationError(f"--topic: {args.topic!r} is not a Kafka topic name (letters, digits, . _ -)")


def notify_secret_key(db: str | None, environ: Mapping[str, str] | None = None) -> bytes:
    """The ledger's secret key, found the way the ledger finds it (``ledger.config.secret_key``), but
    never created here: a new random key would make invitation links that do not work."""
    environ = os.environ if environ is None else environ
    try:
        return secret_key(
            environ, lambda: parse_db_url(db or environ.get("LEDGER_DB") or DEFAULT_DB, environ), create=False
        )
    except MissingSecretKey as missing:
        raise ConfigurationError(
            f"notify needs the ledger's secret key to make invitation links, and {missing.file or 'ledger.key'} "
            "does not exist: set LEDGER_SECRET_KEY or LEDGER_SECRET_FILE, or give the ledger's --db (its key is "
            "<db file>.key)"
        ) from None


def _serve_metrics(port: int | None, source: Any) -> Any:
    """Serve the process's metrics on ``port`` (None: not at all); returns the stopper or None."""
    if port is None:
        return None
    from ledger.ops.metrics import LedgerMetrics, serve

    metrics = LedgerMetrics()
    metrics.add_consumers(source)
    stopper = serve(port, metrics.registry)
    _err(f"metrics on http://127.0.0.1:{port}/metrics")
    return stopper


def cmd_relay(args: argparse.Namespace) -> int:
    from ledger.bootstrap import build_app
    from ledger.stream.relay import Relay, RelayError

    _check_kafka_args(args)
    if args.connect_timeout <= 0:
        raise ConfigurationError("--connect-timeout: must be more than 0 seconds")
    if args.delivery_timeout < 1:
        raise ConfigurationError("--delivery-timeout: must be at least 1 second")
    if args.batch_size < 1:
        raise ConfigurationError("--batch-size: must be at least 1")
    if args.poll_interval <= 0:
        raise ConfigurationError("--poll-interval: must be more than 0 seconds")
    if args.encoders < 0:
        raise ConfigurationError("--encoders: must be 0 or more")
    stop = _stop_on_signals()
    app = build_app(args.db)
    relay = Relay(
        app,
        args.bootstrap_servers,
        args.topic,
        batch_size=args.batch_size,
        partitions=args.partitions,
        connect_timeout=args.connect_timeout,
        delivery_timeout=args.delivery_timeout,
        log=_err,
        encoders=args.encoders,
    )
    def relay_status() -> list[Any]:
        from ledger.ops.lag import log_lag
        from ledger.ops.metrics import ConsumerStatus

        lag = log_lag(app.recorder, app.mapper, relay.position())
        return [ConsumerStatus(relay.tracking_name, lag.events, lag.seconds, lag.position, relay_topic=args.topic,
                               parked=relay.parked_count())]

    stop_metrics = _serve_metrics(args.metrics_port, relay_status)
    checkpoints = None
    if args.follow and args.checkpoint_interval > 0:
        from ledger.audit.cli import PeriodicCheckpoints

        checkpoints = PeriodicCheckpoints(
            args.db, args.bootstrap_servers, args.checkpoint_topic, args.checkpoint_interval, _err
        )
        checkpoints.start()
    try:
        relay.connect()
        mode = "following the ledger" if args.follow else "until caught up"
        _err(f"relay: connected to {args.bootstrap_servers}, topic {args.topic}, {mode}")
        stats = relay.run(follow=args.follow, poll_interval=args.poll_interval, stop=stop, retry_for=args.retry_for)
    except RelayError as exc:
        _err(f"ledger relay: {exc}")
        return EXIT_FAILED
    finally:
        if stop_metrics is not None:
            stop_metrics()
        if checkpoints is not None:
            checkpoints.close()
        relay.close()
        app.close()
    state = "stopped" if stop.is_set() else "caught up"
    print(
        f"relay: {state} at position {stats.position}: {stats.published} events published, {stats.skipped} "
        f"non-customer events skipped, {stats.batches} rounds in {stats.elapsed:.1f} s ({stats.rate:.0f} events/s)",
        flush=True,
    )
    if stats.parked:
        print(
            f"relay: {stats.parked} events parked (see `ledger parked list --consumer {relay.tracking_name} "
            "--db ...`); their customers' later events wait behind them",
            flush=True,
        )
    return EXIT_OK


def cmd_notify(args: argparse.Namespace) -> int:
    from ledger.stream.notifications import NotificationsConsumer, NotifyError, SmtpSender
    from ledger.stream.subscriber import SubscriberError

    _check_kafka_args(args)
    if not 0 < args.smtp_port < 65536:
        raise ConfigurationError(f"--smtp-port: {args.smtp_port} is not a port number")
    secret_key = notify_secret_key(args.db)
    state = Path(args.state)
    if not state.parent.resolve().is_dir():
        raise ConfigurationError(f"--state: folder {state.parent} does not exist")
    stop = _stop_on_signals()
    sender = SmtpSender(
        args.smtp_host,
        args.smtp_port,
        starttls=args.smtp_starttls,
        username=os.environ.get("LEDGER_SMTP_USER") or None,
        password=os.environ.get("LEDGER_SMTP_PASSWORD") or None,
    )
    try:
        consumer = NotificationsConsumer(
            args.bootstrap_servers,
            args.topic,
            sender=sender,
            secret_key=secret_key,
            state_path=str(state),
            group_id=args.group,
            portal_url=args.portal_url,
            from_beginning=args.from_beginning,
            retry_for=None if args.follow else args.retry_for,
            connect_timeout=args.connect_timeout,
            log=_err,
            park_after=args.park_after,
        )
    except SubscriberError as exc:
        _err(f"ledger notify: {exc}")
        return EXIT_FAILED
    mode = "following the topic" if args.follow else "until caught up"
    _err(
        f"notify: reading {args.topic} on {args.bootstrap_servers} as group {args.group}, {mode}; "
        f"mail via {args.smtp_host}:{args.smtp_port}; sent-log {state}"
    )
    stop_metrics = _serve_metrics(args.metrics_port, lambda: [consumer.status()])
    try:
        stats = consumer.run(until_caught_up=not args.follow, stop=stop)
    except (NotifyError, SubscriberError) as exc:
        _err(f"ledger notify: {exc}")
        return EXIT_FAILED
    finally:
        if stop_metrics is not None:
            stop_metrics()
        consumer.close()
    print(
        f"notify: {stats.events} events read, {stats.sent} mails sent, {stats.already_sent} already sent before, "
        f"{stats.rejected} refused by the server, {stats.parked} parked, {stats.retried} parked ones delivered",
        flush=True,
    )
    return EXIT_OK


def cmd_event_schemas(args: argparse.Namespace) -> int:
    from ledger.stream import schemas

    if args.check:
        problems = schemas.check()
        if problems:
            _err(f"{schemas.SCHEMA_DIR} is out of date ({'; '.join(problems)}); run `ledger event-schemas --write`")
            return EXIT_FAILED
        return EXIT_OK
    if args.write:
        written = schemas.write()
        print(f"wrote {len(written)} files to {schemas.SCHEMA_DIR}")
        return EXIT_OK
    for name in schemas.render():
        print(name)
    return EXIT_OK


def _kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connect-timeout", type=float, default=15.0, help="seconds to wait for the broker at start (15)"
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        metavar="HOST:PORT",
        help="Kafka brokers (default LEDGER_KAFKA_BOOTSTRAP or 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--topic",
        default=os.environ.get("LEDGER_KAFKA_TOPIC", "select-ledger.events"),
        help="the ledger's event topic (default LEDGER_KAFKA_TOPIC or select-ledger.events)",
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the stream's subcommands to the ``ledger`` parser."""
    relay = sub.add_parser(
        "relay",
        parents=[common],
        help="publish the ledger's customer events to Kafka (CloudEvents JSON, keyed by customer id)",
    )
    _kafka_options(relay)
    mode = relay.add_mutually_exclusive_group()
    mode.add_argument("--follow", action="store_true", help="keep publishing new events until stopped (SIGTERM)")
    mode.add_argument("--until-caught-up", action="store_true", help="publish what is there, then exit (default)")
    relay.add_argument("--batch-size", type=int, default=1000, help="events a round (default 1000)")
    relay.add_argument("--poll-interval", type=float, default=0.2, help="seconds between looks at the log (0.2)")
    relay.add_argument(
        "--encoders", type=int, default=1,
        help="processes that build envelopes a batch ahead, on other cores (default 1; 0: in the relay itself)",
    )
    relay.add_argument(
        "--delivery-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the broker's acknowledgement of a round before publishing it again (30)",
    )
    relay.add_argument("--partitions", type=int, default=3, help="partitions when the relay creates the topic (3)")
    relay.add_argument(
        "--retry-for",
        type=float,
        default=120.0,
        help="without --follow, give up after this many seconds of broker failures (120)",
    )
    relay.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port")
    relay.add_argument(
        "--checkpoint-interval", type=float, default=60.0, metavar="S",
        help="with --follow, sign and publish an audit checkpoint every S seconds while the log grows (60; 0: never)",
    )
    relay.add_argument(
        "--checkpoint-topic", default=os.environ.get("LEDGER_CHECKPOINT_TOPIC", "select-ledger.checkpoints"),
        help="topic of the signed checkpoints (default LEDGER_CHECKPOINT_TOPIC or select-ledger.checkpoints)",
    )
    relay.set_defaults(func=cmd_relay)

    notify = sub.add_parser(
        "notify",
        parents=[common],
        help="send the R19 e-mails (purchase confirmation, welcome invitation) from the stream",
    )
    _kafka_options(notify)
    notify.add_argument(
        "--smtp-host", default=os.environ.get("LEDGER_SMTP_HOST", "127.0.0.1"), help="(LEDGER_SMTP_HOST, 127.0.0.1)"
    )
    notify.add_argument(
        "--smtp-port", type=int, default=os.environ.get("LEDGER_SMTP_PORT", "25"), help="(LEDGER_SMTP_PORT, 25)"
    )
    notify.add_argument(
        "--smtp-starttls", action="store_true", help="upgrade with STARTTLS (LEDGER_SMTP_USER/_PASSWORD log in)"
    )
    notify.add_argument("--group", default="select-ledger-notify", help="consumer group (default select-ledger-notify)")
    notify.add_argument(
        "--state", default="ledger-notify.db", help="SQLite file of the sent-log and positions (ledger-notify.db)"
    )
    notify.add_argument(
        "--portal-url",
        default=os.environ.get("LEDGER_PORTAL_URL", "https://select.logitech.com/portal/accept-invitation"),
        help="where invitation links point; ?token=... is appended",
    )
    notify.add_argument("--from-beginning", action="store_true", help="read the topic from its start")
    nmode = notify.add_mutually_exclusive_group()
    nmode.add_argument("--follow", action="store_true", help="keep sending until stopped (SIGTERM)")
    nmode.add_argument(
        "--until-caught-up", action="store_true", help="handle what is on the topic, then exit (default)"
    )
    notify.add_argument(
        "--retry-for", type=float, default=60.0, help="without --follow, give up on SMTP after this many seconds (60)"
    )
    notify.add_argument(
        "--park-after", type=float, default=60.0,
        help="seconds a recipient may be refused (4xx) before the event is parked for its customer (60)",
    )
    notify.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port")
    notify.set_defaults(func=cmd_notify)

    event_schemas = sub.add_parser("event-schemas", help="the JSON Schemas of the stream's events (schemas/events/)")
    group = event_schemas.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write them to schemas/events/")
    group.add_argument("--check", action="store_true", help="exit 1 when the published files are stale")
    event_schemas.set_defaults(func=cmd_event_schemas)
