"""The Service Portal: server-rendered pages on the same FastAPI application as ``/v1`` (SPEC section 6).

:func:`install` adds the session cookie, the sign-in routes (:mod:`.signin`), the pages and forms
(:mod:`.pages`) and two static files (the stylesheet and htmx from the pinned npm package in
``ledger/http/portal/node_modules``, installed by ``npm ci``; no CDN, no build step). Pages and forms
reach the ledger only through a :class:`~ledger.http.portal.door.Door`, which the server implements
with the handlers, rules and authorization of the API itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregates.catalog import CountryTable
from ledger.http.portal.door import Door
from ledger.http.portal.pages import Portal, router
from ledger.http.portal.session import CsrfRefused, origin_of
from ledger.http.portal.settings import PortalSettings
from ledger.http.portal.signin import SignIn

HERE = Path(__file__).parent
HTMX = HERE / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"
STYLESHEET = HERE / "static" / "portal.css"
SESSION_COOKIE = "ledger_portal"
logger = logging.getLogger("ledger.portal")

PAGE_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class PageHeaders:
    """Security headers on portal responses (not ``/v1``): CSP, no framing, no referrer off-site, no caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else "/v1"
        if path.startswith("/v1") or path in ("/openapi.json", "/livez", "/readyz", "/metrics"):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(PAGE_HEADERS)
                if not path.startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(
    api: FastAPI,
    settings: PortalSettings,
    door_of: Callable[[Request], Door],
    countries_of: Callable[[Request], CountryTable],
) -> None:
    """Mount the portal on ``api`` (call before the API's own routes are added, e.g. from ``configure``)."""
    api.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_hours * 3600,
        same_site="lax",
        https_only=settings.secure_cookie,
    )
    api.add_middleware(PageHeaders)
    api.state.portal_origin = origin_of(settings.url)
    portal = Portal(door_of, countries_of)
    api.include_router(SignIn(settings, portal).router())
    api.include_router(router(portal))
    if not HTMX.is_file():
        logger.error("portal: %s is missing (run `npm ci` in ledger/http/portal): pages work without htmx", HTMX)

    @api.get("/static/portal/htmx.min.js", include_in_schema=False)
    async def htmx() -> Response:
        if not HTMX.is_file():
            return PlainTextResponse("htmx is not installed on this server (npm ci in ledger/http/portal)", 503)
        return FileResponse(HTMX, media_type="text/javascript", headers={"cache-control": "public, max-age=3600"})

    @api.get("/static/portal/portal.css", include_in_schema=False)
    async def stylesheet() -> Response:
        return FileResponse(STYLESHEET, media_type="text/css", headers={"cache-control": "public, max-age=3600"})

    @api.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> HTMLResponse:
        return portal.message(
            request, 403, "Refused", f"Nothing was changed: {exc}. Reload the page and submit the form again."
        )
