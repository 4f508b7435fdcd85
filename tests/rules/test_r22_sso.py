"""R22 single sign-on per customer: ConfigureSso / RemoveSso, who may, and what the access view shows."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from aggregates.customer import Customer
from ledger.app import LedgerApplication
from ledger.readside import as_of_view, catch_up, live_view, open_read_models
from projections.queries import sso_for_issuer
from tests.kit.commands import command, run
from tests.kit.helpers import JANE, accept, acme_with_admin, events, history, position, refused, ts, types

T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"
T2 = "2026-05-06T09:00:00Z"
ISSUER = "https://login.acme.example"
PAT = "pat@avpartner.example"
VIC = "vic@acme.example"


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


def test_r22_an_admin_configures_sso_and_the_event_carries_no_secret(app: LedgerApplication) -> None:
    cid = _acme(app)
    result = run(app, configure(cid))
    assert types(result) == ["SsoConfigured"]
    [data] = events(app, cid, "SsoConfigured")
    assert data == {
        "issuer": ISSUER,
        "audience": "ledger-portal",
        "allowed_domains": ["acme-labs.example", "acme.example"],
    }
    assert [row["actor"] for row in history(app, cid) if row["type"] == "SsoConfigured"] == [JANE]
    assert app.customer(UUID(cid)).sso is not None


def test_r22_ops_may_configure_sso(app: LedgerApplication) -> None:
    cid = _acme(app)
    assert types(run(app, configure(cid, actor="ops"))) == ["SsoConfigured"]


def test_r17_r22_a_partner_user_even_admin_may_not_configure_or_remove_sso(app: LedgerApplication) -> None:
    cid = _acme(app)
    run(app, command("RegisterPartner", T0, partner_id="avpartner", name="AV Partner Inc"))
    run(app, command("AddPartnerUser", T0, partner_id="avpartner", email=PAT))
    run(app, command("DelegatePartner", T0, JANE, customer_id=cid, partner_id="avpartner", role="admin"))
    refused(app, configure(cid, actor=PAT), rule="R17", field="actor")
    run(app, configure(cid))
    refused(app, command("RemoveSso", T2, PAT, customer_id=cid), rule="R17", field="actor")


def test_r16_r22_a_viewer_may_not_configure_sso(app: LedgerApplication) -> None:
    cid = _acme(app)
    invited = run(app, command("InviteUser", T1, JANE, customer_id=cid, email=VIC, role="viewer"))
    accept(app, invited["invitation"]["token"], VIC, at=T1)
    refused(app, configure(cid, actor=VIC, at=T2), rule="R17", field="actor")


def test_r22_a_stranger_may_not_configure_sso(app: LedgerApplication) -> None:
    cid = _acme(app)
    refused(app, configure(cid, actor="someone@else.example"), rule="R17", field="actor")


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
    app: LedgerApplication, fields: dict[str, Any], field: str
) -> None:
    cid = _acme(app)
    error = refused(app, configure(cid, **fields), rule="R22", field=field)
    assert "s3cret" not in error.message


def test_r22_configuring_the_same_again_records_nothing_and_a_change_records_it(app: LedgerApplication) -> None:
    cid = _acme(app)
    run(app, configure(cid))
    before = position(app)
    assert types(run(app, configure(cid, allowed_domains=["acme-labs.example", "acme.example"]))) == []
    assert position(app) == before
    assert types(run(app, configure(cid, audience="another-client", at=T2))) == ["SsoConfigured"]
    sso = app.customer(UUID(cid)).sso
    assert sso is not None and sso.audience == "another-client"


def test_r22_remove_sso_and_removing_twice_is_refused(app: LedgerApplication) -> None:
    cid = _acme(app)
    run(app, configure(cid))
    assert types(run(app, command("RemoveSso", T2, JANE, customer_id=cid))) == ["SsoRemoved"]
    assert events(app, cid, "SsoRemoved")[0]["issuer"] == ISSUER
    assert app.customer(UUID(cid)).sso is None
    error = refused(app, command("RemoveSso", T2, JANE, customer_id=cid), rule="R22", field="customer_id",
                    code="sso_not_configured")
    assert error.message == "customer_id: this customer has no single sign-on configured (R22)"


def test_r22_the_access_view_shows_sso_live_and_as_of(app: LedgerApplication) -> None:
    cid = _acme(app)
    run(app, configure(cid))
    run(app, command("RemoveSso", T2, JANE, customer_id=cid))
    models = open_read_models(app)
    catch_up(app, models)
    expected = {"issuer": ISSUER, "audience": "ledger-portal", "allowed_domains": ["acme-labs.example", "acme.example"]}
    assert live_view(app, models, "access", ts(T2), UUID(cid))[0]["sso"] is None
    assert as_of_view(app, "access", ts(T1), UUID(cid))[0]["sso"] == expected
    assert as_of_view(app, "access", ts(T0), UUID(cid))[0]["sso"] is None
    assert as_of_view(app, "access", ts(T2), UUID(cid)) == live_view(app, models, "access", ts(T2), UUID(cid))


def test_r22_the_read_side_finds_the_customers_trusting_an_issuer(app: LedgerApplication) -> None:
    acme = _acme(app)
    globex = str(acme_with_admin(app, po="PO-GLOBEX-1", at=T0, company="Globex Ltd")["customer_id"])
    run(app, configure(acme))
    run(app, configure(globex, actor="ops", allowed_domains=["globex.example"]))
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


def test_r22_sso_survives_a_snapshot(app: LedgerApplication) -> None:
    cid = _acme(app)
    run(app, configure(cid))
    customer = app.customer(UUID(cid))
    snapshot = Customer.Snapshot.take(customer)
    restored = snapshot.mutate(None)
    assert restored.sso == customer.sso
    assert isinstance(restored.sso.allowed_domains, tuple)
