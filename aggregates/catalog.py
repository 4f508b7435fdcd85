"""Catalogs as data: services, supported products, countries, and the normalisation of names."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aggregates.errors import InvalidInput

SERVICES: tuple[str, ...] = ("select", "syncplus", "extended_warranty")
ROOM_ASSIGNED_SERVICES: tuple[str, ...] = ("select", "syncplus", "extended_warranty")
MIN_YEARS, MAX_YEARS = 1, 5
CANCELLATION_WINDOW_DAYS = 30
DEFAULT_GRACE_DAYS = 60
INVITATION_VALID_DAYS = 30
SELECT_LICENSES_PER_SPARE = 50
MAX_WARRANTY_YEARS = 5
ROLES: tuple[str, ...] = ("admin", "viewer")

SUPPORTED_PRODUCTS: tuple[str, ...] = (
    "Rally Bar",
    "Rally Bar Mini",
    "Rally Plus",
    "Rally",
    "Rally Camera",
    "Meetup",
    "Tap and Tap IP",
    "Swytch",
    "RoomMate",
    "Scribe",
    "Logitech Room Solutions for Microsoft Teams",
    "Logitech for Microsoft Teams Rooms on Android",
    "Logitech Room Solutions for PC-Based Zoom Rooms",
    "Logitech for Zoom Room Appliances",
    "Logitech Accessories",
    "Logitech Sync Software",
    "Logitech CollabOS Software",
)

GROUP_MAILBOX_NAMES = frozenset(
    {
        "it", "support", "helpdesk", "help", "admin", "administrator", "info", "team",
        "office", "group", "noreply", "no-reply", "donotreply", "sales", "contact",
        "service", "services", "hello", "mail", "postmaster", "webmaster", "hr", "all",
        "facilities", "avteam", "itsupport", "servicedesk",
    }
)

LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited",
        "llc", "llp", "lp", "plc", "gmbh", "mbh", "ag", "kg", "sa", "sas", "sarl", "srl",
        "spa", "bv", "nv", "ab", "as", "asa", "oy", "oyj", "kk", "pty", "pte", "sl",
        "sro", "zoo", "se", "ug", "group", "holding", "holdings",
    }
)

_ADDRESS_WORDS = {
    "street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "drive": "dr",
    "suite": "ste", "floor": "fl", "building": "bldg", "strasse": "str", "straße": "str",
    "north": "n", "south": "s", "east": "e", "west": "w",
}


def _words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    folded = folded.replace("&", " and ")
    return re.findall(r"[a-z0-9]+", folded)


def _join_initials(words: list[str]) -> list[str]:
    """Runs of single characters are one word, so "S.A." reads as "SA" and "A. B. C." as "ABC"."""
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


def normalise_company(name: str) -> str:
    """Case, punctuation, whitespace and trailing legal suffixes ignored (R1)."""
    words = _join_initials(_words(name))
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def normalise_name(name: str) -> str:
    """Case, punctuation and whitespace ignored; every word kept (room names, R9)."""
    return " ".join(_words(name))


def normalise_address(address: Mapping[str, Any]) -> str:
    """One canonical string per postal address (R2)."""
    parts = []
    for key in ("line1", "line2", "city", "region", "postal_code", "country"):
        value = address.get(key) or ""
        parts.append(" ".join(_ADDRESS_WORDS.get(w, w) for w in _words(str(value))))
    return "|".join(parts)


def is_group_mailbox(email: str) -> bool:
    local = email.split("@", 1)[0].lower()
    base = re.split(r"[+]", local, maxsplit=1)[0]
    return base in GROUP_MAILBOX_NAMES or base.replace(".", "").replace("_", "") in GROUP_MAILBOX_NAMES


def canonical_product(product: str) -> str | None:
    wanted = " ".join(_words(product))
    for known in SUPPORTED_PRODUCTS:
        if " ".join(_words(known)) == wanted:
            return known
    return None


@dataclass(frozen=True)
class CountryTerms:
    code: str
    name: str
    available: bool
    rma: str | None
    support_languages: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "country": self.code,
            "name": self.name,
            "available": self.available,
            "rma": self.rma,
            "support_languages": list(self.support_languages),
        }


class CountryTable:
    """Where the service is available and on which terms (R12). Data the operator edits."""

    def __init__(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        self._rows = {
            code.upper(): CountryTerms(
                code=code.upper(),
                name=str(row.get("name", code.upper())),
                available=bool(row.get("available", True)),
                rma=row.get("rma"),
                support_languages=tuple(row.get("support_languages", ())),
            )
            for code, row in rows.items()
        }

    @classmethod
    def default(cls) -> CountryTable:
        text = resources.files("aggregates").joinpath("data/countries.json").read_text("utf-8")
        return cls(json.loads(text))

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> CountryTable:
        merged = {code: t.as_dict() for code, t in self._rows.items()}
        for code, row in overrides.items():
            merged.setdefault(code.upper(), {"name": code.upper()}).update(row)
        return CountryTable(merged)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.upper() in self._rows

    def get(self, code: str) -> CountryTerms | None:
        return self._rows.get(code.upper())

    def codes(self) -> list[str]:
        return sorted(self._rows)


def require_country(countries: CountryTable, code: str, *, field: str, rule: str) -> str:
    """``code`` upper-cased when it is a country of the configured table (R12), else a refusal."""
    if code not in countries:
        raise InvalidInput(f"{field}: {code!r} is not an ISO 3166 alpha-2 country code in the country table",
                           rule=rule, field=field)
    return code.upper()
