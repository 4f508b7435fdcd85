"""The middleware slot of the HTTP application (metrics, correlation ids: issue 16 fills it).

:func:`install` runs once in :func:`ledger.http.app.create_app`, after the problem handlers and
before the routes are added. Keep each middleware pure ASGI or ``BaseHTTPMiddleware``; a
middleware must never log an ``Authorization`` header or a response body (secrets, R23).
"""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the server's middleware to ``app`` (none yet)."""
