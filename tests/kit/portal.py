"""A running portal for the browser journeys: the real provider (``idp/``), a seeded ledger, ``ledger serve``.

``start_portal(workdir, db)`` seeds the demo people of :mod:`ledger.http.portal.demo` (as the
command line would, in-process), starts the OpenID provider with the portal's redirect URI, gives its
operator issuer the demo accounts, and starts a real ``ledger serve`` trusting that issuer with the
portal's confidential client. ``signin_script`` signs a person in without a browser (httpx through
the same redirects), for the benchmark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from ledger.bootstrap import build_app
from ledger.http.portal import demo
from tests.kit.http import SECRET, Server, free_port
from tests.kit.idp import Idp, IdpUnavailable, start_idp

PASSWORD = "portal-test-password"


@dataclass
class Portal:
    server: Server
    idp: Idp
    customers: dict[str, str]  # name -> customer id

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.idp.stop()


def seed(db: str) -> dict[str, str]:
    app = build_app(db, {"LEDGER_SECRET_KEY": SECRET})
    try:
        return demo.seed(app)
    finally:
        app.close()


def start_portal(workdir: Path, db: str, *, extra_people: tuple[str, ...] = ()) -> Portal:
    customers = seed(db)
    server = Server(db, port=free_port(), log=workdir / "serve.log")
    idp = start_idp(workdir / "idp", portal_url=server.url)
    try:
        for email in (*demo.PEOPLE, *extra_people):
            idp.operator.add_user(email, password=PASSWORD)
        server.env = {
            "LEDGER_OIDC_ISSUERS": idp.operator_settings(),
            "LEDGER_PORTAL_URL": server.url,
            "LEDGER_PORTAL_CLIENT_ID": idp.operator.client_id,
            "LEDGER_PORTAL_CLIENT_SECRET": idp.operator.client_secret,
            "LEDGER_PORTAL_SSO_CLIENTS": json.dumps([
                {"issuer": i.issuer, "client_id": i.client_id, "client_secret": i.client_secret}
                for name, i in idp.issuers.items() if name != "operator"
            ]),
        }
        server.start()
    except BaseException:
        idp.stop()
        raise
    return Portal(server, idp, customers)


@pytest.fixture(scope="module")
def portal(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """The seeded portal on the selected backend (fails, never skips, when the provider cannot start)."""
    workdir = tmp_path_factory.mktemp("portal")
    if request.config.getoption("--backend") == "postgres":
        from tests.kit.pg import fresh_database_url

        db = fresh_database_url()
    else:
        db = str(workdir / "ledger.db")
    try:
        running = start_portal(workdir, db, extra_people=("newcomer@acme.example", "stranger@acme.example"))
    except IdpUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()


def signin_script(client: httpx.Client, portal_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign ``email`` in on ``client`` (a cookie jar) through the portal and the provider, without a browser."""
    page = client.get(portal_url + "/auth/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    response = client.post(portal_url + "/auth/signin", data={"csrf_token": token.group(1), "next": "/", "email": ""})
    for _ in range(12):
        if response.status_code not in (302, 303):
            break
        location = urljoin(str(response.url), response.headers["location"])
        if "/interaction/" in location and not location.endswith("/login"):
            form = client.get(location)
            if "<form" in form.text:
                response = client.post(location + "/login", data={"email": email, "password": password})
                continue
            response = form
            continue
        response = client.get(location)
    assert response.status_code == 200 and email in response.text, (response.status_code, response.text[:500])
