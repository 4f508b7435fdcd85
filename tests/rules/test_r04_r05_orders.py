"""R4 order content and validation, R5 PO uniqueness and idempotent resubmission.

Given the ledger's orders, when an order (or its resubmission, or a cancellation), then the events it
recorded (with their data) or its refusal (``tests/kit/rules.py``); the contracts afterwards are read
from the contracts view, not from the aggregate."""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

import pytest

from aggregates.errors import InvalidInput
from ledger.app import LedgerApplication
from tests.kit.commands import order, run
from tests.kit.helpers import MAY, events, place, position, types
from tests.kit.rules import Rules
from tests.kit.views import contracts

FIRST_ORDER_OF = ("Registered", "AccountOpened")  # then OrderPlaced, then InvitationSent (R1-R3, R15)

_DELETE = object()


def _edited(path: str, value: Any) -> dict[str, Any]:
    """A valid order with one field (dotted path) replaced, or deleted when value is _DELETE."""
    raw = copy.deepcopy(order(po="PO-R4"))
    *parents, leaf = path.split(".")
    target = raw
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[leaf]
    else:
        target[leaf] = value
    return raw


# ----- R4: what an order carries


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("years", 6, "years"),
        ("years", 0, "years"),
        ("years", "3", "years"),
        ("years", 2.5, "years"),
        ("quantity", 0, "quantity"),
        ("quantity", -5, "quantity"),
        ("quantity", "10", "quantity"),
        ("service", "premium", "service"),
        ("po_number", "", "po_number"),
        ("po_number", "-leading-dash", "po_number"),
        ("end_customer.email", "not-an-email", "end_customer.email"),
        ("end_customer.email", "jane@@acme.example", "end_customer.email"),
        ("reseller.email", "orders at reseller", "reseller.email"),
        ("distributor.email", "po@distributor", "distributor.email"),
        ("end_customer.address.country", "XX", "end_customer.address.country"),
        ("end_customer.address.country", "USA", "end_customer.address.country"),
        ("end_customer.company", "   ", "end_customer.company"),
        ("reseller.name", "", "reseller.name"),
    ],
)
def test_r4_bad_field_refused(app: LedgerApplication, rules: Rules, path: str, value: Any, field: str) -> None:
    error = rules.refused(_edited(path, value), rule="R4", field=field, code="invalid_input")
    assert isinstance(error, InvalidInput)
    assert error.message.startswith(f"{field}:")
    assert "(R4)" in error.message


@pytest.mark.parametrize(
    "path",
    [
        "po_number",
        "service",
        "years",
        "quantity",
        "end_customer",
        "end_customer.company",
        "end_customer.email",
        "end_customer.address",
        "end_customer.address.line1",
        "end_customer.address.city",
        "end_customer.address.postal_code",
        "end_customer.address.country",
        "reseller",
        "reseller.name",
        "reseller.email",
        "reseller.address",
        "distributor",
        "distributor.email",
    ],
)
def test_r4_missing_field_refused(app: LedgerApplication, rules: Rules, path: str) -> None:
    error = rules.refused(_edited(path, _DELETE), rule="R4", field=path)
    assert "is required" in error.message


def test_r4_missing_reseller_refused_and_no_customer_created(app: LedgerApplication, rules: Rules) -> None:
    error = rules.refused(_edited("reseller", _DELETE), rule="R4", field="reseller")
    assert error.message == "reseller: is required (R4)"
    assert position(app) == 0


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("discount", "discount"),
        ("end_customer.phone", "end_customer.phone"),
        ("reseller.address.planet", "reseller.address.planet"),
    ],
)
def test_r4_unknown_field_refused(app: LedgerApplication, rules: Rules, path: str, field: str) -> None:
    error = rules.refused(_edited(path, "x"), rule="R4", field=field)
    assert "not a field" in error.message


def test_r4_several_problems_are_all_named(app: LedgerApplication, rules: Rules) -> None:
    raw = _edited("years", 6)
    raw["quantity"] = 0
    error = rules.refused(raw, rule="R4", field="years")
    assert "quantity" in error.message


@pytest.mark.parametrize("service", ["select", "syncplus", "extended_warranty"])
@pytest.mark.parametrize("years", [1, 5])
def test_r4_every_service_and_term_bound_accepted(
    app: LedgerApplication, rules: Rules, service: str, years: int
) -> None:
    result = rules.when(order(po="PO-OK", service=service, years=years, quantity=1)).then(
        *FIRST_ORDER_OF,
        ("OrderPlaced", {"po_number": "PO-OK", "service": service, "years": years, "quantity": 1}),
        ("InvitationSent", {"po_number": "PO-OK"}),
    )
    recorded = contracts(rules, result["customer_id"], MAY)["PO-OK"]
    assert (recorded["service"], recorded["years"], recorded["quantity"]) == (service, years, 1)


