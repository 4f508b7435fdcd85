"""R16 roles, R17 partner tenancy, R18 actors and operations-only commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from aggregates.errors import Forbidden
from ledger.app import LedgerApplication
from tests.kit.commands import FAR_FUTURE, command, order, run
from tests.kit.helpers import (
    JANE,
    accept,
    acme_with_admin,
    add_room,
    customer,
    events,
    history,
    place,
    position,
    refused,
    register_device,
    types,
)

VIC = "vic.viewer@acme.example"
BOB = "bob.admin@acme.example"
PAT = "pat@avpartner.example"
HANK = "hank@globex.example"
T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"
T2 = "2026-05-06T09:00:00Z"
T3 = "2026-05-07T09:00:00Z"


def _invite(cid: str, email: str, role: str, actor: str = JANE, at: str = T1) -> dict[str, Any]:
    return command("InviteUser", at, actor, customer_id=cid, email=email, role=role)


def _acme(app: LedgerApplication) -> dict[str, Any]:
    """Acme with Jane (admin) and Vic (viewer), a room, and PO-1 unassigned."""
    result = acme_with_admin(app, at=T0)
    cid = result["customer_id"]
    invited = run(app, _invite(cid, VIC, "viewer"))
    accept(app, invited["invitation"]["token"], VIC, at=T1)
    room = add_room(app, cid, result["account_id"], "Board Room", at=T1)
    return {**result, "room": room}


def _partner(app: LedgerApplication, partner_id: str = "avpartner", user: str = PAT) -> None:
    run(app, command("RegisterPartner", T0, partner_id=partner_id, name="AV Partner Inc"))
    run(app, command("AddPartnerUser", T0, partner_id=partner_id, email=user))


# ----- R16: admins manage, viewers read


def _manage_commands(setup: dict[str, Any], actor: str) -> list[dict[str, Any]]:
    cid, aid, room = setup["customer_id"], setup["account_id"], setup["room"]
    return [
        command("AddRoom", T2, actor, customer_id=cid, account_id=aid, name="Huddle", site="HQ", country="US"),
        command("AssignLicense", T2, actor, customer_id=cid, room_id=room, po_number="PO-ACME-1"),
        command(
            "RegisterDevice",
            T2,
            actor,
            customer_id=cid,
            room_id=room,
            serial_number="SN-0001",
            product="Rally Bar",
            purchased_on="2026-01-01",
        ),
        command("AllocateSpare", T2, actor, customer_id=cid, product="Rally Bar", ship_to="HQ"),
        command("SendInvitation", T2, actor, customer_id=cid, email=BOB),
        command("InviteUser", T2, actor, customer_id=cid, email=BOB, role="viewer"),
        command("ChangeRole", T2, actor, customer_id=cid, email=JANE, role="viewer"),
        command("RemoveUser", T2, actor, customer_id=cid, email=JANE),
    ]


@pytest.mark.parametrize("index", range(8))
def test_r16_viewer_cannot_change_anything(app: LedgerApplication, index: int) -> None:
    setup = _acme(app)
    raw = _manage_commands(setup, VIC)[index]
    error = refused(app, raw, rule="R16", field="actor")
    assert isinstance(error, Forbidden)
    assert "viewer" in error.message


def test_r16_viewer_cannot_move_a_license_or_device(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    other = add_room(app, cid, setup["account_id"], "Other", at=T2)
    run(app, command("AssignLicense", T2, JANE, customer_id=cid, room_id=setup["room"], po_number="PO-ACME-1"))
    register_device(app, cid, setup["room"], "SN-0001", at=T2, actor=JANE)
    refused(
        app,
        command("MoveLicense", T3, VIC, customer_id=cid, service="select", from_room_id=setup["room"],
            to_room_id=other),
        rule="R16",
        field="actor",
    )
    refused(
        app,
        command("MoveDevice", T3, VIC, customer_id=cid, serial_number="SN-0001", to_room_id=other),
        rule="R16",
        field="actor",
    )


def test_r16_admin_manages_the_customer(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    room = add_room(app, cid, setup["account_id"], "Huddle", at=T2, actor=JANE)
    assigned = run(app, command("AssignLicense", T2, JANE, customer_id=cid, room_id=room, po_number="PO-ACME-1"))
    assert "LicenseAssigned" in types(assigned)
    rows = [r for r in history(app, cid) if r["type"] in ("RoomAdded", "LicenseAssigned")]
    assert [r["actor"] for r in rows] == ["ops", JANE, JANE]


def test_r16_admin_invites_with_a_role(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    invited = run(app, _invite(cid, BOB, "viewer", at=T2))
    assert types(invited) == ["UserInvited"]
    assert events(app, cid, "UserInvited")[-1]["role"] == "viewer"
    accept(app, invited["invitation"]["token"], BOB, at=T2)
    assert customer(app, cid).users[BOB] == "viewer"


def test_r16_admin_changes_roles(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    changed = run(app, command("ChangeRole", T2, JANE, customer_id=cid, email=VIC, role="admin"))
    assert types(changed) == ["RoleChanged"]
    assert customer(app, cid).users[VIC] == "admin"
    # Vic may now manage.
    add_room(app, cid, setup["account_id"], "Huddle", at=T3, actor=VIC)


def test_r16_change_to_the_same_role_records_nothing(app: LedgerApplication) -> None:
    setup = _acme(app)
    before = position(app)
    result = run(app, command("ChangeRole", T2, JANE, customer_id=setup["customer_id"], email=VIC, role="viewer"))
    assert result["events"] == []
    assert position(app) == before


def test_r16_admin_removes_users(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    removed = run(app, command("RemoveUser", T2, JANE, customer_id=cid, email=VIC))
    assert types(removed) == ["UserRemoved"]
    assert VIC not in customer(app, cid).users
    refused(
        app,
        command("AddRoom", T3, VIC, customer_id=cid, account_id=setup["account_id"], name="X", site="X", country="US"),
        rule="R17",
        field="actor",
    )


def test_r16_last_admin_cannot_be_demoted(app: LedgerApplication) -> None:
    setup = _acme(app)
    refused(
        app,
        command("ChangeRole", T2, JANE, customer_id=setup["customer_id"], email=JANE, role="viewer"),
        rule="R16",
        field="email",
        code="last_admin",
    )
    refused(
        app,
        command("ChangeRole", T2, "ops", customer_id=setup["customer_id"], email=JANE, role="viewer"),
        rule="R16",
        field="email",
        code="last_admin",
    )


def test_r16_last_admin_cannot_be_removed(app: LedgerApplication) -> None:
    setup = _acme(app)
    refused(
        app,
        command("RemoveUser", T2, JANE, customer_id=setup["customer_id"], email=JANE),
        rule="R16",
        field="email",
        code="last_admin",
    )


def test_r16_admin_may_step_down_once_another_admin_exists(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    run(app, command("ChangeRole", T2, JANE, customer_id=cid, email=VIC, role="admin"))
    run(app, command("ChangeRole", T3, JANE, customer_id=cid, email=JANE, role="viewer"))
    assert customer(app, cid).users == {JANE: "viewer", VIC: "admin"}


def test_r16_unknown_user_refused(app: LedgerApplication) -> None:
    setup = _acme(app)
    for name in ("ChangeRole", "RemoveUser"):
        fields: dict[str, Any] = {"customer_id": setup["customer_id"], "email": BOB}
        if name == "ChangeRole":
            fields["role"] = "admin"
        refused(app, command(name, T2, JANE, **fields), rule="R16", field="email")


def test_r16_unknown_role_refused(app: LedgerApplication) -> None:
    setup = _acme(app)
    refused(app, _invite(setup["customer_id"], BOB, "owner", at=T2), rule="R16", field="role")


# ----- R17: partners act for every delegating customer, and no other


def test_r17_partner_user_acts_on_a_delegating_customer(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    _partner(app)
    delegated = run(app, command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin"))
    assert types(delegated) == ["PartnerDelegated"]
    room = add_room(app, cid, setup["account_id"], "Huddle", at=T2, actor=PAT)
    assert customer(app, cid).rooms[UUID(room)].name == "Huddle"
    rows = [r for r in history(app, cid) if r["type"] == "RoomAdded"]
    assert (rows[-1]["actor"], rows[-1]["data"]["room_id"]) == (PAT, room)


def test_r17_partner_acts_for_every_delegating_customer(app: LedgerApplication) -> None:
    acme = place(app, po="PO-A", at=T0)
    globex = place(app, po="PO-G", company="Globex Ltd", email=HANK, at=T0)
    _partner(app)
    for c in (acme, globex):
        run(app, command("DelegatePartner", T1, customer_id=c["customer_id"], partner_id="avpartner", role="admin"))
        add_room(app, c["customer_id"], c["account_id"], "Lab", at=T2, actor=PAT)
    assert len(customer(app, acme["customer_id"]).rooms) == 1
    assert len(customer(app, globex["customer_id"]).rooms) == 1


def test_r17_partner_user_refused_on_a_non_delegating_customer(app: LedgerApplication) -> None:
    setup = _acme(app)
    globex = place(app, po="PO-G", company="Globex Ltd", email=HANK, at=T0)
    _partner(app)
    run(app, command("DelegatePartner", T2, customer_id=setup["customer_id"], partner_id="avpartner", role="admin"))
    error = refused(
        app,
        command(
            "AddRoom",
            T2,
            PAT,
            customer_id=globex["customer_id"],
            account_id=globex["account_id"],
            name="Lab",
            site="HQ",
            country="US",
        ),
        rule="R17",
        field="actor",
    )
    assert isinstance(error, Forbidden)


def test_r17_revocation_takes_effect_at_once(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    _partner(app)
    run(app, command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin"))
    add_room(app, cid, setup["account_id"], "Huddle", at=T2, actor=PAT)
    revoked = run(app, command("RevokePartner", T2, JANE, customer_id=cid, partner_id="avpartner"))
    assert types(revoked) == ["PartnerRevoked"]
    refused(
        app,
        command("AddRoom", T2, PAT, customer_id=cid, account_id=setup["account_id"], name="Lab", site="HQ",
            country="US"),
        rule="R17",
        field="actor",
    )


def test_r17_revocation_matches_the_partner_id_regardless_of_case(app: LedgerApplication) -> None:
    # Partner ids are case-insensitive (registering "AVPARTNER" next to "avpartner" is a duplicate),
    # so a delegation given as "AVPartner" must be revocable as "avpartner" and then be gone.
    setup = _acme(app)
    cid = setup["customer_id"]
    _partner(app)
    refused(app, command("RegisterPartner", T1, partner_id="AVPARTNER", name="Dup"), rule="R17", field="partner_id")
    run(app, command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="AVPartner", role="admin"))
    run(app, command("RevokePartner", T2, JANE, customer_id=cid, partner_id="avpartner"))
    assert customer(app, cid).partners == {}
    refused(
        app,
        command("AddRoom", T2, PAT, customer_id=cid, account_id=setup["account_id"], name="Lab", site="HQ",
            country="US"),
        rule="R17",
        field="actor",
    )


def test_r17_redelegation_in_another_case_replaces_the_role(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    _partner(app)
    run(app, command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin"))
    run(app, command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="AVPARTNER", role="viewer"))
    assert customer(app, cid).partners == {"avpartner": "viewer"}
    refused(
        app,
        command("AddRoom", T2, PAT, customer_id=cid, account_id=setup["account_id"], name="Lab", site="HQ",
            country="US"),
        rule="R16",
        field="actor",
    )


def test_r17_viewer_delegation_is_read_only(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    _partner(app)
    run(app, command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="viewer"))
    refused(
        app,
        command("AddRoom", T2, PAT, customer_id=cid, account_id=setup["account_id"], name="Lab", site="HQ",
            country="US"),
        rule="R16",
        field="actor",
    )


def test_r17_partner_user_cannot_delegate_or_revoke(app: LedgerApplication) -> None:
    setup = _acme(app)
    cid = setup["customer_id"]
    _partner(app)
    run(app, command("RegisterPartner", T0, partner_id="other", name="Other AV"))
    run(app, command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin"))
    refused(
        app,
        command("DelegatePartner", T2, PAT, customer_id=cid, partner_id="other", role="admin"),
        rule="R17",
        field="actor",
    )
    refused(app, command("RevokePartner", T2, PAT, customer_id=cid, partner_id="avpartner"), rule="R17", field="actor")


def test_r17_viewer_cannot_delegate(app: LedgerApplication) -> None:
    setup = _acme(app)
    _partner(app)
    refused(
        app,
        command("DelegatePartner", T2, VIC, customer_id=setup["customer_id"], partner_id="avpartner", role="admin"),
        rule="R17",
        field="actor",
    )


def test_r17_delegation_to_an_unknown_partner_refused(app: LedgerApplication) -> None:
    setup = _acme(app)
    refused(
        app,
        command("DelegatePartner", T2, JANE, customer_id=setup["customer_id"], partner_id="nobody", role="admin"),
        rule="R17",
        field="partner_id",
    )


def test_r17_revoking_a_delegation_that_does_not_exist_refused(app: LedgerApplication) -> None:
    setup = _acme(app)
    _partner(app)
    refused(
        app,
        command("RevokePartner", T2, JANE, customer_id=setup["customer_id"], partner_id="avpartner"),
        rule="R17",
        field="partner_id",
    )


def test_r17_user_of_one_customer_has_no_access_to_another(app: LedgerApplication) -> None:
    _acme(app)
    globex = place(app, po="PO-G", company="Globex Ltd", email=HANK, at=T0)
    refused(
        app,
        command(
            "AddRoom",
            T2,
            JANE,
            customer_id=globex["customer_id"],
            account_id=globex["account_id"],
            name="Lab",
            site="HQ",
            country="US",
        ),
        rule="R17",
        field="actor",
    )


def test_r17_partner_user_added_twice_refused(app: LedgerApplication) -> None:
    _partner(app)
    refused(app, command("AddPartnerUser", T1, partner_id="avpartner", email=PAT), rule="R17", field="email")


# ----- R18: every command names its actor; ops-only commands


@pytest.mark.parametrize("actor", [JANE, "vic.viewer@acme.example", PAT])
def test_r18_non_ops_cannot_place_orders(app: LedgerApplication, actor: str) -> None:
    setup = _acme(app)
    refused(
        app,
        order(po="PO-2", at=T2, actor=actor, customer_id=setup["customer_id"]),
        rule="R18",
        field="actor",
        code="forbidden",
    )
    assert set(customer(app, setup["customer_id"]).contracts) == {"PO-ACME-1"}


def test_r18_refused_order_creates_no_customer(app: LedgerApplication) -> None:
    refused(app, order(po="PO-1", actor=JANE), rule="R18", field="actor")
    assert position(app) == 0
    assert list(app.customer_ids()) == []


def test_r18_non_ops_cannot_cancel(app: LedgerApplication) -> None:
    setup = _acme(app)
    refused(app, command("CancelOrder", T2, JANE, po_number="PO-ACME-1"), rule="R18", field="actor")
    assert customer(app, setup["customer_id"]).contracts["PO-ACME-1"].cancelled_at is None


def test_r18_non_ops_cannot_run_expiry(make_app: Callable[..., LedgerApplication]) -> None:
    app = make_app(**FAR_FUTURE)  # dated years ahead of the clock (R20 bound)
    _acme(app)
    refused(app, command("ExpireContracts", "2030-01-01T00:00:00Z", JANE), rule="R18", field="actor")


def test_r18_non_ops_cannot_register_partners(app: LedgerApplication) -> None:
    refused(app, command("RegisterPartner", T0, JANE, partner_id="p1", name="P1"), rule="R18", field="actor")
    _partner(app)
    refused(app, command("AddPartnerUser", T1, PAT, partner_id="avpartner", email="x@y.example"), rule="R18",
        field="actor")


def test_r18_ops_places_cancels_and_expires(make_app: Callable[..., LedgerApplication]) -> None:
    app = make_app(**FAR_FUTURE)  # dated years ahead of the clock (R20 bound)
    place(app, po="PO-1", at=T0)
    place(app, po="PO-2", at=T0)
    assert types(run(app, command("CancelOrder", T1, po_number="PO-1"))) == ["OrderCancelled"]
    assert run(app, command("ExpireContracts", "2029-07-04T00:00:00Z"))["expired"] == ["PO-2"]


@pytest.mark.parametrize("actor", ["", "bob", "ops@", "OPS "])
def test_r18_actor_must_be_ops_or_an_email(app: LedgerApplication, actor: str) -> None:
    raw = order(po="PO-1", actor=actor)
    refused(app, raw, rule="R18", field="actor")


def test_r18_missing_actor_refused(app: LedgerApplication) -> None:
    raw = order(po="PO-1")
    del raw["actor"]
    error = refused(app, raw, rule="R18", field="actor")
    assert "actor: is required" in error.message


def test_r18_unknown_or_missing_command_refused(app: LedgerApplication) -> None:
    refused(app, {"command": "DeleteEverything", "actor": "ops"}, rule="R18", field="command", code="unknown_command")
    refused(app, {"actor": "ops"}, rule="R18", field="command", code="unknown_command")


def test_r18_refusal_says_why(app: LedgerApplication) -> None:
    setup = _acme(app)
    error = refused(app, command("CancelOrder", T2, VIC, po_number="PO-ACME-1"), rule="R18", field="actor")
    as_dict = error.as_dict()
    assert as_dict["code"] == "forbidden"
    assert as_dict["rule"] == "R18"
    assert VIC in str(as_dict["message"]) and "ops" in str(as_dict["message"])
    assert customer(app, setup["customer_id"]).contracts["PO-ACME-1"].cancelled_at is None
