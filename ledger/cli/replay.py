"""``ledger replay [--projection NAME] [--check]``: rebuild read models from the events."""

from __future__ import annotations

import argparse
import sys

from ledger.bootstrap import build_app
from ledger.cli.common import EXIT_OK, EXIT_REFUSED, UsageError, Verbs, progress_bar


def cmd_replay(args: argparse.Namespace) -> int:
    from ledger.readside import open_read_models, rebuild_views
    from projections.locking import LockTimeout
    from projections.tables import PROJECTIONS

    names = (args.projection,) if args.projection else PROJECTIONS
    app = build_app(args.db)
    models = open_read_models(app)
    try:
        total = app.recorder.max_notification_id() or 0
        with progress_bar("replay") as bar:
            verb = "checking" if args.check else "rebuilding"
            task = bar.add_task(f"{verb} {', '.join(names)}", total=total)

            def progress(done: int, end: int) -> None:
                bar.update(task, completed=done, total=end)

            wait = app.settings.maintenance_wait

            def waiting(what: str) -> None:
                print(f"ledger: waiting for another maintenance run (replay or replay --check) to finish "
                      f"({what}), up to {wait} s", file=sys.stderr, flush=True)

            try:
                reports = rebuild_views(
                    app, models, names, check=args.check, progress=progress, batch_size=args.batch_size,
                    on_wait=waiting,
                )
            except LockTimeout:
                raise UsageError(
                    f"replay: another maintenance run (replay or replay --check) still holds the lock after "
                    f"{wait} s; nothing was changed, run it again later (LEDGER_MAINTENANCE_WAIT)"
                ) from None
            bar.update(task, completed=total, total=total)
    finally:
        models.close()
        app.close()
    status = EXIT_OK
    for report in reports:
        resumed = f", resumed at position {report.resumed_from}" if report.resumed_from else ""
        if report.stopped is not None:
            status = EXIT_REFUSED
            print(f"{report.projection}: not rebuilt, {report.stopped}")
            continue
        if args.check:
            if report.differences:
                status = EXIT_REFUSED
                print(f"{report.projection}: differs from a rebuild ({len(report.differences)} rows)")
                for line in report.differences:
                    print(f"  {line}")
            else:
                print(f"{report.projection}: identical to a rebuild from {report.events_read} notifications")
        else:
            print(f"{report.projection}: rebuilt from {report.events_read} notifications{resumed}")
    return status


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    replay = verbs.add_parser("replay", parents=[common], help="rebuild read models from the events")
    replay.add_argument("--projection", choices=("contracts", "rooms", "spares", "access", "tickets"))
    replay.add_argument("--check", action="store_true", help="rebuild into a shadow copy and diff; exit 1 if different")
    replay.add_argument("--batch-size", type=int, default=2000, metavar="N", help="events per transaction")
    replay.set_defaults(func=cmd_replay)
