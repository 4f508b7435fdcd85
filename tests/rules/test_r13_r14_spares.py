"""R13 onsite-spare entitlement at the customer level, R14 allocation to a deployed product.

Given the commands of a customer's history, when one command, then the events it recorded (in order,
with their data) or its refusal (``tests/kit/rules.py``); the entitlement, the live spares and their
allocations afterwards are read from the spares view (read model = as-of fold), not from the aggregate."""

from __future__ import annotations

from typing import Any

from ledger.app import LedgerApplication
from tests.kit.commands import DE_SITE, command, order, run
from tests.kit.helpers import (
    add_room,
    events,
    history,
    place,
    register_device,
    ts,
    types,
)
from tests.kit.rules import Rules
from tests.kit.views import spares

MAY = "2026-05-04T09:00:00Z"
NOVEMBER = "2026-11-04T09:00:00Z"
LATER = "2027-02-01T09:00:00Z"
# What a new customer's first order records (R1-R3, R15: the end customer's admin is invited).
FIRST_ORDER = ("Registered", "AccountOpened", "OrderPlaced", "InvitationSent")


def _live(rules: Rules, cid: str, at: str) -> list[dict[str, Any]]:
    """The spares not revoked at ``at``, from the spares view's history (in spare number order)."""
    return [s for s in spares(rules, cid, at)["history"] if s["revoked_at"] is None]


def _allocate(cid: str, product: str, ship_to: str = "Springfield HQ", at: str = LATER) -> dict[str, Any]:
    return command("AllocateSpare", at, customer_id=cid, product=product, ship_to=ship_to)


# ----- R13: entitlement = floor(live select licenses / 50), counted per customer


def test_r13_seed_example_40_then_40_then_20(app: LedgerApplication, rules: Rules) -> None:
    may = rules.when(order(po="PO-MAY", quantity=40, at=MAY)).then(*FIRST_ORDER)
    assert "SpareAccrued" not in types(may)
    cid = may["customer_id"]
    assert spares(rules, cid, MAY)["entitled"] == 0

    november = rules.when(order(po="PO-NOV", quantity=40, at=NOVEMBER)).then(
        "OrderPlaced", ("SpareAccrued", {"spare_no": 1, "active_select_licenses": 80})
    )
    assert types(november).count("SpareAccrued") == 1
    assert events(app, cid, "SpareAccrued") == [{"spare_no": 1, "active_select_licenses": 80}]
    accrued_at = [row["effective_at"] for row in history(app, cid) if row["type"] == "SpareAccrued"]
    assert accrued_at == ["2026-11-04T09:00:00+00:00"]

    later = rules.when(order(po="PO-LATER", quantity=20, at=LATER)).then(
        "OrderPlaced", ("SpareAccrued", {"spare_no": 2, "active_select_licenses": 100})
    )
    assert types(later).count("SpareAccrued") == 1
    assert events(app, cid, "SpareAccrued")[-1] == {"spare_no": 2, "active_select_licenses": 100}
    assert spares(rules, cid, LATER)["entitled"] == 2
    assert len(_live(rules, cid, LATER)) == 2


def test_r13_49_licenses_give_no_spare_50_give_one(rules: Rules) -> None:
    first = rules.when(order(po="PO-1", quantity=49)).then(*FIRST_ORDER)
    assert "SpareAccrued" not in types(first)
    second = rules.when(order(po="PO-2", quantity=1, at="2026-05-05T09:00:00Z")).then(
        "OrderPlaced", ("SpareAccrued", {"spare_no": 1, "active_select_licenses": 50})
    )
    assert types(second).count("SpareAccrued") == 1


def test_r13_one_large_order_accrues_several_spares(app: LedgerApplication, rules: Rules) -> None:
    result = rules.when(order(po="PO-1", quantity=120)).then(
        *FIRST_ORDER, ("SpareAccrued", {"spare_no": 1}), ("SpareAccrued", {"spare_no": 2})
    )
    assert types(result).count("SpareAccrued") == 2
    assert [e["spare_no"] for e in events(app, result["customer_id"], "SpareAccrued")] == [1, 2]


def test_r13_spares_count_across_accounts_and_countries(rules: Rules) -> None:
    (hq,) = rules.given(order(po="PO-US", quantity=30))
    site = rules.when(order(po="PO-DE", quantity=20, address=DE_SITE, at="2026-05-05T09:00:00Z")).then(
        "AccountOpened", "OrderPlaced", ("SpareAccrued", {"spare_no": 1, "active_select_licenses": 50})
    )
    assert site["account_id"] != hq["account_id"]
    assert types(site).count("SpareAccrued") == 1


