"""``ledger api-key create|list|revoke`` (R23): keys are printed once and stored only as keyed hashes."""

from __future__ import annotations

import argparse
import json
from typing import Any
from uuid import UUID


def _store(args: argparse.Namespace) -> Any:
    from ledger.auth.apikeys import ApiKeyStore
    from ledger.config import load_settings
    from ledger.readside import read_engine

    settings = load_settings(args.db)
    return ApiKeyStore(read_engine(settings.store), settings.secret_key), settings


def cmd_create(args: argparse.Namespace) -> int:
    from aggregates.errors import InvalidInput, NotFound
    from aggregates.ids import partner_id_for
    from aggregates.partner import Partner
    from ledger.bootstrap import build_app

    customer_id: UUID | None = None
    if args.customer is not None:
        try:
            customer_id = UUID(args.customer)
        except ValueError:
            raise InvalidInput(
                f"--customer: {args.customer!r} is not a customer id (a UUID)", field="customer"
            ) from None
    store, settings = _store(args)
    try:
        if customer_id is not None or args.partner is not None:
            app = build_app(settings=settings)
            try:
                if customer_id is not None:
                    app.customer(customer_id)
                if args.partner is not None:
                    try:
                        partner = app.unsnapshotted(partner_id_for(args.partner))
                    except Exception:
                        partner = None
                    if not isinstance(partner, Partner):
                        raise NotFound(f"--partner: no partner {args.partner} (R17)", rule="R17", field="partner")
                    args.partner = partner.partner_id
            finally:
                app.close()
        key = store.create(args.name, role=args.role, customer_id=customer_id, partner_id=args.partner)
    finally:
        store.engine.dispose()
    if args.json:
        print(json.dumps({"name": args.name, "key": key}))
    else:
        print(key)
        print(f"API key {args.name} (principal key:{args.name}); it is shown only this once.", flush=True)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    try:
        keys = [k.as_dict() for k in store.list()]
    finally:
        store.engine.dispose()
    if args.json:
        print(json.dumps(keys))
        return 0
    for k in keys:
        scope = k["scope"] + (f" {k['customer_id']} {k['role']}" if k["scope"] == "customer" else "")
        scope += f" {k['partner_id']}" if k["scope"] == "partner" else ""
        state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
        print(f"{k['name']}\t{scope}\tcreated {k['created_at']}\t{state}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    store, _ = _store(args)
    try:
        store.revoke(args.name)
    finally:
        store.engine.dispose()
    print(f"API key {args.name} revoked")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("api-key", parents=[common], help="API keys for operators and integrations (R23)")
    verbs = keys.add_subparsers(dest="api_key_verb", required=True)
    create = verbs.add_parser("create", parents=[common], help="create a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=("ops", "admin", "viewer"))
    create.add_argument("--customer", metavar="ID", help="a key of one customer (with --role admin|viewer)")
    create.add_argument("--partner", metavar="ID", help="a key of one service partner")
    create.add_argument("--json", action="store_true", help='print {"name": ..., "key": ...}')
    create.set_defaults(func=cmd_create)
    listing = verbs.add_parser("list", parents=[common], help="every key, without its secret")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    revoke = verbs.add_parser("revoke", parents=[common], help="revoke a key (refused from the next request on)")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(func=cmd_revoke)
