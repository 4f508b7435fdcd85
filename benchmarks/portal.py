"""Page weight and server time of the portal's pages for a customer with 2,000 rooms.

    python -m benchmarks.portal [--rooms 2000] [--rounds 15] [--json FILE]

A real ``ledger serve`` (SQLite) and the real OpenID provider (``idp/``); a customer with ``--rooms``
rooms (each with a license and a device) and a portal admin who signs in through the provider (httpx,
the same redirects as a browser, ``Accept-Encoding: gzip``). For every page: bytes of HTML, bytes
on the wire (gzip above ``GZIP_MINIMUM_BYTES``), and the p50/p90 time to the last byte
on loopback over ``--rounds`` requests (nearly all of it is server time). Beside them, in the same
run and the same rounds: ``GET /v1/customers/{id}/rooms?limit=50`` (the API's page of the same rows,
an API key of the customer) and ``GET /livez`` (does nothing), so the figures read as ratios. The
static files (stylesheet, htmx) are cached by the browser (``max-age``) and counted once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from aggregates.customer import Customer
from benchmarks.asof import percentile
from commands.parsing import parse_command
from ledger.bootstrap import build_app
from tests.kit.big_customer import build_big_customer
from tests.kit.http import SECRET, Server, create_key, free_port
from tests.kit.idp import start_idp
from tests.kit.portal import PASSWORD, signin_script

ADMIN = "it.admin@big.example"


def build(db: str, rooms: int) -> tuple[str, str]:
    """The big customer (about three events a room) and its admin; returns (customer id, a room id)."""
    app = build_app(db, {"LEDGER_SECRET_KEY": SECRET})
    try:
        customer_id, _t0, last = build_big_customer(app, 2 + 3 * rooms)
        at = last + timedelta(minutes=5)
        invited = app.execute(parse_command({
            "command": "InviteUser", "customer_id": str(customer_id), "email": ADMIN, "role": "admin",
            "actor": "ops", "at": at.isoformat()}))
        app.execute(parse_command({"command": "AcceptInvitation", "token": invited["invitation"]["token"],
                                   "actor": ADMIN, "at": (at + timedelta(minutes=1)).isoformat()}))
        customer = app.repository.get(customer_id)
        assert isinstance(customer, Customer)
        room_id = str(next(iter(customer.rooms)))
    finally:
        app.close()
    return str(customer_id), room_id


def timed(client: httpx.Client, url: str, **kwargs: Any) -> tuple[float, bytes, int, int]:
    """Seconds to the last byte, the (decoded) body, the status and the bytes of the body on the wire."""
    started = time.perf_counter()
    response = client.get(url, **kwargs)
    body = response.content
    return time.perf_counter() - started, body, response.status_code, response.num_bytes_downloaded


def run(rooms: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as folder:
        work = Path(folder)
        db = str(work / "ledger.db")
        print(f"building a customer with {rooms} rooms …", flush=True)
        customer_id, room_id = build(db, rooms)
        server = Server(db, port=free_port(), log=work / "serve.log")
        idp = start_idp(work / "idp", portal_url=server.url)
        try:
            idp.operator.add_user(ADMIN, password=PASSWORD)
            server.env = {
                "LEDGER_OIDC_ISSUERS": idp.operator_settings(),
                "LEDGER_PORTAL_URL": server.url,
                "LEDGER_PORTAL_CLIENT_ID": idp.operator.client_id,
                "LEDGER_PORTAL_CLIENT_SECRET": idp.operator.client_secret,
            }
            key = create_key(db, "bench-portal", "--customer", customer_id, "--role", "viewer")
            server.start()
            base = f"{server.url}/c/{customer_id}"
            pages = {
                "orders": base + "/orders",
                "rooms p1": base + "/rooms",
                "rooms p40": base + "/rooms?page=40",
                "rooms search": base + "/rooms?q=Room%201999",
                "room detail": f"{base}/rooms/{room_id}",
                "spares": base + "/spares",
                "access": base + "/access",
                "support": base + "/support",
                "history p1": base + "/history",
            }
            api = f"{server.url}/v1/customers/{customer_id}/rooms?limit=50"
            with httpx.Client(timeout=120.0) as browser, httpx.Client(timeout=120.0) as machine:
                signin_script(browser, server.url, ADMIN)
                statics = {name: browser.get(server.url + path).num_bytes_downloaded
                           for name, path in (("portal.css", "/static/portal/portal.css"),
                                              ("htmx.min.js", "/static/portal/htmx.min.js"))}
                times: dict[str, list[float]] = {name: [] for name in (*pages, "api rooms limit=50", "livez")}
                sizes: dict[str, tuple[int, int]] = {}
                for _ in range(rounds):  # alternate every page and both baselines within each round
                    for name, url in pages.items():
                        seconds, body, status, wire = timed(browser, url)
                        assert status == 200, (name, status, body[:300])
                        times[name].append(seconds)
                        sizes[name] = (len(body), wire)
                    seconds, body, status, wire = timed(machine, api, headers={"Authorization": f"Bearer {key}"})
                    assert status == 200
                    times["api rooms limit=50"].append(seconds)
                    sizes["api rooms limit=50"] = (len(body), wire)
                    seconds, body, _, _ = timed(machine, server.url + "/livez")
                    times["livez"].append(seconds)
        finally:
            server.stop()
            idp.stop()
    livez = statistics.median(times["livez"])
    api_p50 = statistics.median(times["api rooms limit=50"])
    report: dict[str, Any] = {"rooms": rooms, "rounds": rounds, "static_bytes": statics, "pages": {}}
    print(f"\nportal pages, customer with {rooms} rooms, {rounds} rounds (loopback, time to last byte)")
    print(f"{'page':22} {'HTML bytes':>11} {'on wire':>8} {'p50 ms':>8} {'p90 ms':>8} {'x API page':>11}")
    for name, samples in times.items():
        p50, p90 = statistics.median(samples), percentile(samples, 90)
        raw, packed = sizes.get(name, (0, 0))
        report["pages"][name] = {"bytes": raw, "wire_bytes": packed, "p50_ms": round(p50 * 1000, 2),
                                 "p90_ms": round(p90 * 1000, 2), "vs_api_page": round(p50 / api_p50, 2),
                                 "vs_livez": round(p50 / livez, 1)}
        print(f"{name:22} {raw:>11} {packed:>8} {p50 * 1000:>8.1f} {p90 * 1000:>8.1f} {p50 / api_p50:>10.2f}x")
    heaviest = max(pages, key=lambda n: statistics.median(times[n]))
    report["heaviest"] = heaviest
    first_visit = sizes[heaviest][1] + sum(statics.values())
    print(f"static files on the wire (cached): {statics}; heaviest page by server time: {heaviest}, "
          f"first visit {first_visit} bytes on the wire with the static files")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.portal", description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    report = run(args.rooms, args.rounds)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