def test_r13_spares_count_across_subsidiaries_of_one_parent(rules: Rules) -> None:
    rules.given(order(po="PO-1", quantity=25, company="Acme Corp"))
    sub = rules.when(
        order(po="PO-2", quantity=25, company="Acme UK Ltd", parent="Acme", at="2026-05-05T09:00:00Z")
    ).then("OrderPlaced", ("SpareAccrued", {"spare_no": 1, "active_select_licenses": 50}))
    assert types(sub).count("SpareAccrued") == 1


def test_r13_spares_are_not_shared_between_customers(rules: Rules) -> None:
    rules.given(order(po="PO-1", quantity=40))
    globex = rules.when(order(po="PO-2", quantity=40, company="Globex Ltd", email="hank@globex.example")).then(
        *FIRST_ORDER
    )
    assert "SpareAccrued" not in types(globex)


def test_r13_only_select_licenses_count(app: LedgerApplication, rules: Rules) -> None:
    sync = rules.when(order(po="PO-1", quantity=60, service="syncplus")).then(*FIRST_ORDER)
    warranty = rules.when(
        order(po="PO-2", quantity=60, service="extended_warranty", at="2026-05-05T09:00:00Z")
    ).then("OrderPlaced")
    assert "SpareAccrued" not in types(sync) + types(warranty)
    # A customer without select licenses has no row in the spares view: none counts.
    rows = rules.view("spares", sync["customer_id"], ts("2026-05-05T09:00:00Z"))
    assert sum(row["active_select_licenses"] for row in rows) == 0


def test_r13_cancellation_of_one_order_revokes_a_spare(app: LedgerApplication, rules: Rules) -> None:
    may, _ = rules.given(order(po="PO-MAY", quantity=40, at=MAY), order(po="PO-NOV", quantity=40, at=NOVEMBER))
    cancelled = rules.when(command("CancelOrder", "2026-11-20T09:00:00Z", po_number="PO-NOV")).then(
        ("OrderCancelled", {"po_number": "PO-NOV"}), ("SpareRevoked", {"spare_no": 1, "active_select_licenses": 40})
    )
    assert types(cancelled) == ["OrderCancelled", "SpareRevoked"]
    assert events(app, may["customer_id"], "SpareRevoked") == [{"spare_no": 1, "active_select_licenses": 40}]
    assert _live(rules, may["customer_id"], "2026-11-20T09:00:00Z") == []


def test_r13_cancellation_that_keeps_the_entitlement_revokes_nothing(rules: Rules) -> None:
    rules.given(order(po="PO-1", quantity=60), order(po="PO-2", quantity=5, at="2026-05-05T09:00:00Z"))
    cancelled = rules.when(command("CancelOrder", "2026-05-06T09:00:00Z", po_number="PO-2")).then(
        ("OrderCancelled", {"po_number": "PO-2"})
    )
    assert types(cancelled) == ["OrderCancelled"]


def test_r13_new_spare_after_revocation_gets_a_new_number(app: LedgerApplication, rules: Rules) -> None:
    first, _ = rules.given(
        order(po="PO-1", quantity=50), command("CancelOrder", "2026-05-05T09:00:00Z", po_number="PO-1")
    )
    rules.when(order(po="PO-2", quantity=50, at="2026-05-06T09:00:00Z")).then(
        "OrderPlaced", ("SpareAccrued", {"spare_no": 2, "active_select_licenses": 50})
    )
    accrued = events(app, first["customer_id"], "SpareAccrued")
    assert [e["spare_no"] for e in accrued] == [1, 2]
    assert [s["spare_no"] for s in _live(rules, first["customer_id"], "2026-05-06T09:00:00Z")] == [2]


