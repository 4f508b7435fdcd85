"""``ledger demo [--customers N]``: a seeded workload on a fresh embedded store, then a summary."""

from __future__ import annotations

import argparse

from ledger.cli.common import UsageError, Verbs


def cmd_demo(args: argparse.Namespace) -> int:
    from ledger.demo import run_demo

    if args.customers < 1:
        raise UsageError("--customers: give at least 1")
    return run_demo(args.db, customers=args.customers, seed=args.seed)


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    demo = verbs.add_parser("demo", parents=[common], help="a seeded workload on a fresh embedded store")
    demo.add_argument("--customers", type=int, default=5, help="customers to generate (about 40 commands each)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
