"""The view cache of ``ledger serve`` never serves a stale view (``ledger/http/viewcache.py``, issue 11).

The server's ASGI app runs in-process (Starlette's test client runs its lifespan: the writer, the read
models, the cache) on the selected backend. Every answer is compared with a fresh read of the read
models at the server's clock, and the cache's hit counter shows the answer did come from the cache
where it should: after a write (over HTTP, or recorded by another application on the same store), at a
time boundary (grace end, term end, invitation expiry), with ``as_of``, after a rebuild's swap, and
for principals whose access ended (R16-R18, R23: visibility is checked before the cache).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from starlette.testclient import TestClient

from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.auth.apikeys import ApiKeyStore
from ledger.bootstrap import wire
from ledger.http.app import ServerState, create_app
from ledger.http.viewcache import Page, Stamp, ViewCache
from ledger.readside import catch_up, live_view, read_engine, rebuild_views
from tests.kit.commands import command, order
from tests.kit.http import without_actor

pytestmark = pytest.mark.integration

T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"


@dataclass
class Served:
    client: TestClient
    state: ServerState
    other: LedgerApplication  # another application on the same store: a writer outside the server
    keys: ApiKeyStore

    def key(self, name: str, **scope: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.create(name, **scope)}"}

    def post(self, headers: dict[str, str], raw: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("/v1/commands", json=without_actor(raw), headers=headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def fresh(self, customer_id: str, name: str) -> list[dict[str, Any]]:
        """The view read from the read models now, past the cache."""
        return live_view(self.state.app, self.state.committer.models, name, self.state.clock(), UUID(customer_id))

    def get(self, headers: dict[str, str], customer_id: str, name: str, query: str = "") -> Any:
        response = self.client.get(f"/v1/customers/{customer_id}/{name}{query}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    @property
    def cache(self) -> ViewCache:
        assert self.state.views is not None
        return self.state.views


@pytest.fixture
def served(make_app: Callable[..., LedgerApplication]) -> Iterator[Served]:
    other = make_app()
    keys = ApiKeyStore(read_engine(other.settings.store), other.settings.secret_key)
    api = create_app(other.settings, build=lambda settings: wire(LedgerApplication, settings))
    with TestClient(api) as client:
        yield Served(client, api.state.ledger, other, keys)
    keys.engine.dispose()


def _customer(s: Served, ops: dict[str, str], company: str, **fields: Any) -> tuple[str, str]:
    result = s.post(ops, order(company=company, email=f"admin@{company.split()[0].lower()}.example", **fields))
    return str(result["customer_id"]), str(result["account_id"])


def _room(s: Served, ops: dict[str, str], cid: str, aid: str, name: str, at: str = T1) -> str:
    raw = command("AddRoom", at, customer_id=cid, account_id=aid, name=name, site="HQ", country="US")
    return str(s.post(ops, raw)["room_id"])


def _two_customers_one_room(
    s: Served, ops: dict[str, str], first: str, second: str, room: str
) -> tuple[str, str, str, str]:
    """Two customers, the first with one room: ``(cid, aid, other_cid, other_aid)``."""
    cid, aid = _customer(s, ops, first)
    other_cid, other_aid = _customer(s, ops, second)
    _room(s, ops, cid, aid, room)
    return cid, aid, other_cid, other_aid


def test_r11_view_cache_serves_a_repeat_and_a_write_of_the_customer_is_seen_at_once(served: Served) -> None:
    s = served
    ops = s.key("ops", role="ops")
    cid, aid, other_cid, other_aid = _two_customers_one_room(s, ops, "Cache One Corp", "Cache Other Corp", "Room A")
    first = s.get(ops, cid, "rooms")
    hits = s.cache.hits
    assert s.get(ops, cid, "rooms") == first == s.fresh(cid, "rooms")
    assert s.cache.hits == hits + 1  # the repeat came from the cache

    _room(s, ops, other_cid, other_aid, "Elsewhere")  # another customer's write keeps this answer
    assert s.get(ops, cid, "rooms") == first
    assert s.cache.hits == hits + 2

    room = _room(s, ops, cid, aid, "Room B")  # this customer's write: the next read shows it
    after = s.get(ops, cid, "rooms")
    assert [r["name"] for r in after] != [r["name"] for r in first]
    assert room in {r["room_id"] for r in after}
    assert after == s.fresh(cid, "rooms")

    po = s.fresh(cid, "contracts")[0]["po_number"]
    s.post(ops, command("AssignLicense", T1, customer_id=cid, room_id=room, po_number=po))
    s.post(ops, command("RegisterDevice", T1, customer_id=cid, room_id=room, serial_number="SN-CACHE-1",
                        product="Rally Bar", purchased_on="2026-01-01"))
    for name in ("rooms", "contracts", "spares", "access"):
        assert s.get(ops, cid, name) == s.fresh(cid, name)
    page = s.get(ops, cid, "rooms", "?limit=1")
    assert page == s.fresh(cid, "rooms")[:1]
    assert s.get(ops, cid, "rooms", "?limit=1") == page


def test_r11_view_cache_sees_a_write_recorded_outside_the_server_once_projected(served: Served) -> None:
    s = served
    ops = s.key("ops", role="ops")
    cid, aid = _customer(s, ops, "Cache Outside Corp")
    before = s.get(ops, cid, "rooms")
    assert s.get(ops, cid, "rooms") == before
    s.other.execute(parse_command(command("AddRoom", T1, customer_id=cid, account_id=aid, name="From apply",
                                          site="HQ", country="US")))
    # recorded, not yet projected: the answer is what the read models hold, as a fresh read
    assert s.get(ops, cid, "rooms") == s.fresh(cid, "rooms")
    catch_up(s.other, s.state.committer.models)
    now = s.get(ops, cid, "rooms")
    assert [r["name"] for r in now] == ["From apply"]
    assert now == s.fresh(cid, "rooms")


def test_r6_r15_view_cache_crosses_the_grace_end_term_end_and_invitation_expiry(served: Served) -> None:
    s = served
    ops = s.key("ops", role="ops")
    cid, _ = _customer(s, ops, "Cache Time Corp", at=T0, years=1)
    (invitation,) = s.get(ops, cid, "access")[0]["invitations"]
    expires = datetime.fromisoformat(invitation["expires_at"])
    grace = datetime.fromisoformat(T0) + timedelta(days=s.state.settings.grace_days)
    term_end = grace.replace(year=grace.year + 1)
    second = timedelta(seconds=1)

    def at(moment: datetime) -> None:
        s.state.clock = lambda: moment

    seen: dict[str, list[Any]] = {}
    for moment in sorted({expires - second, expires, grace - second, grace, term_end - second, term_end}):
        at(moment)
        for name in ("contracts", "access", "rooms"):
            answer = s.get(ops, cid, name)
            hits = s.cache.hits
            assert s.get(ops, cid, name) == answer == s.fresh(cid, name), (name, moment)
            assert s.cache.hits == hits + 1
            seen.setdefault(name, []).append(answer)
    contract_states = [(a[0]["status"], a[0]["start"]) for a in seen["contracts"]]
    assert ("pending", None) in contract_states and ("expired", grace.isoformat()) in contract_states
    assert ("active", grace.isoformat()) in contract_states
    statuses = {a[0]["invitations"][0]["status"] for a in seen["access"]}
    assert statuses == {"pending", "expired"}


def test_r20_view_cache_as_of_is_the_view_at_that_time_not_the_live_answer(served: Served) -> None:
    s = served
    ops = s.key("ops", role="ops")
    cid, _ = _customer(s, ops, "Cache AsOf Corp", at=T0)
    s.post(ops, order(company="Cache AsOf Corp", email="admin@cache.example", at=T1, customer_id=cid))
    live = s.get(ops, cid, "contracts")
    assert s.get(ops, cid, "contracts") == live and len(live) == 2
    earlier = s.get(ops, cid, "contracts", "?as_of=2026-05-04T12:00:00Z")
    assert len(earlier) == 1
    assert s.get(ops, cid, "contracts") == live


def test_r17_r23_view_cache_after_a_revoked_partner_or_key_is_indistinguishable_from_missing(served: Served) -> None:
    s = served
    ops = s.key("ops", role="ops")
    cid, _, other_cid, _ = _two_customers_one_room(
        s, ops, "Cache Partner Corp", "Cache Stranger Corp", "Partnered room"
    )
    s.post(ops, command("RegisterPartner", T1, partner_id="cache-av", name="Cache AV"))
    s.post(ops, command("DelegatePartner", T1, customer_id=cid, partner_id="cache-av", role="admin"))
    partner = s.key("cache-av-key", partner_id="cache-av")
    admin_name = "cache-admin"
    admin = s.key(admin_name, customer_id=UUID(cid), role="admin")
    stranger = s.key("cache-stranger", customer_id=UUID(other_cid), role="admin")
    for who in (partner, admin):
        assert s.get(who, cid, "rooms") == s.get(who, cid, "rooms") == s.fresh(cid, "rooms")

    def missing(headers: dict[str, str], customer_id: str) -> dict[str, Any]:
        response = s.client.get(f"/v1/customers/{customer_id}/rooms", headers=headers)
        assert response.status_code == 404, response.text
        body: dict[str, Any] = response.json()
        return {k: v for k, v in body.items() if k != "detail"}

    nobody = str(uuid4())
    assert missing(stranger, cid) == missing(stranger, nobody)  # cached, yet not for this principal
    assert missing(stranger, cid) == missing(ops, nobody)
    s.post(ops, command("RevokePartner", T1, customer_id=cid, partner_id="cache-av"))
    assert missing(partner, cid) == missing(partner, nobody)
    assert missing(partner, cid) == missing(ops, nobody)
    s.keys.revoke(admin_name)
    response = s.client.get(f"/v1/customers/{cid}/rooms", headers=admin)
    assert response.status_code == 401, response.text


def test_view_cache_after_a_rebuild_swap_reads_the_new_tables(served: Served) -> None:
    s = served
    ops = s.key("ops", role="ops")
    cid, aid = _customer(s, ops, "Cache Rebuild Corp")
    _room(s, ops, cid, aid, "Before rebuild")
    before = s.get(ops, cid, "rooms")
    stamp = s.cache.stamp("rooms", UUID(cid))
    rebuild_views(s.other, s.state.committer.models, ("rooms",))
    after_stamp = s.cache.stamp("rooms", UUID(cid))
    assert stamp is not None and after_stamp is not None and after_stamp.generation != stamp.generation
    hits = s.cache.hits
    assert s.get(ops, cid, "rooms") == before == s.fresh(cid, "rooms")
    assert s.cache.hits == hits  # not served from the tables the rebuild replaced


def test_view_cache_is_bounded_by_bytes_least_recently_used_first_out(served: Served) -> None:
    cache = ViewCache(served.state.engine, served.state.app.recorder, max_bytes=20_000, max_entry_bytes=4_000)
    stamp = Stamp(position=10, generation=None, last=5)
    now = datetime.now(UTC)
    for i in range(100):
        cache.put(("c", i), stamp, now, None, Page(b"x" * 1000))
        assert cache.size_bytes <= 20_000
    assert 0 < len(cache) <= 20_000 // 1000
    assert cache.get(("c", 99), stamp, now) is not None and cache.get(("c", 0), stamp, now) is None
    cache.put(("big", 0), stamp, now, None, Page(b"x" * 5000))
    assert cache.get(("big", 0), stamp, now) is None  # above the entry bound: not kept
    behind = Stamp(position=4, generation=None, last=5)  # the projection has not applied the last event
    cache.put(("behind", 0), behind, now, None, Page(b"[]"))
    assert cache.get(("behind", 0), Stamp(10, None, 5), now) is None
    assert cache.get(("c", 99), Stamp(10, None, 6), now) is None  # the customer wrote since
    assert cache.get(("c", 99), Stamp(10, "__r1", 5), now) is None  # the tables were replaced
    assert cache.get(("c", 99), stamp, now - timedelta(seconds=1)) is None  # before it was computed
