"""R21/R22 values without I/O: LEDGER_OIDC_ISSUERS, issuer URLs and e-mail domains."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.sso import domain_allowed, email_domain, issuer_problem, normalise_domain
from ledger.config import ConfigurationError, OidcIssuer, load_oidc_settings, parse_oidc_issuers


def test_r21_operator_issuers_are_read_from_json() -> None:
    raw = '[{"issuer": "https://login.select.example", "audience": "ledger-portal"}]'
    assert parse_oidc_issuers(raw) == (OidcIssuer("https://login.select.example", "ledger-portal"),)
    assert parse_oidc_issuers(None) == () and parse_oidc_issuers("  ") == ()


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ("not json", "LEDGER_OIDC_ISSUERS: not JSON"),
        ('{"issuer": "https://a.example"}', "expected a JSON list"),
        ('[{"issuer": "https://a.example"}]', "LEDGER_OIDC_ISSUERS[0]: expected exactly the keys"),
        ('[{"issuer": "http://idp.example", "audience": "x"}]', "LEDGER_OIDC_ISSUERS[0].issuer"),
        ('[{"issuer": "https://a.example", "audience": ""}]', "LEDGER_OIDC_ISSUERS[0].audience"),
        ('[{"issuer": 3, "audience": "x"}]', "is not a string"),
    ],
)
def test_r21_unusable_issuer_settings_name_the_setting(raw: str, names: str) -> None:
    with pytest.raises(ConfigurationError, match=r".*") as info:
        parse_oidc_issuers(raw)
    assert names in str(info.value)


def test_r21_leeway_is_bounded() -> None:
    assert load_oidc_settings({}).leeway_seconds == 60
    with pytest.raises(ConfigurationError, match="LEDGER_OIDC_LEEWAY"):
        load_oidc_settings({"LEDGER_OIDC_LEEWAY": "3600"})


@pytest.mark.parametrize(
    ("issuer", "ok"),
    [
        ("https://login.acme.example", True),
        ("https://login.acme.example/tenant/1", True),
        ("http://127.0.0.1:4001", True),
        ("http://localhost:4001", True),
        ("http://login.acme.example", False),
        ("https://login.acme.example?x=1", False),
        ("https://user:pw@login.acme.example", False),
        ("ftp://login.acme.example", False),
        ("login.acme.example", False),
    ],
)
def test_r22_issuer_urls_are_https_or_loopback(issuer: str, ok: bool) -> None:
    assert (issuer_problem(issuer) is None) is ok


def test_r22_domains_are_normalised_and_matched_exactly() -> None:
    assert normalise_domain(" ACME.Example. ") == "acme.example"
    for bad in ("", "acme", "-acme.example", "acme..example", "a b.example", "@acme.example"):
        with pytest.raises(ValueError):
            normalise_domain(bad)
    allowed = ("acme.example",)
    assert domain_allowed("It@ACME.example", allowed)
    assert not domain_allowed("it@eu.acme.example", allowed)
    assert not domain_allowed("it@acme.example.evil.example", allowed)


@given(st.emails())
def test_r22_the_domain_of_an_email_is_its_part_after_the_last_at(email: str) -> None:
    assert email_domain(email) == email.rsplit("@", 1)[1].lower().rstrip(".")
    assert domain_allowed(email.upper(), (email_domain(email),))
