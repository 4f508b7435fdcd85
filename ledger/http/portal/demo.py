"""People and customers for trying the portal: three customers, their admins, a viewer and a partner user.

``python -m ledger.http.portal.demo --db ledger-demo.db --idp-config FILE`` records (as ``ops`` and
then as each person, dated over the last three months so that portal commands made now follow them,
R20): orders for Acme, Initech and Umbrella; each first order's invitation accepted by that customer's
admin (R15); at Acme rooms, licenses, devices and a viewer; the service partner ``avpro`` with user
``pat@avpro.example``, delegated to by Acme and Initech but not by Umbrella (R17). It writes the
accounts of these people into a configuration for ``idp/server.mjs`` (the development provider) and
prints how to sign in. Running it again on the same ledger records nothing twice (it is skipped).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregates.errors import LedgerError
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.unit_of_work import UnitOfWork

PASSWORD = "demo"
PARTNER = "avpro"
PARTNER_USER = "pat@avpro.example"
ADMIN = "admin@acme.example"
VIEWER = "viewer@acme.example"
OTHER = "admin@initech.example"
THIRD = "admin@umbrella.example"
PEOPLE = {
    ADMIN: "admin of Acme",
    VIEWER: "viewer of Acme",
    PARTNER_USER: "user of the service partner avpro (Acme and Initech delegated to it, Umbrella did not)",
    OTHER: "admin of Initech",
    THIRD: "admin of Umbrella",
}


def _party(name: str, email: str, city: str, country: str) -> dict[str, Any]:
    return {"name": name, "email": email,
            "address": {"line1": "1 Market Street", "city": city, "postal_code": "10001", "country": country}}


def _order(po: str, service: str, quantity: int, company: str, email: str, city: str, country: str) -> dict[str, Any]:
    return {
        "command": "PlaceOrder", "po_number": po, "service": service, "years": 3, "quantity": quantity,
        "end_customer": {"company": company, "email": email,
                         "address": {"line1": "100 Main Street", "city": city, "postal_code": "10001",
                                     "country": country}},
        "reseller": _party("Northwind Resellers", "orders@northwind.example", "Chicago", "US"),
        "distributor": _party("Contoso Distribution", "sales@contoso.example", "Dallas", "US"),
    }


@dataclass
class Seeder:
    app: LedgerApplication
    clock: datetime
    results: list[dict[str, Any]] = field(default_factory=list)

    def run(self, actor: str, line: dict[str, Any], hours: float = 6) -> dict[str, Any]:
        self.clock += timedelta(hours=hours)
        command = parse_command({**line, "actor": actor, "at": self.clock.isoformat()})
        result = self.app.execute(command)
        self.results.append(result)
        return result


def seed(app: LedgerApplication, now: datetime | None = None) -> dict[str, str]:
    """Record the demo people and customers; returns the customer ids by name."""
    now = now or datetime.now(UTC)
    s = Seeder(app, (now - timedelta(days=90)).replace(minute=0, second=0, microsecond=0))
    customers: dict[str, str] = {}
    accounts: dict[str, str] = {}
    admins = {"Acme Corporation": (ADMIN, "New York", "US"), "Initech": (OTHER, "Austin", "US"),
              "Umbrella Corporation": (THIRD, "London", "GB")}
    for n, (company, (email, city, country)) in enumerate(admins.items()):
        placed = s.run("ops", _order(f"DEMO-{n}01", "select", 60 if n == 0 else 10, company, email, city, country))
        customers[company] = placed["customer_id"]
        accounts[company] = placed["account_id"]
        s.run(email, {"command": "AcceptInvitation", "token": placed["invitation"]["token"]})
    acme = customers["Acme Corporation"]
    s.run("ops", _order("DEMO-002", "syncplus", 10, "Acme Corporation", ADMIN, "New York", "US"))
    s.run("ops", {"command": "RegisterPartner", "partner_id": PARTNER, "name": "AV Pro Services"})
    s.run("ops", {"command": "AddPartnerUser", "partner_id": PARTNER, "email": PARTNER_USER})
    for company in ("Acme Corporation", "Initech"):
        s.run(admins[company][0], {"command": "DelegatePartner", "customer_id": customers[company],
                                   "partner_id": PARTNER, "role": "admin"})
    account = accounts["Acme Corporation"]
    for i, (room, site) in enumerate([("Boardroom", "New York HQ"), ("Huddle 1", "New York HQ"),
                                      ("Training", "Boston office")]):
        added = s.run(ADMIN, {"command": "AddRoom", "customer_id": acme, "account_id": account,
                              "name": room, "site": site, "country": "US"})
        if i < 2:
            s.run(ADMIN, {"command": "AssignLicense", "customer_id": acme, "room_id": added["room_id"],
                          "po_number": "DEMO-001"})
            s.run(ADMIN, {"command": "RegisterDevice", "customer_id": acme, "room_id": added["room_id"],
                          "serial_number": f"DEMO-SN-{i}01", "product": "Rally Bar", "purchased_on": "2026-06-01"})
    invited = s.run(ADMIN, {"command": "InviteUser", "customer_id": acme, "email": VIEWER, "role": "viewer"})
    s.run(VIEWER, {"command": "AcceptInvitation", "token": invited["invitation"]["token"]})
    return customers


def idp_config(portal_url: str, client_secret: str, port: int = 4001) -> dict[str, Any]:
    """A configuration of ``idp/server.mjs`` with the portal's client and the demo people."""
    return {
        "host": "127.0.0.1",
        "issuers": [{
            "name": "operator",
            "port": port,
            "clients": [{"client_id": "ledger-portal", "client_secret": client_secret,
                         "redirect_uris": [portal_url.rstrip("/") + "/auth/callback"]}],
            "accounts": [{"email": e, "email_verified": True, "password": PASSWORD} for e in PEOPLE],
        }],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ledger.http.portal.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="ledger-demo.db")
    parser.add_argument("--idp-config", type=Path, required=True, help="where to write the provider's configuration")
    parser.add_argument("--env", type=Path, required=True, help="where to write the server's environment (sh)")
    parser.add_argument("--portal-url", default="http://127.0.0.1:8000")
    parser.add_argument("--idp-port", type=int, default=4001)
    args = parser.parse_args(argv)
    app = build_app(args.db)
    try:
        if UnitOfWork(app).purchase_order("DEMO-001") is not None:
            print("portal demo: the demo people are already in this ledger")
        else:
            try:
                seed(app)
            except LedgerError as refusal:
                print(f"portal demo: seeding was refused: {refusal.message}", file=sys.stderr)
                return 1
    finally:
        app.close()
    secret = secrets.token_urlsafe(24)
    args.idp_config.write_text(json.dumps(idp_config(args.portal_url, secret, args.idp_port), indent=2))
    issuer = f"http://127.0.0.1:{args.idp_port}"
    args.env.write_text(
        f"export LEDGER_OIDC_ISSUERS='{json.dumps([{'issuer': issuer, 'audience': 'ledger-portal'}])}'\n"
        f"export LEDGER_PORTAL_URL='{args.portal_url}'\n"
        "export LEDGER_PORTAL_CLIENT_ID='ledger-portal'\n"
        f"export LEDGER_PORTAL_CLIENT_SECRET='{secret}'\n"
    )
    args.env.chmod(0o600)
    print(f"Open {args.portal_url} and sign in (password: {PASSWORD}) as:")
    for email, who in PEOPLE.items():
        print(f"  {email:26} {who}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