def test_r4_order_records_every_party(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", company="Acme Corp", email="Jane.Doe@Acme.Example")
    placed = events(app, result["customer_id"], "OrderPlaced")[0]
    assert placed["po_number"] == "PO-1"
    assert placed["end_customer"]["email"] == "jane.doe@acme.example"  # e-mails are normalised
    assert placed["end_customer"]["address"]["country"] == "US"
    assert placed["reseller"]["name"] == "AV Reseller"
    assert placed["reseller"]["email"] == "orders@reseller.example"
    assert placed["distributor"]["name"] == "Big Distribution"
    assert placed["distributor"]["address"]["city"] == "Newark"


def test_r4_whitespace_around_values_is_trimmed(app: LedgerApplication, rules: Rules) -> None:
    raw = order(po="  PO-TRIM  ")
    raw["end_customer"]["address"] = {**raw["end_customer"]["address"], "country": " us "}
    result = rules.when(raw).then(
        *FIRST_ORDER_OF, ("OrderPlaced", {"po_number": "PO-TRIM"}), ("InvitationSent", {"po_number": "PO-TRIM"})
    )
    assert "PO-TRIM" in contracts(rules, result["customer_id"], MAY)


# ----- R5: one PO, one service type, unique across the ledger


def test_r5_identical_resubmission_returns_the_original_result(app: LedgerApplication, rules: Rules) -> None:
    raw = order(po="PO-R5")
    first = run(app, raw)
    before = position(app)
    again = rules.when(copy.deepcopy(raw)).then(only=None)  # recorded nothing
    assert again["events"] == []
    assert {k: v for k, v in again.items() if k != "events"} == {k: v for k, v in first.items() if k != "events"}
    assert again["invitation"]["token"] == first["invitation"]["token"]
    assert position(app) == before


def test_r5_identical_resubmission_at_a_later_time_is_still_a_no_op(app: LedgerApplication, rules: Rules) -> None:
    first = run(app, order(po="PO-R5", at="2026-05-04T09:00:00Z"))
    before = position(app)
    again = rules.when(order(po="PO-R5", at="2026-05-20T09:00:00Z")).then(only=None)  # recorded nothing
    assert again["events"] == []
    assert again["customer_id"] == first["customer_id"]
    assert again["account_id"] == first["account_id"]
    assert position(app) == before
    assert len(events(app, first["customer_id"], "OrderPlaced")) == 1


def test_r5_resubmission_that_differs_only_in_formatting_is_identical(app: LedgerApplication, rules: Rules) -> None:
    first = run(app, order(po="PO-R5", email="jane.doe@acme.example"))
    before = position(app)
    again = rules.when(order(po="PO-R5", email="  JANE.DOE@ACME.EXAMPLE ")).then(only=None)  # recorded nothing
    assert again["events"] == [] and again["customer_id"] == first["customer_id"]
    assert position(app) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", 11), ("years", 2), ("service", "syncplus"), ("company", "Globex Ltd")],
)
def test_r5_same_po_different_content_refused(app: LedgerApplication, rules: Rules, field: str, value: Any) -> None:
    place(app, po="PO-R5", quantity=10, years=3, service="select", company="Acme Corp")
    changed = {"quantity": 10, "years": 3, "service": "select", "company": "Acme Corp", field: value}
    rules.refused(order(po="PO-R5", **changed), rule="R5", field="po_number", code="duplicate_po")


def test_r5_po_unique_across_customers(app: LedgerApplication, rules: Rules) -> None:
    acme = place(app, po="PO-SHARED")
    error = rules.refused(
        order(po="PO-SHARED", company="Globex Ltd", email="hank@globex.example"),
        rule="R5",
        field="po_number",
    )
    assert "across the ledger" in error.message
    # No Globex customer came into being, and Acme still has its one order.
    assert list(app.customer_ids()) == [UUID(acme["customer_id"])]
    assert len(events(app, acme["customer_id"], "OrderPlaced")) == 1


def test_r5_po_numbers_differing_only_in_case_are_the_same_po(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-CASE")
    rules.refused(order(po="po-case"), rule="R5", field="po_number", code="duplicate_po")


def test_r5_distinct_pos_are_separate_contracts(app: LedgerApplication, rules: Rules) -> None:
    first = place(app, po="PO-A", service="select")
    second = rules.when(order(po="PO-B", service="syncplus", at="2026-05-05T09:00:00Z")).then(
        ("OrderPlaced", {"po_number": "PO-B", "service": "syncplus"})
    )
    assert "OrderPlaced" in types(second)
    by_po = contracts(rules, first["customer_id"], "2026-05-05T09:00:00Z")
    assert {po: c["service"] for po, c in by_po.items()} == {"PO-A": "select", "PO-B": "syncplus"}


def test_r5_resubmission_by_a_non_ops_actor_is_refused_not_replayed(app: LedgerApplication, rules: Rules) -> None:
    raw = order(po="PO-R5")
    run(app, raw)
    rules.refused({**raw, "actor": "jane.doe@acme.example"}, rule="R18", field="actor")


def test_r5_po_numbers_match_case_insensitively_for_cancellation(app: LedgerApplication, rules: Rules) -> None:
    placed = run(app, order(po="PO-CASE-1", at="2026-05-04T09:00:00Z"))
    cancel = {"command": "CancelOrder", "at": "2026-05-05T09:00:00Z", "actor": "ops", "po_number": "po-case-1"}
    result = rules.when(cancel).then(("OrderCancelled", {"po_number": "PO-CASE-1"}))
    assert result["customer_id"] == placed["customer_id"]
    assert result["events"][0]["type"] == "OrderCancelled"