def test_r13_revocation_prefers_an_unallocated_spare(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", quantity=50)
    cid = result["customer_id"]
    place(app, po="PO-2", quantity=50, at="2026-05-05T09:00:00Z")
    room = add_room(app, cid, result["account_id"], "A", at="2026-05-05T09:00:00Z")
    register_device(app, cid, room, "SN-0001", at="2026-05-05T09:00:00Z", product="Rally Bar")
    run(app, _allocate(cid, "Rally Bar", at="2026-05-06T09:00:00Z"))
    # Spare 1 is allocated; cancelling 50 licenses must revoke spare 2 instead.
    rules.when(command("CancelOrder", "2026-05-07T09:00:00Z", po_number="PO-2")).then(
        "OrderCancelled", ("SpareRevoked", {"spare_no": 2, "active_select_licenses": 50})
    )
    assert events(app, cid, "SpareRevoked") == [{"spare_no": 2, "active_select_licenses": 50}]
    live = _live(rules, cid, "2026-05-07T09:00:00Z")
    assert [(s["spare_no"], s["product"]) for s in live] == [(1, "Rally Bar")]


# ----- R14: allocation to a deployed product and a ship-to site


def _with_spare_and_device(app: LedgerApplication, product: str = "Rally Bar") -> str:
    result = place(app, po="PO-1", quantity=50)
    cid = result["customer_id"]
    room = add_room(app, cid, result["account_id"], "A", at="2026-05-05T09:00:00Z")
    register_device(app, cid, room, "SN-0001", at="2026-05-05T09:00:00Z", product=product)
    return cid


def test_r14_allocate_spare_to_a_deployed_product(app: LedgerApplication, rules: Rules) -> None:
    cid = _with_spare_and_device(app)
    result = rules.when(_allocate(cid, "rally bar", ship_to="  Springfield HQ, dock 4 ")).then(
        ("SpareAllocated", {"spare_no": 1, "product": "Rally Bar", "ship_to": "Springfield HQ, dock 4"})
    )
    assert result["spare_no"] == 1
    assert types(result) == ["SpareAllocated"]
    assert events(app, cid, "SpareAllocated") == [
        {"spare_no": 1, "product": "Rally Bar", "ship_to": "Springfield HQ, dock 4"}
    ]
    spare = spares(rules, cid, LATER)["history"][0]
    assert (spare["product"], spare["ship_to"]) == ("Rally Bar", "Springfield HQ, dock 4")


def test_r14_product_not_deployed_refused(app: LedgerApplication, rules: Rules) -> None:
    cid = _with_spare_and_device(app, product="Rally Bar")
    rules.refused(
 _allocate(cid, "Meetup"), rule="R14", field="product", code="product_not_deployed")


def test_r14_unsupported_product_refused(app: LedgerApplication, rules: Rules) -> None:
    cid = _with_spare_and_device(app)
    rules.refused(
 _allocate(cid, "Toaster"), rule="R14", field="product", code="product_not_deployed")


def test_r14_no_devices_no_allocation(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", quantity=50)
    rules.refused(
 _allocate(result["customer_id"], "Rally Bar"), rule="R14", field="product")


def test_r14_allocation_needs_an_accrued_spare(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", quantity=49)
    cid = result["customer_id"]
    room = add_room(app, cid, result["account_id"], "A", at="2026-05-05T09:00:00Z")
    register_device(app, cid, room, "SN-0001", at="2026-05-05T09:00:00Z")
    # Running out of spares is an entitlement matter, so the refusal names R13.
    error = rules.refused(
 _allocate(cid, "Rally Bar"), rule="R13", field="customer_id", code="no_spare_available")
    assert "49 active select licenses" in error.message


def test_r14_allocation_needs_a_free_spare(app: LedgerApplication, rules: Rules) -> None:
    cid = _with_spare_and_device(app)
    run(app, _allocate(cid, "Rally Bar"))
    rules.refused(

        _allocate(cid, "Rally Bar", ship_to="Berlin", at="2027-02-02T09:00:00Z"),
        rule="R13",
        field="customer_id",
        code="no_spare_available",
    )


def test_r14_revoked_spare_cannot_be_allocated(app: LedgerApplication, rules: Rules) -> None:
    cid = _with_spare_and_device(app)
    run(app, command("CancelOrder", "2026-05-06T09:00:00Z", po_number="PO-1"))
    rules.refused(
 _allocate(cid, "Rally Bar"), rule="R13", field="customer_id")


def test_r14_second_spare_is_allocated_next(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", quantity=100)
    cid = result["customer_id"]
    room = add_room(app, cid, result["account_id"], "A", at="2026-05-05T09:00:00Z")
    register_device(app, cid, room, "SN-0001", at="2026-05-05T09:00:00Z", product="Rally Bar")
    register_device(app, cid, room, "SN-0002", at="2026-05-05T09:00:00Z", product="Tap and Tap IP")
    first = rules.when(_allocate(cid, "Rally Bar")).then(("SpareAllocated", {"spare_no": 1, "product": "Rally Bar"}))
    second = rules.when(_allocate(cid, "Tap and Tap IP", ship_to="Berlin", at="2027-02-02T09:00:00Z")).then(
        ("SpareAllocated", {"spare_no": 2, "product": "Tap and Tap IP", "ship_to": "Berlin"})
    )
    assert (first["spare_no"], second["spare_no"]) == (1, 2)


def test_r14_device_of_another_customer_does_not_count(app: LedgerApplication, rules: Rules) -> None:
    acme = place(app, po="PO-1", quantity=50)
    globex = place(app, po="PO-2", company="Globex Ltd", email="hank@globex.example")
    lab = add_room(app, globex["customer_id"], globex["account_id"], "Lab", at="2026-05-05T09:00:00Z")
    register_device(app, globex["customer_id"], lab, "SN-0001", at="2026-05-05T09:00:00Z", product="Rally Bar")
    rules.refused(
 _allocate(acme["customer_id"], "Rally Bar"), rule="R14", field="product")
