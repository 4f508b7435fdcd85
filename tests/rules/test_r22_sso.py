"""R22 single sign-on per customer: ConfigureSso / RemoveSso, who may, and what the access view shows.

Given a customer with its admin (and partners, viewers), when ConfigureSso or RemoveSso, then the
events it recorded (``SsoConfigured`` with issuer, audience and domains, no secret; ``SsoRemoved``) or
its refusal recording nothing (``tests/kit/rules.py``); what the customer trusts is read from the
access view (read model and as-of fold alike)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from ledger.app import LedgerApplication
from ledger.readside import as_of_view, catch_up, live_view, open_read_models
from projections.queries import sso_for_issuer
from tests.kit.commands import command
from tests.kit.helpers import JANE, accept, acme_with_admin, events, history, position, ts, types
from tests.kit.rules import Rules

T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"
T2 = "2026-05-06T09:00:00Z"
ISSUER = "https://login.acme.example"
PAT = "pat@avpartner.example"
VIC = "vic@acme.example"
DOMAINS = ["acme-labs.example", "acme.example"]  # as recorded: lower case, sorted
SETTINGS = {"issuer": ISSUER, "audience": "ledger-portal", "allowed_domains": DOMAINS}


def configure(cid: str, actor: str = JANE, at: str = T1, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "customer_id": cid,
        "issuer": ISSUER,
        "audience": "ledger-portal",
        "allowed_domains": ["ACME.example", "acme-labs.example"],
    }
    values.update(fields)
    return command("ConfigureSso", at, actor, **values)


def _acme(app: LedgerApplication) -> str:
    return str(acme_with_admin(app, at=T0)["customer_id"])


def _sso(rules: Rules, cid: str, at: str) -> Any:
    """What the access view (read model, checked equal to the as-of fold) shows as the customer's SSO."""
    return rules.view("access", cid, ts(at))[0]["sso"]


def test_r22_an_admin_configures_sso_and_the_event_carries_no_secret(app: LedgerApplication, rules: Rules) -> None:
    cid = _acme(app)
    result = rules.when(configure(cid)).then(("SsoConfigured", SETTINGS))
    assert types(result) == ["SsoConfigured"]
    [data] = events(app, cid, "SsoConfigured")
    assert data == {
        "issuer": ISSUER,
        "audience": "ledger-portal",
        "allowed_domains": ["acme-labs.example", "acme.example"],
    }
    assert [row["actor"] for row in history(app, cid) if row["type"] == "SsoConfigured"] == [JANE]
    assert _sso(rules, cid, T1) is not None
    assert _sso(rules, cid, T1) == SETTINGS


def test_r22_ops_may_configure_sso(app: LedgerApplication, rules: Rules) -> None:
    cid = _acme(app)
    result = rules.when(configure(cid, actor="ops")).then(("SsoConfigured", SETTINGS))
    assert types(result) == ["SsoConfigured"]
    assert [row["actor"] for row in history(app, cid) if row["type"] == "SsoConfigured"] == ["ops"]


def test_r17_r22_a_partner_user_even_admin_may_not_configure_or_remove_sso(
    app: LedgerApplication, rules: Rules
) -> None:
    cid = _acme(app)
    rules.given(
        command("RegisterPartner", T0, partner_id="avpartner", name="AV Partner Inc"),
        command("AddPartnerUser", T0, partner_id="avpartner", email=PAT),
        command("DelegatePartner", T0, JANE, customer_id=cid, partner_id="avpartner", role="admin"),
    )
    rules.refused(configure(cid, actor=PAT), rule="R17", field="actor")
    rules.given(configure(cid))
    rules.refused(command("RemoveSso", T2, PAT, customer_id=cid), rule="R17", field="actor")
    assert _sso(rules, cid, T2) == SETTINGS


def test_r16_r22_a_viewer_may_not_configure_sso(app: LedgerApplication, rules: Rules) -> None:
    cid = _acme(app)
    (invited,) = rules.given(command("InviteUser", T1, JANE, customer_id=cid, email=VIC, role="viewer"))
    accept(app, invited["invitation"]["token"], VIC, at=T1)
    rules.refused(configure(cid, actor=VIC, at=T2), rule="R17", field="actor")
    assert _sso(rules, cid, T2) is None


def test_r22_a_stranger_may_not_configure_sso(app: LedgerApplication, rules: Rules) -> None:
    cid = _acme(app)
    rules.refused(configure(cid, actor="someone@else.example"), rule="R17", field="actor")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"issuer": "http://login.acme.example"}, "issuer"),
        ({"issuer": "https://login.acme.example?tenant=1"}, "issuer"),
        ({"issuer": "not a url"}, "issuer"),
        ({"audience": " "}, "audience"),
        ({"allowed_domains": []}, "allowed_domains"),
        ({"allowed_domains": ["acme"]}, "allowed_domains"),
        ({"allowed_domains": ["@acme.example"]}, "allowed_domains"),
        ({"client_secret": "s3cret"}, "client_secret"),
    ],
)
def test_r22_unusable_sso_settings_are_refused_naming_the_field(
    app: LedgerApplication, rules: Rules, fields: dict[str, Any], field: str
) -> None:
    cid = _acme(app)
    error = rules.refused(configure(cid, **fields), rule="R22", field=field)
    assert "s3cret" not in error.message
    assert events(app, cid, "SsoConfigured") == []


