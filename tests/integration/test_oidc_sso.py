"""R21/R22 end to end below HTTP: customers configure SSO with commands, the access read model feeds the
verifier, and real tokens from the provider's issuers act only on the customers that trust them."""

from __future__ import annotations

from uuid import UUID

import pytest

from ledger.app import LedgerApplication
from ledger.auth.oidc import OidcVerifier, ProjectedSso, TokenRejected
from ledger.config import OidcIssuer, OidcSettings
from ledger.readside import catch_up, open_read_models
from tests.kit.commands import order, run
from tests.kit.idp import Idp
from tests.kit.idp import idp as idp  # the session fixture

pytestmark = pytest.mark.integration

T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"


def _customer(app: LedgerApplication, company: str, admin: str, po: str) -> str:
    placed = run(app, order(po=po, at=T0, company=company, email=admin))
    run(app, {"command": "AcceptInvitation", "at": T0, "actor": admin, "token": placed["invitation"]["token"]})
    return str(placed["customer_id"])


def _configure(app: LedgerApplication, cid: str, admin: str, idp: Idp, name: str, *domains: str) -> None:
    run(app, {"command": "ConfigureSso", "at": T1, "actor": admin, "customer_id": cid,
              "issuer": idp[name].issuer, "audience": idp[name].client_id, "allowed_domains": list(domains)})


def test_r22_a_token_from_customer_as_idp_does_not_act_on_customer_b(app: LedgerApplication, idp: Idp) -> None:
    a = _customer(app, "Acme Corp", "jane@acme.example", "PO-A")
    b = _customer(app, "Globex Ltd", "hank@globex.example", "PO-B")
    _configure(app, a, "jane@acme.example", idp, "acme", "acme.example")
    _configure(app, b, "hank@globex.example", idp, "globex", "globex.example")
    models = open_read_models(app)
    catch_up(app, models)
    operator = OidcIssuer(issuer=idp.operator.issuer, audience=idp.operator.client_id)
    verifier = OidcVerifier(OidcSettings(issuers=(operator,)), ProjectedSso(models.engine))

    from_a = verifier.verify(idp.login("jane@acme.example", "acme"))
    from_b = verifier.verify(idp.login("hank@globex.example", "globex"))
    from_operator = verifier.verify(idp.login("jane@acme.example"))

    assert from_a.email == "jane@acme.example" and from_a.customers == frozenset({a})
    assert not from_a.may_act_on(b)
    assert from_b.customers == frozenset({b}) and not from_b.may_act_on(a)
    assert from_operator.customers is None and from_operator.may_act_on(a) and from_operator.may_act_on(b)

    # acme's IdP vouching for a globex address does not make it act on globex (domain not allowed by A)
    with pytest.raises(TokenRejected):
        verifier.verify(idp.login("hank@globex.example", "acme"))

    # once A removes SSO, its issuer's tokens are no longer accepted
    run(app, {"command": "RemoveSso", "at": T1, "actor": "jane@acme.example", "customer_id": a})
    catch_up(app, models)
    with pytest.raises(TokenRejected) as info:
        verifier.verify(idp.login("jane@acme.example", "acme"))
    assert info.value.reason == "the issuer is not trusted"
    assert app.customer(UUID(a)).sso is None
