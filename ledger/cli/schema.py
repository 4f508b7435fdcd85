"""``ledger schema [--write|--check]``: the JSON Schema of every command (``schemas/``)."""

from __future__ import annotations

import argparse
import sys

from ledger.cli.common import EXIT_OK, EXIT_REFUSED, Verbs


def cmd_schema(args: argparse.Namespace) -> int:
    from commands.schema import SCHEMA_PATH, render_schema

    text = render_schema()
    if args.check:
        current = SCHEMA_PATH.read_text("utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is out of date; run `ledger schema --write`", file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK
    if args.write:
        SCHEMA_PATH.write_text(text, "utf-8")
        print(f"wrote {SCHEMA_PATH}")
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    schema = verbs.add_parser("schema", help="print the JSON Schema of all commands")
    group = schema.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write it to schemas/commands.schema.json")
    group.add_argument("--check", action="store_true", help="exit 1 when the published file is stale")
    schema.set_defaults(func=cmd_schema)
