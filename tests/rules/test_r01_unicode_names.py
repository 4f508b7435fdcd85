"""R1, R2, R9 matching is Unicode-aware; Latin-script keys are exactly what they were; no control characters.

The normalisation itself is checked as pure functions; through the application: given earlier orders
(and rooms), when an order or AddRoom, then the events it recorded (a new customer's ``Registered``
with its name, ``AccountOpened``, ``OrderPlaced`` on the matched account, ``RoomAdded``) or its
refusal recording nothing (``tests/kit/rules.py``); names and rooms are read from the views."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.catalog import _ADDRESS_WORDS, LEGAL_SUFFIXES, normalise_address, normalise_company, normalise_name
from tests.kit.commands import command, order
from tests.kit.helpers import ts
from tests.kit.rules import Rules

MAY = "2026-05-04T09:00:00Z"


def _new_customer(rules: Rules, raw: dict[str, Any], name: str) -> dict[str, Any]:
    """When ``raw`` (an order): it registered a new customer named ``name`` with its account and admin."""
    return rules.when(raw).then(
        ("Registered", {"name": name}), "AccountOpened", ("OrderPlaced", {"po_number": raw["po_number"]}),
        "InvitationSent",
    )


def _room(cid: str, aid: str, name: str) -> dict[str, Any]:
    return command("AddRoom", MAY, customer_id=cid, account_id=aid, name=name, site="HQ", country="US")


# ----- the normalisation used before it was Unicode-aware (the reference for Latin-script text)


def _legacy_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("&", " and ")
    return re.findall(r"[a-z0-9]+", folded)


def _legacy_join_initials(words: list[str]) -> list[str]:
    joined: list[str] = []
    previous_single = False
    for word in words:
        single = len(word) == 1
        if single and previous_single:
            joined[-1] += word
        else:
            joined.append(word)
        previous_single = single
    return joined


def legacy_company(name: str) -> str:
    words = _legacy_join_initials(_legacy_words(name))
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def legacy_name(name: str) -> str:
    return " ".join(_legacy_words(name))


def legacy_address(address: Mapping[str, Any]) -> str:
    parts = []
    for key in ("line1", "line2", "city", "region", "postal_code", "country"):
        value = address.get(key) or ""
        parts.append(" ".join(_ADDRESS_WORDS.get(w, w) for w in _legacy_words(str(value))))
    return "|".join(parts)


def _latin_script(char: str) -> bool:
    """Characters of Latin-script text: anything with an ASCII form, or that is (even compatibility-
    normalised) no letter or digit of another script."""
    if unicodedata.normalize("NFKD", char).encode("ascii", "ignore"):
        return True
    for part in unicodedata.normalize("NFKC", char):
        category = unicodedata.category(part)
        if category == "Nd" and not part.isascii():
            return False
        if category[0] in "LN" and not unicodedata.name(part, "").startswith("LATIN"):
            return False
    return True


LATIN_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcxyzABCXYZ0123456789 .,&-'\"/()éÉüÜßøØłŁçÇñÑæÆœŒİı–—€«»ﬁＡｂ①™№\u0301\u00a0"),
        st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "M")).filter(_latin_script),
    ),
    max_size=40,
)


@settings(max_examples=600, deadline=None)
@given(text=LATIN_TEXT)
def test_r1_r2_r9_latin_script_keys_unchanged(text: str) -> None:
    """No customer, account or room id derived from Latin-script text moves (nothing migrated silently)."""
    assert normalise_company(text) == legacy_company(text)
    assert normalise_name(text) == legacy_name(text)
    address = {"line1": text, "city": text[::-1], "postal_code": "12345", "country": "DE"}
    assert normalise_address(address) == legacy_address(address)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Acme Corp", "ACME, Inc."),
        ("Müller GmbH", "Muller GmbH"),
        ("A.B.C. Holdings", "ABC"),
        ("AT&T Inc", "at and t"),
        ("Ａｃｍｅ Ltd", "acme"),
        ("Café Noir S.A.", "Cafe Noir SA"),
    ],
)
def test_r1_existing_latin_script_matches_still_match(one: str, other: str) -> None:
    assert normalise_company(one) == normalise_company(other) == legacy_company(one)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Яндекс Russia", "Лукойл Russia"),
        ("Ωmega Inc", "Mega Inc"),
        ("שלום Ltd", "תודה Ltd"),
        ("株式会社トヨタ Japan", "株式会社ソニー Japan"),
        ("삼성전자", "엘지전자"),
    ],
)
def test_r1_non_latin_companies_are_different_customers(rules: Rules, first: str, second: str) -> None:
    a = _new_customer(rules, order(po="PO-A", company=first, email="a@one.example", at=MAY), first)
    b = _new_customer(rules, order(po="PO-B", company=second, email="b@two.example", at=MAY), second)
    assert a["customer_id"] != b["customer_id"]
    assert "invitation" in b and b["invitation"]["email"] == "b@two.example", "R15: the second admin is invited"
    assert rules.view("access", b["customer_id"], ts(MAY))[0]["name"] == second


@pytest.mark.parametrize("company", ["株式会社トヨタ", "سامسونج", "中国移动", "हिन्दी कंपनी"])
def test_r1_names_in_any_script_accepted(rules: Rules, company: str) -> None:
    assert _new_customer(rules, order(po="PO-1", company=company, at=MAY), company)["ok"]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ООО «Яндекс»", "Яндекс ООО"),
        ("ЯНДЕКС", "яндекс"),
        ("トヨタ自動車株式会社", "株式会社 トヨタ自動車"),
        ("ｿﾆｰ", "ソニー"),
        ("ΣΊΓΜΑ Α.Ε.", "Σίγμα"),
        ("קוקה קולה בע\"מ", "קוקה קולה"),
    ],
)
def test_r1_same_non_latin_company_in_other_forms_matches(rules: Rules, one: str, other: str) -> None:
    a = _new_customer(rules, order(po="PO-A", company=one, at=MAY), one)
    b = rules.when(order(po="PO-B", company=other, at=MAY)).then(
        ("OrderPlaced", {"po_number": "PO-B", "account_id": a["account_id"]})
    )
    assert a["customer_id"] == b["customer_id"]


def test_r2_non_latin_addresses_are_different_accounts(rules: Rules) -> None:
    def moscow(line1: str) -> dict[str, str]:
        return {"line1": line1, "city": "Москва", "postal_code": "125009", "country": "RU"}

    a = _new_customer(rules, order(po="PO-A", company="Яндекс", address=moscow("ул. Тверская, 7"), at=MAY), "Яндекс")
    b = rules.when(order(po="PO-B", company="Яндекс", address=moscow("ул. Моховая, 7"), at=MAY)).then(
        "AccountOpened", ("OrderPlaced", {"po_number": "PO-B"})
    )
    c = rules.when(order(po="PO-C", company="Яндекс", address=moscow("УЛ ТВЕРСКАЯ 7"), at=MAY)).then(
        ("OrderPlaced", {"po_number": "PO-C", "account_id": a["account_id"]})
    )
    assert a["customer_id"] == b["customer_id"] == c["customer_id"]
    assert a["account_id"] != b["account_id"]
    assert a["account_id"] == c["account_id"]


def test_r9_non_latin_room_names_are_different_rooms(rules: Rules) -> None:
    (setup,) = rules.given(order(po="PO-A", company="Яндекс", at=MAY))
    cid, aid = setup["customer_id"], setup["account_id"]
    rules.when(_room(cid, aid, "Зал 1")).then(("RoomAdded", {"account_id": aid, "name": "Зал 1"}))
    rules.when(_room(cid, aid, "Комната 1")).then(("RoomAdded", {"account_id": aid, "name": "Комната 1"}))
    rules.when(_room(cid, aid, "КОМНАТА 1")).refused(rule="R9", field="name", code="duplicate_room")
    assert len(rules.view("rooms", cid, ts(MAY))) == 2


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("end_customer", "company"), "Acme\x00 Corp"),
        (("end_customer", "parent_company"), "Acme\x07 Group"),
        (("end_customer", "email"), "jane\x00@acme.example"),
        (("end_customer", "address", "line1"), "1 Main\x00 Street"),
        (("reseller", "name"), "AV\x1b Reseller"),
    ],
)
def test_r1_control_characters_in_names_and_emails_refused(rules: Rules, path: tuple[str, ...], value: str) -> None:
    raw = order(po="PO-CTL", at=MAY)
    target: dict[str, Any] = raw
    for key in path[:-1]:
        target[key] = dict(target[key])
        target = target[key]
    target[path[-1]] = value
    error = rules.when(raw).refused(rule="R1", field=".".join(path), code="invalid_input")
    assert "control character" in error.message


def test_r1_control_characters_in_room_names_refused(rules: Rules) -> None:
    (setup,) = rules.given(order(po="PO-A", at=MAY))
    raw = _room(setup["customer_id"], setup["account_id"], "Room\x00 1")
    rules.when(raw).refused(rule="R1", field="name", code="invalid_input")
    assert rules.when({**raw, "name": "Room 1"}).then(("RoomAdded", {"name": "Room 1"}))["ok"]
