"""R16 roles, R17 partner tenancy, R18 actors and operations-only commands.

Given Acme with its admin Jane, its viewer Vic and a room (and partners where a test needs them), when
a command by one actor, then the events it recorded (``RoomAdded``, ``LicenseAssigned``,
``UserInvited``, ``RoleChanged``, ``UserRemoved``, ``PartnerDelegated``, ``PartnerRevoked``,
``OrderCancelled``, ``ContractExpired`` with their key fields) or its refusal (rule, field, code),
recording nothing (``tests/kit/rules.py``); users, partners, rooms and contracts are read from the
views (read model and as-of fold alike), not from the aggregate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aggregates.errors import Forbidden
from ledger.app import LedgerApplication
from tests.kit import views
from tests.kit.commands import FAR_FUTURE, command, order
from tests.kit.helpers import JANE, events, history, position, types
from tests.kit.rules import Rules

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


def _add_room(cid: str, aid: str, name: str, at: str, actor: str = "ops") -> dict[str, Any]:
    return command("AddRoom", at, actor, customer_id=cid, account_id=aid, name=name, site="HQ", country="US")


def _acme(rules: Rules) -> dict[str, Any]:
    """Acme with Jane (admin) and Vic (viewer), a room, and PO-1 unassigned."""
    (result,) = rules.given(order(po="PO-ACME-1", at=T0))
    cid = result["customer_id"]
    (_, invited) = rules.given(
        command("AcceptInvitation", T0, JANE, token=result["invitation"]["token"]), _invite(cid, VIC, "viewer")
    )
    (_, room) = rules.given(
        command("AcceptInvitation", T1, VIC, token=invited["invitation"]["token"]),
        _add_room(cid, result["account_id"], "Board Room", T1),
    )
    return {**result, "room": room["room_id"]}


def _globex(rules: Rules) -> dict[str, Any]:
    (globex,) = rules.given(order(po="PO-G", company="Globex Ltd", email=HANK, at=T0))
    return globex


def _partner(rules: Rules, partner_id: str = "avpartner", user: str = PAT) -> None:
    rules.given(
        command("RegisterPartner", T0, partner_id=partner_id, name="AV Partner Inc"),
        command("AddPartnerUser", T0, partner_id=partner_id, email=user),
    )


def _partners(rules: Rules, cid: str, at: str = T3) -> dict[str, str]:
    """The customer's partners at ``at`` from the access view: partner id → role."""
    return {p["partner_id"]: p["role"] for p in views.access(rules, cid, at)["partners"]}


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
def test_r16_viewer_cannot_change_anything(rules: Rules, index: int) -> None:
    setup = _acme(rules)
    raw = _manage_commands(setup, VIC)[index]
    error = rules.when(raw).refused(rule="R16", field="actor", code="forbidden")
    assert isinstance(error, Forbidden)
    assert "viewer" in error.message


