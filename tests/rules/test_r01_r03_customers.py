"""R1 customers, R2 accounts, R3 group mailboxes — through the full command path.

Given the ledger's earlier orders, when an order, then the events it recorded (a new customer's
Registered and AccountOpened, or none of them) or its refusal (``tests/kit/rules.py``); the customer's
contracts, name and accounts afterwards are read from the views and the recorded events, not from the
aggregate."""

from __future__ import annotations

from uuid import uuid4

from aggregates.ids import purchase_order_id_for
from ledger.app import LedgerApplication
from tests.kit.commands import DE_SITE, US_HQ, command, order
from tests.kit.helpers import (
    MAY,
    add_room,
    assign,
    events,
    history,
    place,
    position,
    types,
)
from tests.kit.rules import Rules
from tests.kit.views import access, contracts

# ----- R1: matching an order to a customer


def test_r1_first_order_registers_the_customer(app: LedgerApplication, rules: Rules) -> None:
    result = rules.when(order(po="PO-1", company="Acme Corp")).then(
        ("Registered", {"key": "acme", "name": "Acme Corp"}),
        "AccountOpened",
        ("OrderPlaced", {"po_number": "PO-1"}),
        "InvitationSent",
    )
    assert result["ok"] is True
    assert types(result)[:3] == ["Registered", "AccountOpened", "OrderPlaced"]
    registered = events(app, result["customer_id"], "Registered")
    assert registered == [{"key": "acme", "name": "Acme Corp"}]


def test_r1_name_variants_match_one_customer(app: LedgerApplication, rules: Rules) -> None:
    first = place(app, po="PO-1", company="Acme Corp")
    second = rules.when(order(po="PO-2", company="ACME, Inc.", at="2026-05-05T09:00:00Z")).then(
        ("OrderPlaced", {"po_number": "PO-2", "account_id": first["account_id"]})
    )
    third = rules.when(order(po="PO-3", company="  acme   corporation ", at="2026-05-06T09:00:00Z")).then(
        ("OrderPlaced", {"po_number": "PO-3", "account_id": first["account_id"]})
    )
    assert first["customer_id"] == second["customer_id"] == third["customer_id"]
    assert "Registered" not in types(second)
    assert "Registered" not in types(third)
    assert set(contracts(rules, first["customer_id"], "2026-05-06T09:00:00Z")) == {"PO-1", "PO-2", "PO-3"}


def test_r1_parent_company_decides_the_customer(app: LedgerApplication, rules: Rules) -> None:
    hq = place(app, po="PO-1", company="Acme Corp")
    subsidiary = rules.when(
        order(
            po="PO-2",
            company="Acme Deutschland GmbH",
            parent="ACME Corporation",
            address=DE_SITE,
            at="2026-05-05T09:00:00Z",
        )
    ).then("AccountOpened", ("OrderPlaced", {"po_number": "PO-2"}))
    assert subsidiary["customer_id"] == hq["customer_id"]
    assert "Registered" not in types(subsidiary)


def test_r1_subsidiary_without_parent_is_its_own_customer(app: LedgerApplication, rules: Rules) -> None:
    hq = place(app, po="PO-1", company="Acme Corp")
    subsidiary = rules.when(order(po="PO-2", company="Acme Deutschland GmbH", address=DE_SITE)).then(
        ("Registered", {"name": "Acme Deutschland GmbH"}), "AccountOpened", "OrderPlaced", "InvitationSent"
    )
    assert subsidiary["customer_id"] != hq["customer_id"]
    assert "Registered" in types(subsidiary)


def test_r1_parent_name_registers_the_customer_under_the_parent(app: LedgerApplication, rules: Rules) -> None:
    result = rules.when(order(po="PO-1", company="Acme UK Ltd", parent="Acme Corp")).then(
        ("Registered", {"name": "Acme Corp"}), "AccountOpened", "OrderPlaced", "InvitationSent"
    )
    assert access(rules, result["customer_id"], MAY)["name"] == "Acme Corp"
    later = place(app, po="PO-2", company="Acme", at="2026-05-05T09:00:00Z")
    assert later["customer_id"] == result["customer_id"]


