"""``ledger serve``: the HTTP API on uvicorn, and ``ledger openapi``: its published document."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ledger.bootstrap import build_http_app

    app = build_http_app(args.db)
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log,
        proxy_headers=False, server_header=False,
    )
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from ledger.http.app import create_app
    from ledger.http.openapi import OPENAPI_PATH, render

    text = render(create_app().openapi())
    if args.check:
        current = OPENAPI_PATH.read_text("utf-8") if OPENAPI_PATH.exists() else ""
        if current != text:
            print(f"{OPENAPI_PATH} is out of date; run `ledger openapi --write`", file=sys.stderr)
            return 1
        return 0
    if args.write:
        OPENAPI_PATH.write_text(text, "utf-8")
        print(f"wrote {OPENAPI_PATH}")
        return 0
    sys.stdout.write(text)
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    serve = sub.add_parser("serve", parents=[common], help="serve the HTTP API (SPEC section 6)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--access-log", action="store_true", help="log one line per request (no headers, no bodies)")
    serve.set_defaults(func=cmd_serve)
    document = sub.add_parser("openapi", help="print the OpenAPI 3.1 document of the HTTP API")
    group = document.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write it to schemas/openapi.json")
    group.add_argument("--check", action="store_true", help="exit 1 when the published file is stale")
    document.set_defaults(func=cmd_openapi)