def test_r16_viewer_cannot_move_a_license_or_device(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    (added, _, _) = rules.given(
        _add_room(cid, setup["account_id"], "Other", T2),
        command("AssignLicense", T2, JANE, customer_id=cid, room_id=setup["room"], po_number="PO-ACME-1"),
        command("RegisterDevice", T2, JANE, customer_id=cid, room_id=setup["room"], serial_number="SN-0001",
                product="Rally Bar", purchased_on="2026-01-01"),
    )
    other = added["room_id"]
    rules.when(
        command("MoveLicense", T3, VIC, customer_id=cid, service="select", from_room_id=setup["room"],
                to_room_id=other),
    ).refused(rule="R16", field="actor", code="forbidden")
    rules.when(
        command("MoveDevice", T3, VIC, customer_id=cid, serial_number="SN-0001", to_room_id=other),
    ).refused(rule="R16", field="actor", code="forbidden")


def test_r16_admin_manages_the_customer(app: LedgerApplication, rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    room = rules.when(_add_room(cid, setup["account_id"], "Huddle", T2, actor=JANE)).then(
        ("RoomAdded", {"account_id": setup["account_id"], "name": "Huddle"})
    )["room_id"]
    assigned = rules.when(
        command("AssignLicense", T2, JANE, customer_id=cid, room_id=room, po_number="PO-ACME-1")
    ).then(
        ("ContractStarted", {"po_number": "PO-ACME-1"}),
        ("LicenseAssigned", {"room_id": room, "po_number": "PO-ACME-1", "service": "select"}),
    )
    assert "LicenseAssigned" in types(assigned)
    rows = [r for r in history(app, cid) if r["type"] in ("RoomAdded", "LicenseAssigned")]
    assert [r["actor"] for r in rows] == ["ops", JANE, JANE]


def test_r16_admin_invites_with_a_role(app: LedgerApplication, rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    invited = rules.when(_invite(cid, BOB, "viewer", at=T2)).then(("UserInvited", {"email": BOB, "role": "viewer"}))
    assert types(invited) == ["UserInvited"]
    assert events(app, cid, "UserInvited")[-1]["role"] == "viewer"
    rules.when(command("AcceptInvitation", T2, BOB, token=invited["invitation"]["token"])).then(
        ("InvitationAccepted", {"email": BOB, "role": "viewer"})
    )
    assert views.users(rules, cid, T3)[BOB] == "viewer"


def test_r16_admin_changes_roles(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    changed = rules.when(command("ChangeRole", T2, JANE, customer_id=cid, email=VIC, role="admin")).then(
        ("RoleChanged", {"email": VIC, "role": "admin"})
    )
    assert types(changed) == ["RoleChanged"]
    assert views.users(rules, cid, T2)[VIC] == "admin"
    # Vic may now manage.
    rules.when(_add_room(cid, setup["account_id"], "Huddle", T3, actor=VIC)).then(("RoomAdded", {"name": "Huddle"}))


def test_r16_change_to_the_same_role_records_nothing(app: LedgerApplication, rules: Rules) -> None:
    setup = _acme(rules)
    before = position(app)
    result = rules.when(
        command("ChangeRole", T2, JANE, customer_id=setup["customer_id"], email=VIC, role="viewer")
    ).then(only=None)
    assert result["events"] == []
    assert position(app) == before


def test_r16_admin_removes_users(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    removed = rules.when(command("RemoveUser", T2, JANE, customer_id=cid, email=VIC)).then(
        ("UserRemoved", {"email": VIC})
    )
    assert types(removed) == ["UserRemoved"]
    assert VIC not in views.users(rules, cid, T2)
    rules.when(
        command("AddRoom", T3, VIC, customer_id=cid, account_id=setup["account_id"], name="X", site="X", country="US"),
    ).refused(rule="R17", field="actor", code="no_access")


def test_r16_last_admin_cannot_be_demoted(rules: Rules) -> None:
    setup = _acme(rules)
    rules.when(
        command("ChangeRole", T2, JANE, customer_id=setup["customer_id"], email=JANE, role="viewer"),
    ).refused(rule="R16", field="email", code="last_admin")
    rules.when(
        command("ChangeRole", T2, "ops", customer_id=setup["customer_id"], email=JANE, role="viewer"),
    ).refused(rule="R16", field="email", code="last_admin")


def test_r16_last_admin_cannot_be_removed(rules: Rules) -> None:
    setup = _acme(rules)
    rules.when(
        command("RemoveUser", T2, JANE, customer_id=setup["customer_id"], email=JANE),
    ).refused(rule="R16", field="email", code="last_admin")


def test_r16_admin_may_step_down_once_another_admin_exists(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    rules.when(command("ChangeRole", T2, JANE, customer_id=cid, email=VIC, role="admin")).then(
        ("RoleChanged", {"email": VIC, "role": "admin"})
    )
    rules.when(command("ChangeRole", T3, JANE, customer_id=cid, email=JANE, role="viewer")).then(
        ("RoleChanged", {"email": JANE, "role": "viewer"})
    )
    assert views.users(rules, cid, T3) == {JANE: "viewer", VIC: "admin"}


def test_r16_unknown_user_refused(rules: Rules) -> None:
    setup = _acme(rules)
    for name in ("ChangeRole", "RemoveUser"):
        fields: dict[str, Any] = {"customer_id": setup["customer_id"], "email": BOB}
        if name == "ChangeRole":
            fields["role"] = "admin"
        rules.when(command(name, T2, JANE, **fields)).refused(rule="R16", field="email", code="not_found")


def test_r16_unknown_role_refused(rules: Rules) -> None:
    setup = _acme(rules)
    rules.when(_invite(setup["customer_id"], BOB, "owner", at=T2)).refused(
        rule="R16", field="role", code="invalid_input"
    )


# ----- R17: partners act for every delegating customer, and no other


def test_r17_partner_user_acts_on_a_delegating_customer(app: LedgerApplication, rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    _partner(rules)
    delegated = rules.when(
        command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin")
    ).then(("PartnerDelegated", {"partner_id": "avpartner", "role": "admin"}))
    assert types(delegated) == ["PartnerDelegated"]
    room = rules.when(_add_room(cid, setup["account_id"], "Huddle", T2, actor=PAT)).then(
        ("RoomAdded", {"account_id": setup["account_id"], "name": "Huddle"})
    )["room_id"]
    assert views.rooms(rules, cid, T2)[room]["name"] == "Huddle"
    rows = [r for r in history(app, cid) if r["type"] == "RoomAdded"]
    assert (rows[-1]["actor"], rows[-1]["data"]["room_id"]) == (PAT, room)


def test_r17_partner_acts_for_every_delegating_customer(rules: Rules) -> None:
    (acme,) = rules.given(order(po="PO-A", at=T0))
    globex = _globex(rules)
    _partner(rules)
    for c in (acme, globex):
        rules.when(
            command("DelegatePartner", T1, customer_id=c["customer_id"], partner_id="avpartner", role="admin")
        ).then(("PartnerDelegated", {"partner_id": "avpartner", "role": "admin"}))
        rules.when(_add_room(c["customer_id"], c["account_id"], "Lab", T2, actor=PAT)).then(
            ("RoomAdded", {"account_id": c["account_id"], "name": "Lab"})
        )
    assert len(views.rooms(rules, acme["customer_id"], T3)) == 1
    assert len(views.rooms(rules, globex["customer_id"], T3)) == 1


def test_r17_partner_user_refused_on_a_non_delegating_customer(rules: Rules) -> None:
    setup = _acme(rules)
    globex = _globex(rules)
    _partner(rules)
    rules.given(command("DelegatePartner", T2, customer_id=setup["customer_id"], partner_id="avpartner",
                        role="admin"))
    error = rules.when(_add_room(globex["customer_id"], globex["account_id"], "Lab", T2, actor=PAT)).refused(
        rule="R17", field="actor", code="no_access"
    )
    assert isinstance(error, Forbidden)


def test_r17_revocation_takes_effect_at_once(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    _partner(rules)
    rules.given(
        command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin"),
        _add_room(cid, setup["account_id"], "Huddle", T2, actor=PAT),
    )
    revoked = rules.when(command("RevokePartner", T2, JANE, customer_id=cid, partner_id="avpartner")).then(
        ("PartnerRevoked", {"partner_id": "avpartner"})
    )
    assert types(revoked) == ["PartnerRevoked"]
    rules.when(_add_room(cid, setup["account_id"], "Lab", T2, actor=PAT)).refused(
        rule="R17", field="actor", code="no_access"
    )


def test_r17_revocation_matches_the_partner_id_regardless_of_case(rules: Rules) -> None:
    # Partner ids are case-insensitive (registering "AVPARTNER" next to "avpartner" is a duplicate),
    # so a delegation given as "AVPartner" must be revocable as "avpartner" and then be gone.
    setup = _acme(rules)
    cid = setup["customer_id"]
    _partner(rules)
    rules.when(command("RegisterPartner", T1, partner_id="AVPARTNER", name="Dup")).refused(
        rule="R17", field="partner_id", code="duplicate_partner"
    )
    rules.when(command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="AVPartner", role="admin")).then(
        ("PartnerDelegated", {"partner_id": "avpartner", "role": "admin"})
    )
    rules.when(command("RevokePartner", T2, JANE, customer_id=cid, partner_id="avpartner")).then(
        ("PartnerRevoked", {"partner_id": "avpartner"})
    )
    assert _partners(rules, cid) == {}
    rules.when(_add_room(cid, setup["account_id"], "Lab", T2, actor=PAT)).refused(
        rule="R17", field="actor", code="no_access"
    )


def test_r17_redelegation_in_another_case_replaces_the_role(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    _partner(rules)
    rules.when(command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin")).then(
        ("PartnerDelegated", {"partner_id": "avpartner", "role": "admin"})
    )
    rules.when(command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="AVPARTNER", role="viewer")).then(
        ("PartnerDelegated", {"partner_id": "avpartner", "role": "viewer"})
    )
    assert _partners(rules, cid) == {"avpartner": "viewer"}
    rules.when(_add_room(cid, setup["account_id"], "Lab", T2, actor=PAT)).refused(
        rule="R16", field="actor", code="forbidden"
    )


def test_r17_viewer_delegation_is_read_only(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    _partner(rules)
    rules.when(command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="viewer")).then(
        ("PartnerDelegated", {"partner_id": "avpartner", "role": "viewer"})
    )
    rules.when(_add_room(cid, setup["account_id"], "Lab", T2, actor=PAT)).refused(
        rule="R16", field="actor", code="forbidden"
    )


def test_r17_partner_user_cannot_delegate_or_revoke(rules: Rules) -> None:
    setup = _acme(rules)
    cid = setup["customer_id"]
    _partner(rules)
    rules.given(
        command("RegisterPartner", T0, partner_id="other", name="Other AV"),
        command("DelegatePartner", T2, JANE, customer_id=cid, partner_id="avpartner", role="admin"),
    )
    rules.when(command("DelegatePartner", T2, PAT, customer_id=cid, partner_id="other", role="admin")).refused(
        rule="R17", field="actor", code="forbidden"
    )
    rules.when(command("RevokePartner", T2, PAT, customer_id=cid, partner_id="avpartner")).refused(
        rule="R17", field="actor", code="forbidden"
    )


def test_r17_viewer_cannot_delegate(rules: Rules) -> None:
    setup = _acme(rules)
    _partner(rules)
    rules.when(
        command("DelegatePartner", T2, VIC, customer_id=setup["customer_id"], partner_id="avpartner", role="admin"),
    ).refused(rule="R17", field="actor", code="forbidden")


def test_r17_delegation_to_an_unknown_partner_refused(rules: Rules) -> None:
    setup = _acme(rules)
    rules.when(
        command("DelegatePartner", T2, JANE, customer_id=setup["customer_id"], partner_id="nobody", role="admin"),
    ).refused(rule="R17", field="partner_id", code="not_found")


def test_r17_revoking_a_delegation_that_does_not_exist_refused(rules: Rules) -> None:
    setup = _acme(rules)
    _partner(rules)
    rules.when(
        command("RevokePartner", T2, JANE, customer_id=setup["customer_id"], partner_id="avpartner"),
    ).refused(rule="R17", field="partner_id", code="not_found")


def test_r17_user_of_one_customer_has_no_access_to_another(rules: Rules) -> None:
    _acme(rules)
    globex = _globex(rules)
    rules.when(_add_room(globex["customer_id"], globex["account_id"], "Lab", T2, actor=JANE)).refused(
        rule="R17", field="actor", code="no_access"
    )


def test_r17_partner_user_added_twice_refused(rules: Rules) -> None:
    _partner(rules)
    rules.when(command("AddPartnerUser", T1, partner_id="avpartner", email=PAT)).refused(
        rule="R17", field="email", code="already_a_user"
    )


# ----- R18: every command names its actor; ops-only commands


@pytest.mark.parametrize("actor", [JANE, "vic.viewer@acme.example", PAT])
def test_r18_non_ops_cannot_place_orders(rules: Rules, actor: str) -> None:
    setup = _acme(rules)
    rules.when(order(po="PO-2", at=T2, actor=actor, customer_id=setup["customer_id"])).refused(
        rule="R18", field="actor", code="forbidden"
    )
    assert set(views.contracts(rules, setup["customer_id"], T3)) == {"PO-ACME-1"}


def test_r18_refused_order_creates_no_customer(app: LedgerApplication, rules: Rules) -> None:
    rules.when(order(po="PO-1", actor=JANE)).refused(rule="R18", field="actor", code="forbidden")
    assert position(app) == 0
    assert list(app.customer_ids()) == []


def test_r18_non_ops_cannot_cancel(rules: Rules) -> None:
    setup = _acme(rules)
    rules.when(command("CancelOrder", T2, JANE, po_number="PO-ACME-1")).refused(
        rule="R18", field="actor", code="forbidden"
    )
    assert views.contracts(rules, setup["customer_id"], T2)["PO-ACME-1"]["status"] != "cancelled"


def test_r18_non_ops_cannot_run_expiry(make_app: Callable[..., LedgerApplication]) -> None:
    rules = Rules(make_app(**FAR_FUTURE))  # dated years ahead of the clock (R20 bound)
    _acme(rules)
    rules.when(command("ExpireContracts", "2030-01-01T00:00:00Z", JANE)).refused(
        rule="R18", field="actor", code="forbidden"
    )


def test_r18_non_ops_cannot_register_partners(rules: Rules) -> None:
    rules.when(command("RegisterPartner", T0, JANE, partner_id="p1", name="P1")).refused(
        rule="R18", field="actor", code="forbidden"
    )
    _partner(rules)
    rules.when(command("AddPartnerUser", T1, PAT, partner_id="avpartner", email="x@y.example")).refused(
        rule="R18", field="actor", code="forbidden"
    )


def test_r18_ops_places_cancels_and_expires(make_app: Callable[..., LedgerApplication]) -> None:
    rules = Rules(make_app(**FAR_FUTURE))  # dated years ahead of the clock (R20 bound)
    rules.given(order(po="PO-1", at=T0), order(po="PO-2", at=T0))
    cancelled = rules.when(command("CancelOrder", T1, po_number="PO-1")).then(
        ("OrderCancelled", {"po_number": "PO-1"})
    )
    assert types(cancelled) == ["OrderCancelled"]
    expired = rules.when(command("ExpireContracts", "2029-07-04T00:00:00Z")).then(
        ("ContractStarted", {"po_number": "PO-2"}), ("ContractExpired", {"po_number": "PO-2"})
    )
    assert expired["expired"] == ["PO-2"]


@pytest.mark.parametrize("actor", ["", "bob", "ops@", "OPS "])
def test_r18_actor_must_be_ops_or_an_email(rules: Rules, actor: str) -> None:
    raw = order(po="PO-1", actor=actor)
    rules.when(raw).refused(rule="R18", field="actor", code="invalid_input")


def test_r18_missing_actor_refused(rules: Rules) -> None:
    raw = order(po="PO-1")
    del raw["actor"]
    error = rules.when(raw).refused(rule="R18", field="actor", code="invalid_input")
    assert "actor: is required" in error.message


def test_r18_unknown_or_missing_command_refused(rules: Rules) -> None:
    rules.when({"command": "DeleteEverything", "actor": "ops"}).refused(
        rule="R18", field="command", code="unknown_command"
    )
    rules.when({"actor": "ops"}).refused(rule="R18", field="command", code="unknown_command")


def test_r18_refusal_says_why(rules: Rules) -> None:
    setup = _acme(rules)
    error = rules.when(command("CancelOrder", T2, VIC, po_number="PO-ACME-1")).refused(
        rule="R18", field="actor", code="forbidden"
    )
    as_dict = error.as_dict()
    assert as_dict["code"] == "forbidden"
    assert as_dict["rule"] == "R18"
    assert VIC in str(as_dict["message"]) and "ops" in str(as_dict["message"])
    assert views.contracts(rules, setup["customer_id"], T2)["PO-ACME-1"]["status"] != "cancelled"
