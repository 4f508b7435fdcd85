"""The HTTP API under 1, 16 and 64 concurrent clients on loopback, beside its two ceilings.

    python -m benchmarks.http [--quick] [--json FILE] [--backend sqlite|postgres|both]

For each backend, a real ``ledger serve`` process; every client is a customer admin (an API key of
its own customer) running a mixed portal workload: add a room, assign a license to it, register a
device in it. Measured in the same run:

- ``POST /v1/commands``: commands/s, p50 and p99 latency;
- the same commands through ``ledger apply``'s code path in-process (``execute_many`` groups of the
  waiting commands, read models caught up): the in-process ceiling;
- ``GET /v1/customers/{id}/rooms`` (authenticated, a view of the read models): requests/s, p50/p99,
  of the whole view (which grows as the clients add rooms) and of its first page of 50 (the portal's);
- ``GET /livez`` of the same server (does nothing): the HTTP ceiling.

The load generator runs on the same machine (asyncio streams, one process), so it takes CPU from
the server: the ratios are conservative. Targets: at 64 clients, commands/s >= 50% of in-process
and p99 < 100 ms; view reads >= 50% of the do-nothing endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from benchmarks.asof import percentile
from ledger.auth.apikeys import ApiKeyStore
from ledger.bootstrap import build_app
from ledger.config import load_settings
from ledger.readside import read_engine
from tests.kit.commands import order
from tests.kit.http import SECRET, Server

LEVELS = (1, 16, 64)
PAGE = 50  # the portal's page of rooms
_serial = itertools.count(1)


class Portal:
    """One client's workload: AddRoom, AssignLicense to it, RegisterDevice in it, and again."""

    def __init__(self, tag: str, customer_id: str, account_id: str, po: str) -> None:
        self.tag, self.customer_id, self.account_id, self.po = tag, customer_id, account_id, po
        self.step = 0
        self.room: str | None = None
        self.rooms = 0

    def next(self) -> dict[str, Any]:
        phase = self.step % 3
        if phase == 0 or self.room is None:
            self.rooms += 1
            return {"command": "AddRoom", "customer_id": self.customer_id, "account_id": self.account_id,
                    "name": f"{self.tag} room {self.rooms}", "site": "HQ", "country": "US"}
        if phase == 1:
            return {"command": "AssignLicense", "customer_id": self.customer_id, "room_id": self.room,
                    "po_number": self.po}
        return {"command": "RegisterDevice", "customer_id": self.customer_id, "room_id": self.room,
                "serial_number": f"SN-{self.tag}-{next(_serial)}", "product": "Rally Bar",
                "purchased_on": "2026-01-01"}

    def done(self, result: dict[str, Any]) -> None:
        if self.step % 3 == 0 or self.room is None:
            self.room = result.get("room_id", self.room)
        self.step += 1


def seed(db: str, customers: int) -> tuple[list[tuple[str, str, str]], list[str]]:
    """``customers`` customers with one large order each; one admin API key per customer."""
    settings = load_settings(db, {"LEDGER_SECRET_KEY": SECRET})
    app = build_app(settings=settings)
    from commands.parsing import parse_command

    made = []
    for i in range(customers):
        po = f"PO-BENCH-{i}"
        # syncplus: licenses for every room, and no onsite-spare accruals (R13 counts select licenses only)
        body = order(po=po, company=f"Bench {i} Corp", email=f"admin@bench{i}.example", quantity=100_000,
                     service="syncplus")
        body.pop("at")
        result = app.execute(parse_command(body))
        made.append((str(result["customer_id"]), str(result["account_id"]), po))
    from ledger.readside import catch_up, open_read_models

    models = open_read_models(app)
    catch_up(app, models)
    store = ApiKeyStore(read_engine(settings.store), settings.secret_key)
    keys = [store.create(f"bench-{i}", customer_id=UUID(cid), role="admin") for i, (cid, _, _) in enumerate(made)]
    store.engine.dispose()
    models.close()
    app.close()
    return made, keys


