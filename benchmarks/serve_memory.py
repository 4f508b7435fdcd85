"""Where ``ledger serve``'s memory goes under the soak's workload: the HTTP app in-process, traced.

    python -m benchmarks.serve_memory [--commands 1500] [--every 250] [--trace-from 250]
                                      [--cache-events N] [--customers 200] [--top 20] [--json FILE]

Builds the server's ASGI application (``ledger.bootstrap.build_http_app``) on a fresh PostgreSQL
schema (``LEDGER_TEST_PG_URL`` or ``.cache/pg-url``) and posts the soak's commands
(``ledger.demo.generate``, ops key) one after another through Starlette's test client, so the
request path, the group-commit writer and the read-model catch-up all run as in ``ledger serve``.
At every ``--every`` commands it prints the process's RSS, the Python heap traced by
``tracemalloc`` (started at ``--trace-from``, so the warm-up is left out), the number of live
objects the garbage collector tracks and what the application's aggregate cache holds (entries by
aggregate type, events held against its bound, evictions, deep size). At the end it prints the
heap's growth between the first traced mark and the last, by allocation line, and the live
objects allocated in that window by type: a structure that grows without bound shows up there, a
bounded one levels off. ``--cache-events`` sets the aggregate cache's bound
(``LEDGER_AGGREGATE_CACHE_EVENTS``, 50000 by default; ``ledger.cache``): with a bound the workload
fills early, the cache's deep size and the RSS level off once it is full. Not in the test command;
tracing makes each command several times slower.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks.soak import rss_kib
from ledger.demo import generate
from tests.kit.http import SECRET, create_key
from tests.kit.pg import fresh_database_url


def deep_size(root: Any) -> int:
    """Bytes of ``root`` and everything it refers to (containers, instance dicts and slots), once each."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        for name in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, name):
                stack.append(getattr(obj, name))
    return total


def cache_census(app: Any) -> dict[str, Any]:
    """What the aggregate cache holds: entries by aggregate type, and their deep size (KiB)."""
    cache = app.state.ledger.app.repository.cache
    held = [link[3] if isinstance(link, list) else link for link in list(getattr(cache, "cache", {}).values())]
    return {"entries": dict(collections.Counter(type(a).__name__ for a in held)),
            "events": getattr(cache, "events", None), "bound": getattr(cache, "max_events", None),
            "evictions": getattr(cache, "evictions", None), "kib": deep_size(held) // 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--trace-from", type=int, default=250, help="start tracemalloc after this many commands")
    parser.add_argument("--frames", type=int, default=1, help="traceback depth of tracemalloc")
    parser.add_argument("--cache-events", type=int, help="the aggregate cache's bound in events")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()

    os.environ.setdefault("LEDGER_SECRET_KEY", SECRET)
    if args.cache_events is not None:
        os.environ["LEDGER_AGGREGATE_CACHE_EVENTS"] = str(args.cache_events)
    from starlette.testclient import TestClient

    from ledger.bootstrap import build_http_app

    db = fresh_database_url()
    key = create_key(db, "serve-memory", "--role", "ops")
    commands = [{k: v for k, v in c.items() if k != "actor"}
                for c in generate(customers=args.customers, seed=11) if c["command"] != "AcceptInvitation"]
    app = build_http_app(db)
    pid = os.getpid()
    marks: list[dict[str, Any]] = []
    first: tracemalloc.Snapshot | None = None
    last: tracemalloc.Snapshot | None = None
    outcomes: collections.Counter[int] = collections.Counter()
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        for i in range(args.commands):
            outcomes[client.post("/v1/commands", json=commands[i % len(commands)]).status_code] += 1
            if i % 100 == 0:
                client.get("/metrics")  # as the soak scrapes
            done = i + 1
            if done == args.trace_from:
                tracemalloc.start(args.frames)
            if done % args.every == 0 or done == args.commands:
                gc.collect()
                mark = {"commands": done, "rss_kib": rss_kib(pid), "gc_objects": len(gc.get_objects()),
                        "traced_kib": tracemalloc.get_traced_memory()[0] // 1024 if tracemalloc.is_tracing() else None,
                        "cache": cache_census(app), "at": time.strftime("%H:%M:%S")}
                marks.append(mark)
                print(json.dumps(mark), flush=True)
                if tracemalloc.is_tracing():
                    last = tracemalloc.take_snapshot()
                    first = first or last
        window: collections.Counter[str] = collections.Counter()
        if tracemalloc.is_tracing():
            for obj in gc.get_objects():
                if tracemalloc.get_object_traceback(obj) is not None:
                    window[type(obj).__qualname__] += 1
    report: dict[str, Any] = {"commands": args.commands, "outcomes": dict(outcomes), "cache_events": args.cache_events,
                              "marks": marks, "live_objects_allocated_while_traced": dict(window.most_common(args.top))}
    if first is not None and last is not None and last is not first:
        own = [tracemalloc.Filter(False, tracemalloc.__file__)]
        growth = last.filter_traces(own).compare_to(first.filter_traces(own), "lineno")
        report["heap_growth_by_line"] = [str(stat) for stat in growth[: args.top]]
    tracemalloc.stop()
    print(json.dumps({k: v for k, v in report.items() if k != "marks"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
