"""R16-R18 through HTTP for portal users signed in at the real OpenID provider (ID tokens).

A removed user and a partner user after revocation hold no role on the customer any more: the
customer is then invisible to them and answers 404 exactly as one that does not exist (SPEC 6).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kit.commands import order
from tests.kit.http import Client, Server, assert_problem, create_key, ledger_cli, without_actor
from tests.kit.idp import Idp
from tests.kit.idp import idp as idp  # the session fixture

pytestmark = pytest.mark.integration

_n = itertools.count(1)


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, idp: Idp) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("http-users")
    if request.config.getoption("--backend") == "postgres":
        from tests.kit.pg import fresh_database_url

        db = fresh_database_url()
    else:
        db = str(tmp / "ledger.db")
    ledger_cli(db, "api-key", "list")
    srv = Server(db, env={"LEDGER_OIDC_ISSUERS": idp.operator_settings()}, log=tmp / "serve.log").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ops(server: Server) -> Iterator[Client]:
    client = Client(server.url, create_key(server.db, "ops-users", "--role", "ops"))
    yield client
    client.close()


def room(cid: str, aid: str, name: str) -> dict[str, Any]:
    return {"command": "AddRoom", "customer_id": cid, "account_id": aid, "name": name, "site": "HQ", "country": "US"}


def count(ops: Client, cid: str) -> int:
    return len(ops.get(f"/v1/customers/{cid}/history").json())


def customer_with_admin(server: Server, ops: Client, idp: Idp) -> tuple[dict[str, Any], Client]:
    company = f"Users{next(_n)}x{uuid.uuid4().hex[:6]}"
    domain = f"{company.lower()}.example"
    body = without_actor(order(po=f"PO-{company}", company=company, email=f"admin@{domain}"))
    del body["at"]  # now, so the invitation is pending
    placed = ops.ok(body)
    admin = Client(server.url, idp.login(f"admin@{domain}"))
    admin.ok({"command": "AcceptInvitation", "token": placed["invitation"]["token"]})
    return {"customer_id": placed["customer_id"], "account_id": placed["account_id"], "domain": domain}, admin


def invited(server: Server, admin: Client, idp: Idp, cid: str, email: str, role: str) -> Client:
    result = admin.ok({"command": "InviteUser", "customer_id": cid, "email": email, "role": role})
    user = Client(server.url, idp.login(email))
    user.ok({"command": "AcceptInvitation", "token": result["invitation"]["token"]})
    return user


def test_r16_viewer_reads_and_every_write_is_403_recording_nothing(server: Server, ops: Client, idp: Idp) -> None:
    customer, admin = customer_with_admin(server, ops, idp)
    cid, aid = customer["customer_id"], customer["account_id"]
    viewer = invited(server, admin, idp, cid, f"vic@{customer['domain']}", "viewer")
    assert [c["role"] for c in viewer.get("/v1/customers").json()] == ["viewer"]
    for view in ("contracts", "rooms", "spares", "access", "history"):
        assert viewer.get(f"/v1/customers/{cid}/{view}").status_code == 200
    before = count(ops, cid)
    for body in (room(cid, aid, "Viewer room"),
                 {"command": "InviteUser", "customer_id": cid, "email": f"x@{customer['domain']}", "role": "admin"},
                 {"command": "ChangeRole", "customer_id": cid, "email": f"vic@{customer['domain']}", "role": "admin"}):
        assert_problem(viewer.command(body), 403, rule="R16", field="actor")
    assert count(ops, cid) == before


def test_r16_removed_user_acts_no_more(server: Server, ops: Client, idp: Idp) -> None:
    customer, admin = customer_with_admin(server, ops, idp)
    cid, aid = customer["customer_id"], customer["account_id"]
    bob = invited(server, admin, idp, cid, f"bob@{customer['domain']}", "admin")
    bob.ok(room(cid, aid, "Bob's room"))
    admin.ok({"command": "RemoveUser", "customer_id": cid, "email": f"bob@{customer['domain']}"})
    before = count(ops, cid)
    assert_problem(bob.command(room(cid, aid, "After removal")), 404, field="customer_id")
    assert_problem(bob.get(f"/v1/customers/{cid}/rooms"), 404, field="customer_id")
    assert bob.get("/v1/customers").json() == []
    assert count(ops, cid) == before
    actors = {row["actor"] for row in ops.get(f"/v1/customers/{cid}/history").json()}
    assert f"bob@{customer['domain']}" in actors and f"admin@{customer['domain']}" in actors


def test_r17_partner_user_acts_while_delegated_and_not_after_revocation(server: Server, ops: Client, idp: Idp) -> None:
    customer, admin = customer_with_admin(server, ops, idp)
    other, _ = customer_with_admin(server, ops, idp)
    cid, aid = customer["customer_id"], customer["account_id"]
    partner, pat = f"avp-{uuid.uuid4().hex[:8]}", f"pat{next(_n)}@avpartner.example"
    ops.ok({"command": "RegisterPartner", "partner_id": partner, "name": "AV Partner"})
    ops.ok({"command": "AddPartnerUser", "partner_id": partner, "email": pat})
    admin.ok({"command": "DelegatePartner", "customer_id": cid, "partner_id": partner, "role": "admin"})
    user = Client(server.url, idp.login(pat))
    assert [c["customer_id"] for c in user.get("/v1/customers").json()] == [cid]
    user.ok(room(cid, aid, "Partner room"))
    assert_problem(user.command(room(other["customer_id"], other["account_id"], "Elsewhere")), 404)
    assert_problem(user.command({"command": "RevokePartner", "customer_id": cid, "partner_id": partner}), 403,
                   rule="R17")
    admin.ok({"command": "RevokePartner", "customer_id": cid, "partner_id": partner})
    before = count(ops, cid)
    assert_problem(user.command(room(cid, aid, "After revocation")), 404)
    assert_problem(user.get(f"/v1/customers/{cid}/rooms"), 404)
    assert user.get("/v1/customers").json() == []
    assert count(ops, cid) == before