class Connection:
    """A minimal HTTP/1.1 keep-alive client (one connection per simulated client).

    httpx costs the load generator about a millisecond of CPU per request on this machine, which
    the server would lose; raw asyncio streams cost a fraction of that.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(payload)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b""
        return status, json.loads(data) if data else None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


Step = Callable[[Connection], Any]


async def _drive(url: str, clients: int, seconds: float, make: Callable[[int], Step]) -> dict[str, float]:
    """``clients`` concurrent loops for ``seconds``; each iteration one request. Rate and latency."""
    latencies: list[float] = []
    failures = 0
    host, port = url.removeprefix("http://").split(":")
    stop = time.perf_counter() + seconds

    async def loop(i: int) -> None:
        nonlocal failures
        step, connection = make(i), Connection(host, int(port))
        try:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                ok = await step(connection)
                latencies.append((time.perf_counter() - t) * 1000)
                failures += 0 if ok else 1
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "per_s": len(latencies) / elapsed, "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 99), "requests": len(latencies), "failures": failures,
    }


def measure_http(db: str, made: list[tuple[str, str, str]], keys: list[str], seconds: float, log: Path
                 ) -> dict[str, dict[int, dict[str, float]]]:
    server = Server(db, log=log).start()
    figures: dict[str, dict[int, dict[str, float]]] = {"commands": {}, "views": {}, "pages": {}, "noop": {}}
    try:
        for clients in LEVELS:
            portals = [Portal(f"h{clients}-{i}", *made[i % len(made)]) for i in range(clients)]

            def command_step(i: int, portals: list[Portal] = portals) -> Step:
                portal, headers = portals[i], {"Authorization": f"Bearer {keys[i % len(keys)]}"}

                async def step(http: Connection) -> bool:
                    status, result = await http.request("POST", "/v1/commands", headers, portal.next())
                    if status == 200:
                        portal.done(result)
                        return True
                    portal.step += 1
                    return False

                return step

            def view_step(i: int, query: str = "") -> Step:
                cid, headers = made[i % len(made)][0], {"Authorization": f"Bearer {keys[i % len(keys)]}"}

                async def step(http: Connection) -> bool:
                    return (await http.request("GET", f"/v1/customers/{cid}/rooms{query}", headers))[0] == 200

                return step

            def page_step(i: int) -> Step:
                return view_step(i, f"?limit={PAGE}")

            def noop_step(i: int) -> Step:
                async def step(http: Connection) -> bool:
                    return (await http.request("GET", "/livez", {}))[0] == 200

                return step

            figures["commands"][clients] = asyncio.run(_drive(server.url, clients, seconds, command_step))
            figures["views"][clients] = asyncio.run(_drive(server.url, clients, seconds, view_step))
            figures["pages"][clients] = asyncio.run(_drive(server.url, clients, seconds, page_step))
            figures["noop"][clients] = asyncio.run(_drive(server.url, clients, seconds, noop_step))
    finally:
        server.stop()
    return figures


def measure_in_process(db: str, made: list[tuple[str, str, str]], seconds: float) -> dict[int, float]:
    """The same workload through ``ledger apply``'s code path: groups of the clients' next commands."""
    from commands.parsing import parse_command
    from ledger.readside import catch_up, open_read_models

    app = build_app(db, {"LEDGER_SECRET_KEY": SECRET})
    models = open_read_models(app)
    rates: dict[int, float] = {}
    try:
        for clients in LEVELS:
            portals = [Portal(f"p{clients}-{i}", *made[i % len(made)]) for i in range(clients)]
            done = 0
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                commands = [parse_command({**p.next(), "actor": "ops"}) for p in portals]
                outcomes = app.execute_many(commands) if len(commands) > 1 else [app.execute(commands[0])]
                for portal, outcome in zip(portals, outcomes, strict=True):
                    if isinstance(outcome, dict):
                        portal.done(outcome)
                        done += 1
                    else:
                        portal.step += 1
                catch_up(app, models)
            rates[clients] = done / (time.perf_counter() - started)
    finally:
        models.close()
        app.close()
    return rates


def run(backend: str, quick: bool, folder: Path) -> dict[str, Any]:
    seconds = 1.5 if quick else 6.0
    customers = 16 if quick else 64

    def store(name: str) -> str:
        if backend == "postgres":
            from tests.kit.pg import fresh_database_url

            return fresh_database_url()
        return str(folder / f"{name}.db")

    http_db, local_db = store("http"), store("local")
    made, keys = seed(http_db, customers)
    local_made, _ = seed(local_db, customers)
    in_process = measure_in_process(local_db, local_made, seconds)
    over_http = measure_http(http_db, made, keys, seconds, folder / f"serve-{backend}.log")
    return {"in_process": in_process, **over_http}


def report(results: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[tuple[str, ...]]]:
    figures: dict[str, Any] = {}
    rows: list[tuple[str, ...]] = []
    for backend, r in results.items():
        for clients in LEVELS:
            c, v, n, local = r["commands"][clients], r["views"][clients], r["noop"][clients], r["in_process"][clients]
            pg = r["pages"][clients]
            prefix = f"http_{backend}_{clients}"
            figures[f"{prefix}_commands_per_s"] = c["per_s"]
            figures[f"{prefix}_commands_p50_ms"] = c["p50_ms"]
            figures[f"{prefix}_commands_p99_ms"] = c["p99_ms"]
            figures[f"{prefix}_commands_failures"] = c["failures"]
            figures[f"{prefix}_inprocess_commands_per_s"] = local
            figures[f"{prefix}_views_per_s"] = v["per_s"]
            figures[f"{prefix}_views_p50_ms"] = v["p50_ms"]
            figures[f"{prefix}_views_p99_ms"] = v["p99_ms"]
            figures[f"{prefix}_page_per_s"] = pg["per_s"]
            figures[f"{prefix}_page_p50_ms"] = pg["p50_ms"]
            figures[f"{prefix}_page_p99_ms"] = pg["p99_ms"]
            figures[f"{prefix}_noop_per_s"] = n["per_s"]
            figures[f"{prefix}_noop_p99_ms"] = n["p99_ms"]
            rows.append((
                f"HTTP {backend} {clients} clients",
                f"{c['per_s']:,.0f} cmd/s p50 {c['p50_ms']:.1f} p99 {c['p99_ms']:.1f} ms",
                f"in-process {local:,.0f} cmd/s",
                f"{c['per_s'] / local:.2f} of in-process",
            ))
            rows.append((
                f"HTTP {backend} {clients} clients GET rooms",
                f"{v['per_s']:,.0f} req/s p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f} ms",
                f"do-nothing {n['per_s']:,.0f} req/s p99 {n['p99_ms']:.1f} ms",
                f"{v['per_s'] / n['per_s']:.2f} of do-nothing",
            ))
            rows.append((
                f"HTTP {backend} {clients} clients GET rooms?limit={PAGE}",
                f"{pg['per_s']:,.0f} req/s p50 {pg['p50_ms']:.1f} p99 {pg['p99_ms']:.1f} ms",
                f"do-nothing {n['per_s']:,.0f} req/s",
                f"{pg['per_s'] / n['per_s']:.2f} of do-nothing",
            ))
    return figures, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-http-"))
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if args.backend == "both" and not (os.environ.get("LEDGER_TEST_PG_URL") or Path(".cache/pg-url").exists()):
        backends = ["sqlite"]
    results = {b: run(b, args.quick, folder) for b in backends}
    figures, rows = report(results)
    from rich.console import Console
    from rich.table import Table

    table = Table(title="HTTP API" + (" (quick)" if args.quick else ""))
    for column in ("measure", "ledger", "baseline in the same run", "ratio"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
