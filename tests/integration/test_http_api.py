"""The HTTP API of ``ledger serve`` (SPEC section 6, R16-R18, R21, R23) through a real uvicorn process.

One server per module on the backend the suite runs on (``--backend``); each test makes its own
customers (unique company names and PO numbers), so the tests do not see each other's data.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kit.commands import order
from tests.kit.http import Client, Server, assert_problem, create_key, ledger_cli, without_actor

pytestmark = pytest.mark.integration

_n = itertools.count(1)
T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"
T2 = "2026-05-06T09:00:00Z"


def _db(request: pytest.FixtureRequest, tmp: Path) -> str:
    if request.config.getoption("--backend") == "postgres":
        from tests.kit.pg import fresh_database_url

        return fresh_database_url()
    return str(tmp / "ledger.db")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("http")
    db = _db(request, tmp)
    ledger_cli(db, "api-key", "list")  # creates the key table before the server starts
    srv = Server(db, log=tmp / "serve.log").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ops_key(server: Server) -> str:
    return create_key(server.db, "ops-tests", "--role", "ops")


@pytest.fixture
def ops(server: Server, ops_key: str) -> Iterator[Client]:
    client = Client(server.url, ops_key)
    yield client
    client.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_n)}-{uuid.uuid4().hex[:6]}"


def new_customer(ops: Client, quantity: int = 10) -> dict[str, Any]:
    """A customer with one order (PO returned), an account and one room."""
    company = unique("Company")
    po = unique("PO")
    placed = ops.ok(without_actor(order(po=po, company=company, email=f"admin@{company.lower()}.example",
                                        quantity=quantity, at=T0)))
    cid, aid = placed["customer_id"], placed["account_id"]
    room = ops.ok({"command": "AddRoom", "at": T0, "customer_id": cid, "account_id": aid, "name": "Board",
                   "site": "HQ", "country": "US"})
    return {"customer_id": cid, "account_id": aid, "po": po, "room_id": room["room_id"], "placed": placed}


def add_room(cid: str, aid: str, name: str, at: str = T1) -> dict[str, Any]:
    return {"command": "AddRoom", "at": at, "customer_id": cid, "account_id": aid, "name": name, "site": "HQ",
            "country": "US"}


def history(ops: Client, cid: str) -> list[dict[str, Any]]:
    response = ops.get(f"/v1/customers/{cid}/history")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


# ----- R21/R23 authentication


def test_r21_no_credential_is_401_problem(server: Server) -> None:
    response = httpx.get(server.url + "/v1/customers")
    assert_problem(response, 401, code="unauthenticated", rule="R21", field="authorization")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("credential", ["nonsense", "lsk_0000000000000000_" + "A" * 43,
                                        "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6Im9wc0B4LmV4YW1wbGUifQ."])
def test_r21_bad_credential_is_401_and_records_nothing(server: Server, ops: Client, credential: str) -> None:
    setup = new_customer(ops)
    before = len(history(ops, setup["customer_id"]))
    intruder = Client(server.url, credential)
    response = intruder.command(add_room(setup["customer_id"], setup["account_id"], "Intruder"))
    body = assert_problem(response, 401, field="authorization")
    assert body["code"] in ("unauthenticated", "invalid_token")
    assert len(history(ops, setup["customer_id"])) == before


def test_r23_key_is_printed_once_and_stored_only_as_a_hash(server: Server, ops: Client) -> None:
    key = create_key(server.db, unique("shown-once"), "--role", "ops")
    listed = ledger_cli(server.db, "api-key", "list", "--json").stdout
    assert key not in listed and key.split("_")[-1] not in listed
    names = [k["name"] for k in json.loads(listed)]
    assert len(names) == len(set(names))
    if server.db.endswith(".db"):
        raw = Path(server.db).read_bytes() + b"".join(
            p.read_bytes() for p in Path(server.db).parent.glob("ledger.db-wal")
        )
        assert key.split("_")[-1].encode() not in raw
    # the key works, and what it did is recorded with its principal, never the key
    setup = new_customer(Client(server.url, key))
    rows = history(ops, setup["customer_id"])
    assert all(row["actor"].startswith("key:shown-once") for row in rows)
    assert key not in json.dumps(rows)


def test_r23_revoked_key_is_refused_on_the_next_request(server: Server, ops: Client) -> None:
    name = unique("revoked")
    key = create_key(server.db, name, "--role", "ops")
    client = Client(server.url, key)
    assert client.get("/v1/customers").status_code == 200
    setup = new_customer(client)  # the server has now seen the key on the command path too
    ledger_cli(server.db, "api-key", "revoke", name)
    before = len(history(ops, setup["customer_id"]))
    assert_problem(client.command(add_room(setup["customer_id"], setup["account_id"], "Late")), 401, rule="R23")
    assert_problem(client.command({"command": "AddRoom"}), 401, rule="R23")
    assert_problem(client.get("/v1/customers"), 401, code="unauthenticated", rule="R23")
    assert len(history(ops, setup["customer_id"])) == before
    listed = {k["name"]: k for k in json.loads(ledger_cli(server.db, "api-key", "list", "--json").stdout)}
    assert listed[name]["revoked_at"] is not None


def test_r23_key_names_are_unique_and_scopes_checked(server: Server, ops: Client) -> None:
    name = unique("dup")
    create_key(server.db, name, "--role", "ops")
    again = ledger_cli(server.db, "api-key", "create", "--name", name, "--role", "ops", check=False)
    assert again.returncode == 1 and "exists" in again.stderr
    missing = ledger_cli(server.db, "api-key", "create", "--name", unique("x"), "--customer", str(uuid.uuid4()),
                         "--role", "admin", check=False)
    assert missing.returncode == 1 and "no customer" in missing.stderr
    no_scope = ledger_cli(server.db, "api-key", "create", "--name", unique("x"), check=False)
    assert no_scope.returncode == 1 and "--role ops" in no_scope.stderr


# ----- R18: the actor is the principal


def test_r18_body_with_actor_is_refused_422(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    before = len(history(ops, setup["customer_id"]))
    body = {**add_room(setup["customer_id"], setup["account_id"], "Claimed"), "actor": "ops"}
    assert_problem(ops.command(body), 422, field="actor", rule="R18", code="actor_not_allowed")
    assert len(history(ops, setup["customer_id"])) == before


def test_r18_events_record_the_principal_as_actor(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    assert {row["actor"] for row in history(ops, setup["customer_id"])} == {"key:ops-tests"}


def test_r18_customer_key_may_not_place_orders(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    admin = Client(server.url, create_key(server.db, unique("adm"), "--customer", setup["customer_id"],
                                          "--role", "admin"))
    body = without_actor(order(po=unique("PO"), customer_id=setup["customer_id"], at=T1))
    assert_problem(admin.command(body), 403, rule="R18", field="actor")


# ----- R16: viewers read and change nothing


def test_r16_viewer_key_reads_but_writes_are_403_and_record_nothing(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    cid = setup["customer_id"]
    viewer = Client(server.url, create_key(server.db, unique("viewer"), "--customer", cid, "--role", "viewer"))
    for view in ("contracts", "rooms", "spares", "access", "history"):
        assert viewer.get(f"/v1/customers/{cid}/{view}").status_code == 200
    before = len(history(ops, cid))
    writes = [
        add_room(cid, setup["account_id"], "Huddle"),
        {"command": "AssignLicense", "at": T1, "customer_id": cid, "room_id": setup["room_id"],
         "po_number": setup["po"]},
        {"command": "InviteUser", "at": T1, "customer_id": cid, "email": "new@x.example", "role": "admin"},
    ]
    for body in writes:
        assert_problem(viewer.command(body), 403, rule="R16", field="actor")
    assert len(history(ops, cid)) == before


def test_r16_customer_admin_key_manages_its_customer(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    cid = setup["customer_id"]
    admin = Client(server.url, create_key(server.db, unique("admin"), "--customer", cid, "--role", "admin"))
    result = admin.ok({"command": "AssignLicense", "at": T1, "customer_id": cid, "room_id": setup["room_id"],
                       "po_number": setup["po"]})
    assert "LicenseAssigned" in [e["type"] for e in result["events"]]
    rooms = admin.get(f"/v1/customers/{cid}/rooms").json()
    assert rooms[0]["licenses"][0]["po_number"] == setup["po"]


# ----- R17: tenancy; a customer the principal may not see answers like one that does not exist


def test_r17_customer_key_cannot_act_on_another_customer(server: Server, ops: Client) -> None:
    a, b = new_customer(ops), new_customer(ops)
    key_a = Client(server.url, create_key(server.db, unique("a-admin"), "--customer", a["customer_id"],
                                          "--role", "admin"))
    listed = key_a.get("/v1/customers").json()
    assert [c["customer_id"] for c in listed] == [a["customer_id"]]
    before = len(history(ops, b["customer_id"]))
    invisible = key_a.command(add_room(b["customer_id"], b["account_id"], "Sneaky"))
    body = assert_problem(invisible, 404, rule="R1", field="customer_id")
    ghost_id = str(uuid.uuid4())
    ghost = assert_problem(key_a.command(add_room(ghost_id, b["account_id"], "Sneaky")), 404)
    assert json.loads(json.dumps(ghost).replace(ghost_id, b["customer_id"])) == body
    for view in ("contracts", "rooms", "spares", "access", "history"):
        seen = assert_problem(key_a.get(f"/v1/customers/{b['customer_id']}/{view}"), 404)
        unseen = assert_problem(key_a.get(f"/v1/customers/{ghost_id}/{view}"), 404)
        assert json.loads(json.dumps(unseen).replace(ghost_id, b["customer_id"])) == seen
    assert len(history(ops, b["customer_id"])) == before


def test_r17_partner_key_acts_only_while_delegated(server: Server, ops: Client) -> None:
    partner = unique("partner")
    ops.ok({"command": "RegisterPartner", "at": T0, "partner_id": partner, "name": "AV Partner"})
    delegating, other = new_customer(ops), new_customer(ops)
    ops.ok({"command": "DelegatePartner", "at": T1, "customer_id": delegating["customer_id"], "partner_id": partner,
            "role": "admin"})
    client = Client(server.url, create_key(server.db, unique("pk"), "--partner", partner))
    assert [c["customer_id"] for c in client.get("/v1/customers").json()] == [delegating["customer_id"]]
    client.ok(add_room(delegating["customer_id"], delegating["account_id"], "Partner Room", at=T2))
    assert_problem(client.command(add_room(other["customer_id"], other["account_id"], "X", at=T2)), 404)
    assert_problem(client.get(f"/v1/customers/{other['customer_id']}/rooms"), 404)
    # least privilege: never the customer's own delegations (users and roles: issue 15's R17 fix)
    revoke = {"command": "RevokePartner", "at": T2, "customer_id": delegating["customer_id"], "partner_id": partner}
    assert_problem(client.command(revoke), 403, rule="R17")
    ops.ok(revoke)
    before = len(history(ops, delegating["customer_id"]))
    late = client.command(add_room(delegating["customer_id"], delegating["account_id"], "After", at=T2))
    assert_problem(late, 404)
    assert_problem(client.get(f"/v1/customers/{delegating['customer_id']}/rooms"), 404)
    assert client.get("/v1/customers").json() == []
    assert len(history(ops, delegating["customer_id"])) == before


# ----- bad input and problem shape


def test_bad_input_problems(server: Server, ops: Client) -> None:
    response = ops.http.post("/v1/commands", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(response, 400, code="malformed_json", field="command")
    assert_problem(ops.command({"command": "Nope"}), 422, code="unknown_command", field="command")
    setup = new_customer(ops)
    missing = {"command": "AddRoom", "customer_id": setup["customer_id"], "account_id": setup["account_id"]}
    assert_problem(ops.command(missing), 422, field="name", rule="R9")
    assert_problem(ops.get("/v1/customers/not-a-uuid/rooms"), 422, field="customer_id")
    assert_problem(ops.get(f"/v1/customers/{setup['customer_id']}/rooms", as_of="yesterday"), 422, field="as_of")
    for edge in ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"):
        far = ops.get(f"/v1/customers/{setup['customer_id']}/history", as_of=edge)
        assert_problem(far, 422, field="as_of", rule="R20")
        assert "representable" in far.json()["detail"]
    long = ops.get(f"/v1/customers/{setup['customer_id']}/rooms", as_of="x" * 5000)
    assert_problem(long, 422, field="as_of", rule="R20")
    assert len(long.json()["detail"]) < 300, "a bad as_of is echoed bounded"
    assert ops.get(f"/v1/customers/{setup['customer_id']}/rooms", as_of="2999-01-01").status_code == 200
    assert_problem(ops.get("/v1/nothing-here"), 404)
    duplicate = add_room(setup["customer_id"], setup["account_id"], "Board")
    assert_problem(ops.command(duplicate), 409, rule="R9")


def test_r20_portal_key_cannot_date_far_in_the_future(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    admin = Client(server.url, create_key(server.db, unique("fut"), "--customer", setup["customer_id"],
                                          "--role", "admin"))
    body = add_room(setup["customer_id"], setup["account_id"], "Future", at="2027-12-01T00:00:00Z")
    assert_problem(admin.command(body), 422, rule="R20", field="at")


# ----- views, history, as_of, pagination


def test_views_read_own_writes_as_of_and_pages(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    cid = setup["customer_id"]
    for i in range(5):
        ops.ok(add_room(cid, setup["account_id"], f"Room {i}"))
    rooms = ops.get(f"/v1/customers/{cid}/rooms").json()
    assert len(rooms) == 6
    assert ops.get(f"/v1/customers/{cid}/rooms", as_of="2026-05-04T12:00:00Z").json() == rooms[:0] + [
        r for r in rooms if r["room_id"] == setup["room_id"]
    ]
    seen: list[dict[str, Any]] = []
    url = f"/v1/customers/{cid}/history?limit=3"
    while url:
        response = ops.http.get(url)
        assert response.status_code == 200
        seen.extend(response.json())
        url = response.links.get("next", {}).get("url", "")
    assert seen == history(ops, cid)
    positions = [row["position"] for row in seen]
    assert positions == sorted(positions) and len(positions) == len(set(positions))
    early = ops.get(f"/v1/customers/{cid}/history", as_of=T0).json()
    assert all(row["effective_at"] <= "2026-05-04T09:00:00+00:00" for row in early) and len(early) < len(seen)


# ----- Idempotency-Key


def test_idempotency_key_replays_the_first_result_and_records_nothing_again(server: Server, ops: Client) -> None:
    body = without_actor(order(po=unique("PO"), company=unique("Idem"), at=T0))
    key = unique("idem")
    first = ops.command(body, idempotency_key=key)
    assert first.status_code == 200
    cid = first.json()["customer_id"]
    count = len(history(ops, cid))
    again = ops.command(body, idempotency_key=key)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(history(ops, cid)) == count
    other = ops.command({**body, "quantity": body["quantity"] + 1}, idempotency_key=key)
    assert_problem(other, 422, code="idempotency_key_reused", field="Idempotency-Key")
    # the token is not stored in clear; the replay derives the same one
    assert first.json()["invitation"]["token"] == again.json()["invitation"]["token"]


def test_idempotency_survives_a_restart(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    db = _db(request, tmp_path)
    ledger_cli(db, "api-key", "list")
    key = create_key(db, "ops", "--role", "ops")
    srv = Server(db, log=tmp_path / "a.log").start()
    body = without_actor(order(po=unique("PO"), company=unique("Restart"), at=T0))
    try:
        first = Client(srv.url, key).command(body, idempotency_key="k-1")
        assert first.status_code == 200
    finally:
        srv.stop()
    srv = Server(db, log=tmp_path / "b.log").start()
    try:
        client = Client(srv.url, key)
        again = client.command(body, idempotency_key="k-1")
        assert again.status_code == 200 and again.json() == first.json()
        assert len(client.get(f"/v1/customers/{first.json()['customer_id']}/history").json()) == len(
            first.json()["events"]) - 1  # the PO reservation is not a customer event
    finally:
        srv.stop()


# ----- concurrency


def test_concurrent_commands_each_atomic_and_refused_alone(server: Server, ops: Client, ops_key: str) -> None:
    setup = new_customer(ops)
    cid, aid = setup["customer_id"], setup["account_id"]
    names = [f"C{i % 12}" for i in range(36)]  # every name three times: one of each wins

    def post(name: str) -> int:
        client = Client(server.url, ops_key)
        try:
            return client.command(add_room(cid, aid, name)).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(36) as pool:
        statuses = list(pool.map(post, names))
    assert sorted(statuses) == [200] * 12 + [409] * 24
    rooms = ops.get(f"/v1/customers/{cid}/rooms").json()
    assert sorted(r["name"] for r in rooms) == sorted({*names, "Board"})
    assert len([r for r in history(ops, cid) if r["type"] == "RoomAdded"]) == 13


def test_two_server_processes_share_one_store(server: Server, ops: Client, ops_key: str, tmp_path: Path) -> None:
    second = Server(server.db, log=tmp_path / "second.log").start()
    try:
        setup = new_customer(ops)
        cid, aid = setup["customer_id"], setup["account_id"]
        urls = [server.url, second.url] * 10

        def post(i: int) -> int:
            client = Client(urls[i], ops_key)
            try:
                return client.command(add_room(cid, aid, f"P{i}")).status_code
            finally:
                client.close()

        with ThreadPoolExecutor(20) as pool:
            assert list(pool.map(post, range(20))) == [200] * 20
        other = Client(second.url, ops_key)
        assert len(other.get(f"/v1/customers/{cid}/rooms").json()) == 21
        assert len(ops.get(f"/v1/customers/{cid}/rooms").json()) == 21
    finally:
        second.stop()


# ----- operations endpoints and the published document


def test_livez_readyz_and_openapi(server: Server) -> None:
    assert httpx.get(server.url + "/livez").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready"
    served = httpx.get(server.url + "/openapi.json").json()
    published = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "openapi.json").read_text())
    assert served == published
    assert served["openapi"].startswith("3.1")
    place = served["components"]["schemas"]["PlaceOrder"]
    assert place["additionalProperties"] is False and "actor" not in place["properties"]


# ----- R24/R25 tickets through HTTP


def test_r24_ticket_opened_over_http_is_in_the_tickets_view_now_and_not_before(server: Server, ops: Client) -> None:
    setup = new_customer(ops)
    cid, room_id = setup["customer_id"], setup["room_id"]
    ops.ok({"command": "AssignLicense", "at": T1, "customer_id": cid, "room_id": room_id, "po_number": setup["po"]})
    opened = ops.ok({"command": "OpenTicket", "at": T2, "customer_id": cid, "room_id": room_id, "severity": "high",
                     "summary": "Room offline", "source": "api"})
    tickets = ops.get(f"/v1/customers/{cid}/tickets").json()
    assert [t["ticket_id"] for t in tickets] == [opened["ticket_id"]]
    assert tickets[0]["room_id"] == room_id and tickets[0]["severity"] == "high" and tickets[0]["source"] == "api"
    assert ops.get(f"/v1/customers/{cid}/tickets", as_of=T1).json() == []
    other = new_customer(ops)
    key = create_key(server.db, unique("other-admin"), "--customer", other["customer_id"], "--role", "admin")
    stranger = Client(server.url, key)
    try:
        hidden = stranger.get(f"/v1/customers/{cid}/tickets")
        missing = stranger.get(f"/v1/customers/{uuid.uuid4()}/tickets")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json().keys() == missing.json().keys()
    finally:
        stranger.close()


# ----- compression (gzip above GZIP_MINIMUM_BYTES)


def _raw_get(url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent on the wire (not decoded)."""
    with httpx.Client(timeout=60.0) as client, client.stream("GET", url, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_gzip_large_views_are_compressed_small_and_problem_responses_still_work(
    server: Server, ops: Client, ops_key: str
) -> None:
    import gzip

    from ledger.http.app import GZIP_MINIMUM_BYTES

    setup = new_customer(ops)
    cid, aid = setup["customer_id"], setup["account_id"]
    for n in range(12):
        ops.ok(add_room(cid, aid, f"Room {n:02}"))
    url = f"{server.url}/v1/customers/{cid}/rooms"
    auth = {"Authorization": f"Bearer {ops_key}"}
    plain, plain_body = _raw_get(url, {**auth, "Accept-Encoding": "identity"})
    packed, packed_body = _raw_get(url, {**auth, "Accept-Encoding": "gzip, deflate"})
    assert plain.status_code == packed.status_code == 200
    assert len(plain_body) > GZIP_MINIMUM_BYTES and "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert packed.headers["content-type"] == "application/json"
    assert len(packed_body) < len(plain_body) / 2
    assert json.loads(gzip.decompress(packed_body)) == json.loads(plain_body)

    small, small_body = _raw_get(server.url + "/livez", {"Accept-Encoding": "gzip"})
    assert small.status_code == 200 and "content-encoding" not in small.headers
    assert json.loads(small_body) == {"status": "ok"}

    missing, missing_body = _raw_get(f"{server.url}/v1/customers/{uuid.uuid4()}/rooms",
                                     {**auth, "Accept-Encoding": "gzip"})
    assert missing.status_code == 404 and "content-encoding" not in missing.headers
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert json.loads(missing_body)["status"] == 404

    unauthenticated, body = _raw_get(url, {"Accept-Encoding": "gzip"})
    assert unauthenticated.status_code == 401
    if unauthenticated.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    assert json.loads(body)["status"] == 401


def test_rooms_pages_are_read_as_pages_and_together_are_the_whole_view(server: Server, ops: Client) -> None:
    """``?limit=`` on the live rooms view reads one page from the tables (after the cursor's room id,
    one row more for the Link header); following the Links gives exactly the unpaged view, in order."""
    setup = new_customer(ops)
    cid, aid = setup["customer_id"], setup["account_id"]
    for n in range(6):
        room = ops.ok(add_room(cid, aid, f"Paged {n}"))
        if n % 2:
            ops.ok({"command": "RegisterDevice", "at": T1, "customer_id": cid, "room_id": room["room_id"],
                    "serial_number": unique("PG").upper(), "product": "Rally Bar", "purchased_on": "2026-01-15"})
    whole = ops.get(f"/v1/customers/{cid}/rooms").json()
    assert len(whole) == 7
    for limit in (1, 2, 3, 7, 50):
        seen: list[dict[str, Any]] = []
        response = ops.get(f"/v1/customers/{cid}/rooms", limit=limit)
        while True:
            assert response.status_code == 200
            page = response.json()
            assert 1 <= len(page) <= limit
            seen += page
            link = response.headers.get("link")
            if link is None:
                break
            response = ops.http.get(link.split(";")[0].strip("<>"))
        assert seen == whole, limit
    bad = ops.get(f"/v1/customers/{cid}/rooms", limit=2, cursor="MTIz")  # the cursor 123: not a room id
    assert_problem(bad, 422, field="cursor")
