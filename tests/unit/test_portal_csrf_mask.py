"""The portal's CSRF token is masked afresh on every page (pages are gzip-compressed: BREACH).

In-process (Starlette's test client, no network): two pages of one session carry different
strings, each accepted; a token of another session, a tampered one or none is refused.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ledger.http.portal.session import CsrfRefused, csrf_token, require_csrf


def _client() -> TestClient:
    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(csrf_token(request))

    async def post(request: Request) -> PlainTextResponse:
        try:
            await require_csrf(request)
        except CsrfRefused as refused:
            return PlainTextResponse(str(refused), status_code=403)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", page), Route("/post", post, methods=["POST"])],
                    middleware=[Middleware(SessionMiddleware, secret_key="k" * 32)])
    app.state.portal_origin = "http://testserver"
    return TestClient(app)


def test_r16_csrf_token_differs_on_every_page_and_each_is_accepted() -> None:
    client = _client()
    first, second = client.get("/").text, client.get("/").text
    assert first != second
    for token in (first, second):
        assert client.post("/post", data={"csrf_token": token}).text == "ok"
    assert client.post("/post", headers={"X-CSRF-Token": first}).text == "ok"


@pytest.mark.parametrize("tamper", ["none", "other-session", "flipped", "garbage", "plain-half"])
def test_r16_csrf_missing_foreign_or_tampered_token_is_403(tamper: str) -> None:
    client = _client()
    token = client.get("/").text
    sent = {
        "none": None,
        "other-session": _client().get("/").text,
        # a character inside the text (the last data character also holds padding bits that decode to nothing)
        "flipped": token[:20] + ("A" if token[20] != "A" else "B") + token[21:],
        "garbage": "%%%not-base64%%%",
        "plain-half": token[: len(token) // 2],
    }[tamper]
    response = client.post("/post", data={} if sent is None else {"csrf_token": sent})
    assert response.status_code == 403