def test_r22_configuring_the_same_again_records_nothing_and_a_change_records_it(
    app: LedgerApplication, rules: Rules
) -> None:
    cid = _acme(app)
    rules.given(configure(cid))
    before = position(app)
    same = rules.when(configure(cid, allowed_domains=["acme-labs.example", "acme.example"])).then(only=None)
    assert types(same) == []
    assert position(app) == before
    changed = rules.when(configure(cid, audience="another-client", at=T2)).then(
        ("SsoConfigured", {**SETTINGS, "audience": "another-client"})
    )
    assert types(changed) == ["SsoConfigured"]
    sso = _sso(rules, cid, T2)
    assert sso is not None and sso["audience"] == "another-client"


def test_r22_remove_sso_and_removing_twice_is_refused(app: LedgerApplication, rules: Rules) -> None:
    cid = _acme(app)
    rules.given(configure(cid))
    removed = rules.when(command("RemoveSso", T2, JANE, customer_id=cid)).then(("SsoRemoved", {"issuer": ISSUER}))
    assert types(removed) == ["SsoRemoved"]
    assert events(app, cid, "SsoRemoved")[0]["issuer"] == ISSUER
    assert _sso(rules, cid, T2) is None
    error = rules.refused(command("RemoveSso", T2, JANE, customer_id=cid), rule="R22", field="customer_id",
                          code="sso_not_configured")
    assert error.message == "customer_id: this customer has no single sign-on configured (R22)"


def test_r22_the_access_view_shows_sso_live_and_as_of(app: LedgerApplication, rules: Rules) -> None:
    cid = _acme(app)
    rules.given(configure(cid), command("RemoveSso", T2, JANE, customer_id=cid))
    models = open_read_models(app)
    catch_up(app, models)
    expected = {"issuer": ISSUER, "audience": "ledger-portal", "allowed_domains": ["acme-labs.example", "acme.example"]}
    assert live_view(app, models, "access", ts(T2), UUID(cid))[0]["sso"] is None
    assert as_of_view(app, "access", ts(T1), UUID(cid))[0]["sso"] == expected
    assert as_of_view(app, "access", ts(T0), UUID(cid))[0]["sso"] is None
    assert as_of_view(app, "access", ts(T2), UUID(cid)) == live_view(app, models, "access", ts(T2), UUID(cid))


def test_r22_the_read_side_finds_the_customers_trusting_an_issuer(app: LedgerApplication, rules: Rules) -> None:
    acme = _acme(app)
    globex = str(acme_with_admin(app, po="PO-GLOBEX-1", at=T0, company="Globex Ltd")["customer_id"])
    rules.given(configure(acme), configure(globex, actor="ops", allowed_domains=["globex.example"]))
    models = open_read_models(app)
    catch_up(app, models)
    found = sorted(sso_for_issuer(models.engine, ISSUER), key=lambda r: r["allowed_domains"])
    assert [(r["customer_id"], r["allowed_domains"]) for r in found] == [
        (acme, ["acme-labs.example", "acme.example"]),
        (globex, ["globex.example"]),
    ]
    assert sso_for_issuer(models.engine, ISSUER + "/") == []
    live = live_view(app, models, "access", ts(T2), UUID(acme))[0]["sso"]
    assert live == as_of_view(app, "access", ts(T2), UUID(acme))[0]["sso"]


def test_r22_the_access_view_reads_sso_the_same_from_a_snapshot(app: LedgerApplication, rules: Rules) -> None:
    """Enough changes for a snapshot (every 100 versions); the as-of access view (built from the
    snapshot) shows the SSO as the read model does, in a fresh application too."""
    cid = _acme(app)
    for n in range(100):
        audience = f"client-{n % 2}"
        rules.when(configure(cid, audience=audience)).then(("SsoConfigured", {**SETTINGS, "audience": audience}))
    assert app.snapshots is not None and list(app.snapshots.get(UUID(cid)))
    expected = {**SETTINGS, "audience": "client-1"}
    assert _sso(rules, cid, T1) == expected
    fresh = LedgerApplication(app.settings)
    try:
        assert as_of_view(fresh, "access", ts(T1), UUID(cid)) == rules.view("access", cid, ts(T1))
        assert as_of_view(fresh, "access", ts(T1), UUID(cid))[0]["sso"] == expected
    finally:
        fresh.close()
