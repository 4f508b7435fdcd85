"""R17 least privilege: a partner's users, even admins, never touch the customer's own access."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import command, run
from tests.kit.helpers import JANE, accept, acme_with_admin, add_room, customer, refused

PAT = "pat@avpartner.example"
PAT2 = "pat2@avpartner.example"
BOB = "bob.admin@acme.example"
T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"
T2 = "2026-05-06T09:00:00Z"
T3 = "2026-05-07T09:00:00Z"


def _delegated(app: LedgerApplication, role: str = "admin") -> dict[str, Any]:
    """Acme with two own admins (Jane, Bob) and the partner delegated with ``role``."""
    setup = acme_with_admin(app, at=T0)
    cid = setup["customer_id"]
    bob = run(app, command("InviteUser", T0, JANE, customer_id=cid, email=BOB, role="admin"))
    accept(app, bob["invitation"]["token"], BOB, at=T0)
    run(app, command("RegisterPartner", T0, partner_id="avpartner", name="AV Partner Inc"))
    run(app, command("AddPartnerUser", T0, partner_id="avpartner", email=PAT))
    run(app, command("AddPartnerUser", T0, partner_id="avpartner", email=PAT2))
    run(app, command("DelegatePartner", T1, JANE, customer_id=cid, partner_id="avpartner", role=role))
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
def test_r17_partner_user_never_touches_the_customers_access(app: LedgerApplication, role: str, index: int) -> None:
    setup = _delegated(app, role)
    raw = _access_commands(setup["customer_id"], PAT)[index]
    error = refused(app, raw, rule="R17", field="actor")
    assert any(words in error.message for words in ("partner never touches", "admin of the customer itself"))
    assert customer(app, setup["customer_id"]).users == {JANE: "admin", BOB: "admin"}


def test_r17_partner_admin_still_works_rooms(app: LedgerApplication) -> None:
    setup = _delegated(app)
    room = add_room(app, setup["customer_id"], setup["account_id"], "Huddle", at=T2, actor=PAT)
    run(app, command("AssignLicense", T2, PAT, customer_id=setup["customer_id"], room_id=room, po_number="PO-ACME-1"))


def test_r17_own_admins_and_ops_still_manage_access(app: LedgerApplication) -> None:
    setup = _delegated(app)
    cid = setup["customer_id"]
    for raw in (
        command("InviteUser", T2, JANE, customer_id=cid, email="v@acme.example", role="viewer"),
        command("ChangeRole", T2, BOB, customer_id=cid, email=JANE, role="viewer"),
        command("ChangeRole", T2, "ops", customer_id=cid, email=JANE, role="admin"),
        command("SendInvitation", T2, "ops", customer_id=cid, email="w@acme.example"),
    ):
        assert run(app, raw)["ok"]


def test_r17_take_over_sequence_refused_and_revocation_leaves_nothing_behind(app: LedgerApplication) -> None:
    """The reported take-over: invite itself, accept, remove the second admin, demote the first."""
    setup = _delegated(app)
    cid = setup["customer_id"]
    refused(app, command("InviteUser", T2, PAT, customer_id=cid, email=PAT, role="admin"), rule="R17", field="actor")
    refused(app, command("RemoveUser", T2, PAT, customer_id=cid, email=BOB), rule="R17", field="actor")
    refused(app, command("ChangeRole", T2, PAT, customer_id=cid, email=JANE, role="viewer"), rule="R17", field="actor")
    # Even where a customer admin once gave a partner's user its own access, revoking the partner
    # takes that away too: nothing of the partner stays behind.
    invited = run(app, command("InviteUser", T2, JANE, customer_id=cid, email=PAT, role="admin"))
    accept(app, invited["invitation"]["token"], PAT, at=T2)
    pending = run(app, command("InviteUser", T2, JANE, customer_id=cid, email=PAT2, role="viewer"))
    assert pending["ok"]
    revoked = run(app, command("RevokePartner", T3, JANE, customer_id=cid, partner_id="avpartner"))
    assert [e["type"] for e in revoked["events"]] == ["PartnerRevoked", "InvitationSuperseded", "UserRemoved"]
    after = customer(app, cid)
    assert after.users == {JANE: "admin", BOB: "admin"}
    assert after.partners == {}
    assert all(i.state != "pending" for i in after.invitations.values() if i.email in (PAT, PAT2))
    refused(app, command("AddRoom", T3, PAT, customer_id=cid, account_id=setup["account_id"], name="X", site="HQ",
                     country="US"), rule="R17", field="actor")
    refused(app, command("AcceptInvitation", T3, PAT2, token=pending["invitation"]["token"]), rule="R15",
            field="token")
