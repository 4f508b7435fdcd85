"""The middleware of the HTTP application: correlation ids and metrics (issue 16).

:func:`install` runs once in :func:`ledger.http.app.create_app`, after the problem handlers and
before the routes are added. A middleware must never log an ``Authorization`` header or a response
body (secrets, R23).

- ``X-Request-Id``: the caller's, when it is a short token of safe characters, else a new one; it is
  the correlation id of everything the request does (every event it records, its log lines) and is
  returned on the response.
- ``GET /metrics``: Prometheus text format (``ledger.ops.metrics``): commands by type and outcome
  (refusals by rule) and their latency through the group-commit writer, the lag of each
  projection in events and seconds, stopped projections.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.ops import tracing
from ledger.ops.metrics import LedgerMetrics, exposition

REQUEST_ID = "x-request-id"


class CorrelationMiddleware:
    """Pure ASGI: sets the correlation id for the request's context and echoes it in the response."""

    def __init__(self, app: ASGIApp, metrics: LedgerMetrics, api: FastAPI) -> None:
        self.app = app
        self.metrics = metrics
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = getattr(self.api.state, "ledger", None)
        if state is not None and getattr(state.committer, "metrics", None) is None:
            state.committer.metrics = self.metrics
        given = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-request-id"), None)
        request_id = tracing.usable_request_id(given)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        with tracing.correlated(request_id):
            await self.app(scope, receive, send_with_id)


def install(app: FastAPI) -> None:
    """Add the correlation middleware and ``GET /metrics`` to ``app``."""
    metrics = LedgerMetrics()
    app.state.metrics = metrics

    def statuses() -> list[Any]:
        from ledger.ops.status import projection_statuses

        state = getattr(app.state, "ledger", None)
        return [] if state is None else projection_statuses(state.app, state.committer.models)

    metrics.add_consumers(statuses)

    def cache() -> Any:
        state = getattr(app.state, "ledger", None)
        return None if state is None else state.app.repository.cache

    metrics.add_cache(cache)
    app.add_middleware(CorrelationMiddleware, metrics=metrics, api=app)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (text exposition format)",
             include_in_schema=False)
    def metrics_endpoint(request: Request) -> Response:
        body, content_type = exposition(metrics.registry)
        return Response(body, media_type=content_type)