def test_r1_different_company_is_a_different_customer(app: LedgerApplication) -> None:
    acme = place(app, po="PO-1", company="Acme Corp")
    industries = place(app, po="PO-2", company="Acme Industries")
    globex = place(app, po="PO-3", company="Globex Ltd", email="hank@globex.example")
    assert len({acme["customer_id"], industries["customer_id"], globex["customer_id"]}) == 3


def test_r1_explicit_customer_id_wins_over_the_name(app: LedgerApplication, rules: Rules) -> None:
    acme = place(app, po="PO-1", company="Acme Corp")
    renamed = rules.when(
        order(
            po="PO-2",
            company="Widgets International Ltd",
            customer_id=acme["customer_id"],
            at="2026-05-05T09:00:00Z",
        )
    ).then(("OrderPlaced", {"po_number": "PO-2"}))
    assert renamed["customer_id"] == acme["customer_id"]
    assert "Registered" not in types(renamed)
    assert set(contracts(rules, acme["customer_id"], "2026-05-05T09:00:00Z")) == {"PO-1", "PO-2"}


def test_r1_unknown_customer_id_refused(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    rules.refused(order(po="PO-2", customer_id=str(uuid4())), rule="R1", field="customer_id")


def test_r1_unknown_customer_id_refused_on_an_empty_ledger(app: LedgerApplication, rules: Rules) -> None:
    rules.refused(order(po="PO-1", customer_id=str(uuid4())), rule="R1", field="customer_id")
    assert position(app) == 0


def test_r1_customer_id_of_another_kind_of_record_refused(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    not_a_customer = str(purchase_order_id_for("PO-1"))
    rules.refused(order(po="PO-2", customer_id=not_a_customer), rule="R1", field="customer_id")


def test_r1_malformed_customer_id_refused(app: LedgerApplication, rules: Rules) -> None:
    rules.refused(order(po="PO-1", customer_id="acme"), rule="R4", field="customer_id")


def test_r1_company_without_letters_or_digits_refused(app: LedgerApplication, rules: Rules) -> None:
    rules.refused(order(po="PO-1", company="!!! ---"), rule="R1", field="end_customer.company")


def test_r1_parent_company_without_letters_or_digits_refused(app: LedgerApplication, rules: Rules) -> None:
    rules.refused(order(po="PO-1", company="Acme Corp", parent="---"), rule="R1", field="end_customer.parent_company")


# ----- R2: accounts by address


def test_r2_same_address_same_account(app: LedgerApplication, rules: Rules) -> None:
    first = place(app, po="PO-1", address=US_HQ)
    reformatted = {"line1": "1 MAIN ST.", "city": "springfield", "postal_code": "12345", "country": "us"}
    second = rules.when(order(po="PO-2", address=reformatted, at="2026-05-05T09:00:00Z")).then(
        ("OrderPlaced", {"po_number": "PO-2", "account_id": first["account_id"]})
    )
    assert second["account_id"] == first["account_id"]
    assert "AccountOpened" not in types(second)
    assert len(events(app, first["customer_id"], "AccountOpened")) == 1


def test_r2_hq_address_everywhere_gives_one_consolidated_account(app: LedgerApplication) -> None:
    first = place(app, po="PO-1", company="Acme Corp", address=US_HQ)
    second = place(
        app, po="PO-2", company="Acme Deutschland GmbH", parent="Acme", address=US_HQ, at="2026-05-05T09:00:00Z"
    )
    assert second["customer_id"] == first["customer_id"]
    assert second["account_id"] == first["account_id"]


def test_r2_different_address_opens_a_separate_account(app: LedgerApplication, rules: Rules) -> None:
    hq = place(app, po="PO-1", address=US_HQ)
    site = rules.when(order(po="PO-2", address=DE_SITE, at="2026-05-05T09:00:00Z")).then(
        "AccountOpened", ("OrderPlaced", {"po_number": "PO-2"})
    )
    assert site["customer_id"] == hq["customer_id"]
    assert site["account_id"] != hq["account_id"]
    assert types(site)[0] == "AccountOpened"
    opened = events(app, hq["customer_id"], "AccountOpened")
    assert [row["address"]["country"] for row in opened] == ["US", "DE"]
    assert {row["account_id"] for row in opened} == {hq["account_id"], site["account_id"]}


def test_r2_contract_belongs_to_the_account_of_its_address(app: LedgerApplication, rules: Rules) -> None:
    hq = place(app, po="PO-1", address=US_HQ)
    site = rules.when(order(po="PO-2", address=DE_SITE, at="2026-05-05T09:00:00Z")).then(
        "AccountOpened", ("OrderPlaced", {"po_number": "PO-2"})
    )
    by_po = contracts(rules, hq["customer_id"], "2026-05-05T09:00:00Z")
    assert by_po["PO-1"]["account_id"] == hq["account_id"]
    assert by_po["PO-2"]["account_id"] == site["account_id"]


def test_r2_license_of_account_a_cannot_go_to_a_room_of_account_b(app: LedgerApplication, rules: Rules) -> None:
    hq = place(app, po="PO-US", address=US_HQ)
    site = place(app, po="PO-DE", address=DE_SITE, at="2026-05-05T09:00:00Z")
    cid = hq["customer_id"]
    berlin = add_room(app, cid, site["account_id"], "Berlin Huddle", country="DE", at="2026-05-06T09:00:00Z")
    rules.refused(
        command("AssignLicense", "2026-05-07T09:00:00Z", customer_id=cid, room_id=berlin, po_number="PO-US"),
        rule="R2",
        field="room_id",
        code="account_mismatch",
    )
    # The site's own license is fine in the same room.
    result = assign(app, cid, berlin, "PO-DE", at="2026-05-07T09:00:00Z")
    assert types(result) == ["ContractStarted", "LicenseAssigned"]


def test_r2_room_in_an_unknown_account_refused(app: LedgerApplication, rules: Rules) -> None:
    hq = place(app, po="PO-1")
    rules.refused(
        command(
            "AddRoom", MAY, customer_id=hq["customer_id"], account_id=str(uuid4()), name="Lab", site="HQ", country="US"
        ),
        rule="R2",
        field="account_id",
    )


def test_r2_room_in_another_customers_account_refused(app: LedgerApplication, rules: Rules) -> None:
    acme = place(app, po="PO-1")
    globex = place(app, po="PO-2", company="Globex Ltd", email="hank@globex.example")
    rules.refused(
        command(
            "AddRoom",
            MAY,
            customer_id=acme["customer_id"],
            account_id=globex["account_id"],
            name="Lab",
            site="HQ",
            country="US",
        ),
        rule="R2",
        field="account_id",
    )


# ----- R3: group mailboxes


def test_r3_group_mailbox_warning_in_result_and_event(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", email="IT@acme.example")
    assert len(result["warnings"]) == 1
    warning = result["warnings"][0]
    assert "it@acme.example" in warning and "R3" in warning
    placed = events(app, result["customer_id"], "OrderPlaced")
    assert placed[0]["warnings"] == result["warnings"]


def test_r3_group_mailbox_order_is_still_accepted_and_invited(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", email="helpdesk@acme.example")
    assert result["ok"] is True
    assert result["invitation"]["email"] == "helpdesk@acme.example"
    assert "OrderPlaced" in types(result)


def test_r3_individual_email_has_no_warning(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", email="jane.doe@acme.example")
    assert result["warnings"] == []
    assert events(app, result["customer_id"], "OrderPlaced")[0]["warnings"] == []


def test_r3_warning_is_per_order(app: LedgerApplication) -> None:
    first = place(app, po="PO-1", email="jane.doe@acme.example")
    second = place(app, po="PO-2", email="support@acme.example", at="2026-05-05T09:00:00Z")
    assert first["warnings"] == []
    assert len(second["warnings"]) == 1
    warnings = [row["data"]["warnings"] for row in history(app, first["customer_id"]) if row["type"] == "OrderPlaced"]
    assert [len(w) for w in warnings] == [0, 1]
