"""R15 portal invitations: first order invites the end customer, 30 days, not forwardable, resend.

Given a customer's first order, when an invitation is sent or accepted, then the events it recorded
(with their data) or its refusal (``tests/kit/rules.py``); the customer's users afterwards are read
from the access view (read model = as-of fold), not from the aggregate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from commands.tokens import read_token
from ledger.app import LedgerApplication
from tests.kit.app import SECRET
from tests.kit.commands import DISTRIBUTOR, RESELLER, command, order, run
from tests.kit.helpers import JANE, MAY, events, history, place, refused, types
from tests.kit.rules import Rules
from tests.kit.views import users

BOB = "bob.smith@acme.example"


def _accept_cmd(token: str, actor: str, at: str) -> dict[str, Any]:
    return command("AcceptInvitation", at, actor, token=token)


def test_r15_first_order_invites_the_end_customer_only(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", email=JANE)
    assert types(result).count("InvitationSent") == 1
    sent = events(app, result["customer_id"], "InvitationSent")
    assert [(e["email"], e["role"], e["po_number"]) for e in sent] == [(JANE, "admin", "PO-1")]
    invited = {e["email"] for e in sent}
    assert RESELLER["email"] not in invited and DISTRIBUTOR["email"] not in invited
    assert result["invitation"]["email"] == JANE


def test_r15_invitation_valid_30_days(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    assert result["invitation"]["expires_at"] == "2026-06-03T09:00:00+00:00"
    assert events(app, result["customer_id"], "InvitationSent")[0]["expires_at"] == "2026-06-03T09:00:00+00:00"


def test_r15_later_orders_send_no_invitation(app: LedgerApplication) -> None:
    first = place(app, po="PO-1")
    second = place(app, po="PO-2", email="someone.else@acme.example", at="2026-05-05T09:00:00Z")
    assert "invitation" not in second
    assert "InvitationSent" not in types(second)
    assert len(events(app, first["customer_id"], "InvitationSent")) == 1


def test_r15_token_names_the_customer_and_is_never_recorded(app: LedgerApplication, db_url: str) -> None:
    result = place(app, po="PO-1")
    token = result["invitation"]["token"]
    customer_id, invitation_id = read_token(SECRET.encode(), token)
    assert str(customer_id) == result["customer_id"]
    assert events(app, result["customer_id"], "InvitationSent")[0]["invitation_id"] == str(invitation_id)
    assert token not in repr(history(app, result["customer_id"]))
    stored = list(Path(db_url).parent.glob(Path(db_url).name + "*")) if "://" not in db_url else []
    for file in stored:  # the SQLite backend: neither the database nor its journal holds the token
        assert token[4:].encode() not in file.read_bytes()
    assert "://" in db_url or stored, "the SQLite store was found and scanned"


def test_r15_accepting_makes_the_person_an_admin(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    accepted = rules.when(_accept_cmd(result["invitation"]["token"], JANE, "2026-05-10T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    assert types(accepted) == ["InvitationAccepted"]
    assert users(rules, result["customer_id"], "2026-05-10T09:00:00Z") == {JANE: "admin"}
    assert events(app, result["customer_id"], "InvitationAccepted")[0]["email"] == JANE
    rows = [r for r in history(app, result["customer_id"]) if r["type"] == "InvitationAccepted"]
    assert rows[0]["actor"] == JANE


def test_r15_accept_with_differently_cased_email_accepted(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    rules.when(_accept_cmd(result["invitation"]["token"], "Jane.Doe@ACME.example", "2026-05-10T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    assert users(rules, result["customer_id"], "2026-05-10T09:00:00Z") == {JANE: "admin"}


def test_r15_accept_on_the_last_valid_moment_accepted(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    rules.when(_accept_cmd(result["invitation"]["token"], JANE, "2026-06-03T08:59:59Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    assert users(rules, result["customer_id"], "2026-06-03T08:59:59Z") == {JANE: "admin"}


def test_r15_expired_invitation_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    rules.refused(
        _accept_cmd(result["invitation"]["token"], JANE, "2026-06-03T09:00:00Z"),
        rule="R15",
        field="token",
        code="invitation_expired",
    )
    assert users(rules, result["customer_id"], "2026-06-03T09:00:00Z") == {}


def test_r15_forwarded_invitation_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    rules.refused(
        _accept_cmd(result["invitation"]["token"], BOB, "2026-05-10T09:00:00Z"),
        rule="R15",
        field="actor",
        code="invitation_not_for_you",
    )
    assert users(rules, result["customer_id"], "2026-05-10T09:00:00Z") == {}


def test_r15_ops_cannot_accept_an_invitation(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    rules.refused(_accept_cmd(result["invitation"]["token"], "ops", "2026-05-10T09:00:00Z"), rule="R15", field="actor")


def test_r15_forged_token_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    token = result["invitation"]["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    rules.refused(_accept_cmd(forged, JANE, "2026-05-10T09:00:00Z"), rule="R15", field="token")
    rules.refused(_accept_cmd("inv_nonsense", JANE, "2026-05-10T09:00:00Z"), rule="R15", field="token")


def test_r15_token_of_another_ledger_key_refused(make_app: Callable[..., LedgerApplication]) -> None:
    app = make_app()
    result = place(app, po="PO-1")
    other = make_app(LEDGER_SECRET_KEY="another-secret")
    refused(other, _accept_cmd(result["invitation"]["token"], JANE, "2026-05-10T09:00:00Z"), rule="R15", field="token")


def test_r15_invitation_accepted_only_once(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    rules.when(_accept_cmd(result["invitation"]["token"], JANE, "2026-05-10T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    rules.refused(
        _accept_cmd(result["invitation"]["token"], JANE, "2026-05-11T09:00:00Z"),
        rule="R15",
        field="token",
        code="invitation_accepted",
    )


def test_r15_resend_supersedes_the_old_token(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    cid = result["customer_id"]
    old = result["invitation"]["token"]
    resent = run(app, command("SendInvitation", "2026-05-20T09:00:00Z", customer_id=cid, email=JANE))
    new = resent["invitation"]["token"]
    assert new != old
    assert types(resent) == ["InvitationSuperseded", "InvitationSent"]
    assert resent["invitation"]["expires_at"] == "2026-06-19T09:00:00+00:00"
    rules.refused(
        _accept_cmd(old, JANE, "2026-05-21T09:00:00Z"),
        rule="R15",
        field="token",
        code="invitation_superseded",
    )
    rules.when(_accept_cmd(new, JANE, "2026-05-21T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    assert users(rules, cid, "2026-05-21T09:00:00Z") == {JANE: "admin"}


def test_r15_resend_after_expiry_gives_a_fresh_30_days(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    cid = result["customer_id"]
    resent = run(app, command("SendInvitation", "2026-07-01T09:00:00Z", customer_id=cid, email=JANE))
    rules.when(_accept_cmd(resent["invitation"]["token"], JANE, "2026-07-30T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    assert users(rules, cid, "2026-07-30T09:00:00Z") == {JANE: "admin"}


def test_r15_additional_person_may_be_invited(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    cid = result["customer_id"]
    rules.when(_accept_cmd(result["invitation"]["token"], JANE, "2026-05-05T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    sent = run(app, command("SendInvitation", "2026-05-06T09:00:00Z", JANE, customer_id=cid, email=BOB))
    assert sent["invitation"]["email"] == BOB
    assert types(sent) == ["InvitationSent"]  # Jane's accepted invitation is not superseded
    rules.when(_accept_cmd(sent["invitation"]["token"], BOB, "2026-05-07T09:00:00Z")).then(
        ("InvitationAccepted", {"email": BOB})
    )
    assert users(rules, cid, "2026-05-07T09:00:00Z") == {JANE: "admin", BOB: "admin"}


def test_r15_invitation_to_an_existing_user_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    cid = result["customer_id"]
    rules.when(_accept_cmd(result["invitation"]["token"], JANE, "2026-05-05T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    rules.refused(
        command("SendInvitation", "2026-05-06T09:00:00Z", customer_id=cid, email=JANE),
        rule="R15",
        field="email",
        code="already_a_user",
    )


def test_r15_invitation_for_an_unknown_customer_refused(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    rules.refused(
        command("SendInvitation", MAY, customer_id=str(UUID(int=7)), email=BOB),
        rule="R1",
        field="customer_id",
    )


def test_r15_invalid_email_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    rules.refused(
        command("SendInvitation", MAY, customer_id=result["customer_id"], email="bob"),
        rule="R15",
        field="email",
    )


def test_r15_resubmitted_first_order_returns_a_still_working_token(app: LedgerApplication, rules: Rules) -> None:
    raw = order(po="PO-1")
    first = run(app, raw)
    again = run(app, raw)
    assert again["invitation"] == first["invitation"]
    rules.when(_accept_cmd(again["invitation"]["token"], JANE, "2026-05-05T09:00:00Z")).then(
        ("InvitationAccepted", {"email": JANE})
    )
    assert users(rules, first["customer_id"], "2026-05-05T09:00:00Z") == {JANE: "admin"}
