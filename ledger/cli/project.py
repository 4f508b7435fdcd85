"""``ledger project [--follow] [--metrics-port PORT]``: keep the read models current while others write."""

from __future__ import annotations

import argparse

from ledger.cli.common import Verbs


def cmd_project(args: argparse.Namespace) -> int:
    """Catch the read models up; a projection stopped at an event it cannot apply is reported (exit 1)."""
    from ledger.ops.project import run_projector

    return run_projector(args.db, follow=args.follow, interval=args.interval, metrics_port=args.metrics_port)


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    project = verbs.add_parser("project", parents=[common], help="catch the read models up with the log")
    project.add_argument("--follow", action="store_true", help="keep following new events until interrupted")
    project.add_argument("--interval", type=float, default=0.5, metavar="S")
    project.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port")
    project.set_defaults(func=cmd_project)
