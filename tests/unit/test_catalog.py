"""Pure catalog helpers: name and address normalisation, group mailboxes, products, countries."""

from __future__ import annotations

import pytest

from aggregates.catalog import (
    CountryTable,
    canonical_product,
    is_group_mailbox,
    normalise_address,
    normalise_company,
)


@pytest.mark.parametrize(
    "name",
    [
        "Acme Corp",
        "ACME, Inc.",
        "acme",
        "  Acme   Corporation ",
        "Acme LLC",
        "Acme L.L.C.",
        "Acme GmbH",
        "Acme SA",
        "Acme S.A.",
        "Acme S.p.A.",
        "Acme B.V.",
        "Acme Ltd.",
        "Acme Co., Ltd.",
    ],
)
def test_r1_normalise_company_ignores_case_punctuation_and_suffixes(name: str) -> None:
    assert normalise_company(name) == "acme"


def test_r1_normalise_company_strips_stacked_suffixes() -> None:
    assert normalise_company("Acme Holdings Group Inc.") == "acme"


def test_r1_normalise_company_reads_dotted_initials_as_one_word() -> None:
    assert normalise_company("A.B. Dick Company") == normalise_company("AB Dick Co")
    assert normalise_company("A. B. Dick") == "ab dick"


def test_r1_normalise_company_keeps_distinguishing_words() -> None:
    assert normalise_company("Acme Industries") == "acme industries"
    assert normalise_company("Acme Industries") != normalise_company("Acme Corp")


def test_r1_normalise_company_keeps_a_name_that_is_only_a_suffix_word() -> None:
    # The last word is never removed, so "Group" alone is still a name.
    assert normalise_company("Group") == "group"


def test_r1_normalise_company_folds_accents_and_ampersand() -> None:
    assert normalise_company("Société Générale SA") == "societe generale"
    assert normalise_company("Procter & Gamble Co.") == normalise_company("procter and gamble")


def test_r1_normalise_company_of_punctuation_only_is_empty() -> None:
    assert normalise_company("!!!") == ""


def test_r2_normalise_address_ignores_case_punctuation_and_abbreviations() -> None:
    a = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
    b = {"line1": "1 MAIN ST.", "city": "springfield ", "postal_code": "12345", "country": "us", "line2": None}
    assert normalise_address(a) == normalise_address(b)


def test_r2_normalise_address_distinguishes_sites() -> None:
    hq = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
    site = {**hq, "line2": "Building 7"}
    other_city = {**hq, "city": "Shelbyville"}
    assert normalise_address(hq) != normalise_address(site)
    assert normalise_address(hq) != normalise_address(other_city)


@pytest.mark.parametrize(
    "email",
    [
        "it@acme.example",
        "IT@acme.example",
        "support@acme.example",
        "helpdesk@acme.example",
        "admin@acme.example",
        "info@acme.example",
        "team@acme.example",
        "office@acme.example",
        "group@acme.example",
        "noreply@acme.example",
        "no-reply@acme.example",
        "it.support@acme.example",
        "support+select@acme.example",
    ],
)
def test_r3_group_mailbox_detected(email: str) -> None:
    assert is_group_mailbox(email)


@pytest.mark.parametrize(
    "email", ["jane.doe@acme.example", "italo@acme.example", "j.support@acme.example", "teamlead.bob@acme.example"]
)
def test_r3_individual_mailbox_not_flagged(email: str) -> None:
    assert not is_group_mailbox(email)


def test_r11_canonical_product_matches_supported_list_loosely() -> None:
    assert canonical_product("rally bar") == "Rally Bar"
    assert canonical_product("RALLY-BAR-MINI") == "Rally Bar Mini"
    assert canonical_product("Tap and Tap IP") == "Tap and Tap IP"
    assert canonical_product("tap & tap ip") == "Tap and Tap IP"


def test_r11_canonical_product_unknown_is_none() -> None:
    assert canonical_product("Rally Bar Huddle 3000") is None
    assert canonical_product("MX Master") is None


def test_r12_default_country_table_marks_sanctioned_countries_unavailable() -> None:
    table = CountryTable.default()
    for code in ("KP", "IR", "CU", "SY"):
        terms = table.get(code)
        assert terms is not None
        assert terms.available is False
    assert len(table.codes()) >= 240


def test_r12_default_country_table_has_terms_for_available_countries() -> None:
    table = CountryTable.default()
    de = table.get("de")
    assert de is not None
    assert de.available is True
    assert de.rma
    assert "de" in de.support_languages
    assert "DE" in table
    assert "de" in table
    assert "XX" not in table
    assert table.get("XX") is None


def test_r12_country_overrides_merge_without_touching_the_original() -> None:
    base = CountryTable.default()
    edited = base.with_overrides({"de": {"available": False}, "KP": {"available": True, "rma": "courier"}})
    de, kp = edited.get("DE"), edited.get("KP")
    assert de is not None and kp is not None
    assert de.available is False
    assert de.support_languages == ("en", "de")  # untouched terms survive an override
    assert kp.available is True and kp.rma == "courier"
    base_de = base.get("DE")
    assert base_de is not None and base_de.available is True


def test_r12_country_overrides_may_add_a_country() -> None:
    edited = CountryTable.default().with_overrides({"XK": {"name": "Kosovo", "available": True}})
    xk = edited.get("XK")
    assert xk is not None
    assert xk.name == "Kosovo" and xk.available is True
    assert xk.as_dict()["country"] == "XK"
