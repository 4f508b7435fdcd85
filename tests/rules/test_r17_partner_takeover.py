"""R17 least privilege: a partner's users, even admins, never touch the customer's own access.

Given Acme with two own admins and a delegated partner, when a partner's user (or an own admin, or
ops) runs an access command, then the events it recorded (``RoomAdded``, ``LicenseAssigned``,
``UserInvited``, ``RoleChanged``, ``PartnerRevoked`` with what it takes away) or its refusal recording
nothing (``tests/kit/rules.py``); who has access is read from the access view (read model and as-of
fold alike)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kit import views
from tests.kit.commands import command, order
from tests.kit.helpers import JANE
from tests.kit.rules import Rules

PAT = "pat@avpartner.example"
PAT2 = "pat2@avpartner.example"
BOB = "bob.admin@acme.example"
T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"
T2 = "2026-05-06T09:00:00Z"
T3 = "2026-05-07T09:00:00Z"


def _delegated(rules: Rules, role: str = "admin") -> dict[str, Any]:
    """Acme with two own admins (Jane, Bob) and the partner delegated with ``role``."""
    (setup,) = rules.given(order(po="PO-ACME-1", at=T0))
    cid = setup["customer_id"]
    rules.given(command("AcceptInvitation", T0, JANE, token=setup["invitation"]["token"]))
    (bob,) = rules.given(command("InviteUser", T0, JANE, customer_id=cid, email=BOB, role="admin"))
    rules.given(
        command("AcceptInvitation", T0, BOB, token=bob["invitation"]["token"]),
        command("RegisterPartner", T0, partner_id="avpartner", name="AV Partner Inc"),
        command("AddPartnerUser", T0, partner_id="avpartner", email=PAT),
        command("AddPartnerUser", T0, partner_id="avpartner", email=PAT2),
        command("DelegatePartner", T1, JANE, customer_id=cid, partner_id="avpartner", role=role),
    )
    return setup


def _access_commands(cid: str, actor: str) -> list[dict[str, Any]]:
    return [
        command("InviteUser", T2, actor, customer_id=cid, email=PAT, role="admin"),
        command("InviteUser", T2, actor, customer_id=cid, email="new@acme.example", role="viewer"),
        command("SendInvitation", T2, actor, customer_id=cid, email=PAT),
        command("ChangeRole", T2, actor, customer_id=cid, email=JANE, role="viewer"),
        command("RemoveUser", T2, actor, customer_id=cid, email=BOB),
        command("DelegatePartner", T2, actor, customer_id=cid, partner_id="avpartner", role="admin"),
        command("RevokePartner", T2, actor, customer_id=cid, partner_id="avpartner"),
    ]


@pytest.mark.parametrize("index", range(7))
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_r17_partner_user_never_touches_the_customers_access(rules: Rules, role: str, index: int) -> None:
    setup = _delegated(rules, role)
    raw = _access_commands(setup["customer_id"], PAT)[index]
    error = rules.when(raw).refused(rule="R17", field="actor", code="forbidden")
    assert any(words in error.message for words in ("partner never touches", "admin of the customer itself"))
    assert views.users(rules, setup["customer_id"], T2) == {JANE: "admin", BOB: "admin"}
    assert views.access(rules, setup["customer_id"], T2)["partners"] == [{"partner_id": "avpartner", "role": role}]


def test_r17_partner_admin_still_works_rooms(rules: Rules) -> None:
    setup = _delegated(rules)
    cid = setup["customer_id"]
    room = rules.when(command("AddRoom", T2, PAT, customer_id=cid, account_id=setup["account_id"], name="Huddle",
                              site="HQ", country="US")).then(
        ("RoomAdded", {"account_id": setup["account_id"], "name": "Huddle"})
    )["room_id"]
    rules.when(command("AssignLicense", T2, PAT, customer_id=cid, room_id=room, po_number="PO-ACME-1")).then(
        ("ContractStarted", {"po_number": "PO-ACME-1"}),
        ("LicenseAssigned", {"room_id": room, "po_number": "PO-ACME-1", "service": "select"}),
    )


def test_r17_own_admins_and_ops_still_manage_access(rules: Rules) -> None:
    setup = _delegated(rules)
    cid = setup["customer_id"]
    for raw, recorded in (
        (command("InviteUser", T2, JANE, customer_id=cid, email="v@acme.example", role="viewer"),
         ("UserInvited", {"email": "v@acme.example", "role": "viewer"})),
        (command("ChangeRole", T2, BOB, customer_id=cid, email=JANE, role="viewer"),
         ("RoleChanged", {"email": JANE, "role": "viewer"})),
        (command("ChangeRole", T2, "ops", customer_id=cid, email=JANE, role="admin"),
         ("RoleChanged", {"email": JANE, "role": "admin"})),
        (command("SendInvitation", T2, "ops", customer_id=cid, email="w@acme.example"),
         ("InvitationSent", {"email": "w@acme.example", "role": "admin"})),
    ):
        assert rules.when(raw).then(recorded)["ok"]


def test_r17_take_over_sequence_refused_and_revocation_leaves_nothing_behind(rules: Rules) -> None:
    """The reported take-over: invite itself, accept, remove the second admin, demote the first."""
    setup = _delegated(rules)
    cid = setup["customer_id"]
    rules.when(command("InviteUser", T2, PAT, customer_id=cid, email=PAT, role="admin")).refused(
        rule="R17", field="actor", code="forbidden")
    rules.when(command("RemoveUser", T2, PAT, customer_id=cid, email=BOB)).refused(
        rule="R17", field="actor", code="forbidden")
    rules.when(command("ChangeRole", T2, PAT, customer_id=cid, email=JANE, role="viewer")).refused(
        rule="R17", field="actor", code="forbidden")
    # Even where a customer admin once gave a partner's user its own access, revoking the partner
    # takes that away too: nothing of the partner stays behind.
    invited = rules.when(command("InviteUser", T2, JANE, customer_id=cid, email=PAT, role="admin")).then(
        ("UserInvited", {"email": PAT, "role": "admin"}))
    rules.when(command("AcceptInvitation", T2, PAT, token=invited["invitation"]["token"])).then(
        ("InvitationAccepted", {"email": PAT, "role": "admin"}))
    inviting = rules.when(command("InviteUser", T2, JANE, customer_id=cid, email=PAT2, role="viewer"))
    pending = inviting.then(("UserInvited", {"email": PAT2, "role": "viewer"}))
    (pending_invitation,) = inviting.then_data("UserInvited")
    assert pending["ok"]
    assert views.users(rules, cid, T2) == {JANE: "admin", BOB: "admin", PAT: "admin"}
    revoked = rules.when(command("RevokePartner", T3, JANE, customer_id=cid, partner_id="avpartner")).then(
        ("PartnerRevoked", {"partner_id": "avpartner"}),
        ("InvitationSuperseded", {"invitation_id": pending_invitation["invitation_id"]}),
        ("UserRemoved", {"email": PAT}),
    )
    assert [e["type"] for e in revoked["events"]] == ["PartnerRevoked", "InvitationSuperseded", "UserRemoved"]
    after = views.access(rules, cid, T3)
    assert views.users(rules, cid, T3) == {JANE: "admin", BOB: "admin"}
    assert after["partners"] == []
    partner_invitations = [i for i in after["invitations"] if i["email"] in (PAT, PAT2)]
    assert {i["email"] for i in partner_invitations} == {PAT, PAT2}
    assert all(i["status"] != "pending" for i in partner_invitations)
    rules.when(command("AddRoom", T3, PAT, customer_id=cid, account_id=setup["account_id"], name="X", site="HQ",
                       country="US")).refused(rule="R17", field="actor", code="no_access")
    rules.when(command("AcceptInvitation", T3, PAT2, token=pending["invitation"]["token"])).refused(
        rule="R15", field="token", code="invitation_superseded")
