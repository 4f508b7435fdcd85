"""``ledger parked list|retry|discard``: work the events a park-policy consumer parked (SPEC 9).

The notifier keeps its parked events in its ``--state`` file (default ``ledger-notify.db``), next to
its positions and sent-log; the relay (``--consumer relay:<topic>``) in the ledger's database
(``--db``). ``retry`` marks events for the running consumer to try again (it picks
them up within seconds, or on its next start); ``discard`` gives them up. Both take a bounded chunk
(``--limit``, default 100, at most 1000) in original order and record who, when and why.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from ledger.config import ConfigurationError

EXIT_OK = 0


def _actor(args: argparse.Namespace) -> str:
    if args.actor:
        return str(args.actor)
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"os:{os.getuid()}"


def _store(args: argparse.Namespace) -> Any:
    from ledger.ops.parked import ParkedStore, sqlite_engine

    if str(args.consumer).startswith("relay:"):  # the relay parks in the ledger's database
        from ledger.config import DEFAULT_DB, parse_db_url
        from ledger.readside import read_engine

        return ParkedStore(read_engine(parse_db_url(args.db or os.environ.get("LEDGER_DB") or DEFAULT_DB)))

    state = Path(args.state)
    if not state.is_file():
        raise ConfigurationError(f"--state: {state} does not exist (the consumer's state file, see ledger notify)")
    return ParkedStore(sqlite_engine(str(state)))


def _print(rows: list[Any], as_json: bool, verb: str) -> None:
    if as_json:
        print(json.dumps([r.as_dict(payload=verb == "list") for r in rows], ensure_ascii=False))
        return
    for r in rows:
        print(f"{r.seq:>6}  {r.status:<9} {r.customer_id}  {r.event_type}  pos={r.position}  "
              f"event={r.event_id}  attempts={r.attempts}  {r.error}")
    print(f"{len(rows)} {'parked events' if verb == 'list' else 'events ' + verb}", file=sys.stderr)


def cmd_parked(args: argparse.Namespace) -> int:
    if args.limit < 1 or args.limit > 1000:
        raise ConfigurationError("--limit: give 1 to 1000 (work parked events in bounded chunks)")
    if args.action in ("retry", "discard") and not (args.reason or "").strip():
        raise ConfigurationError(f"--reason: say why you {args.action} (it is recorded with the action)")
    store = _store(args)
    try:
        ids = tuple(args.event_id or ())
        if args.action == "list":
            rows = store.listing(args.consumer, customer_id=args.customer, include_resolved=args.all,
                                 after=args.after, limit=args.limit)
        elif args.action == "retry":
            rows = store.request_retry(args.consumer, actor=_actor(args), reason=args.reason,
                                       customer_id=args.customer, event_ids=ids, limit=args.limit)
        else:
            rows = store.discard(args.consumer, actor=_actor(args), reason=args.reason,
                                 customer_id=args.customer, event_ids=ids, limit=args.limit)
        verb = {"list": "list", "retry": "marked for retry", "discard": "discarded"}[args.action]
        _print(rows, args.json, verb)
    finally:
        store.close()
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``ledger parked`` to the ``ledger`` parser."""
    parked = sub.add_parser("parked", parents=[common], help="list, retry or discard events a consumer parked")
    parked.add_argument("action", choices=("list", "retry", "discard"))
    parked.add_argument("--consumer", default="notify",
                        help="the consumer that parked them (default notify; relay:<topic>: the relay's, in --db)")
    parked.add_argument("--state", default="ledger-notify.db", help="its state file (default ledger-notify.db)")
    parked.add_argument("--customer", metavar="ID", help="only this customer's events")
    parked.add_argument("--event-id", action="append", metavar="ID", help="only these events (repeatable)")
    parked.add_argument("--limit", type=int, default=100, help="events in this chunk (default 100, at most 1000)")
    parked.add_argument("--after", type=int, default=0, metavar="SEQ", help="list: the next chunk after SEQ")
    parked.add_argument("--all", action="store_true", help="list: also delivered and discarded ones")
    parked.add_argument("--reason", help="retry/discard: why (recorded)")
    parked.add_argument("--actor", help="who acts (recorded; default os:<user>)")
    parked.add_argument("--json", action="store_true")
    parked.set_defaults(func=cmd_parked)
