"""Catalogs as data: services, supported products, countries, and the normalisation of names."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, get_args

from aggregates.errors import InvalidInput

# The one list of services (R4) and of roles (R16): command models, handlers and views use these.
ServiceName = Literal["select", "syncplus", "extended_warranty"]
SERVICES: tuple[str, ...] = get_args(ServiceName)
# What an order may buy: the services above and Jumpstart (R27), which has no term in years.
OrderServiceName = Literal[ServiceName, "jumpstart"]
ORDER_SERVICES: tuple[str, ...] = get_args(OrderServiceName)
MIN_YEARS, MAX_YEARS = 1, 5
CANCELLATION_WINDOW_DAYS = 30
DEFAULT_GRACE_DAYS = 60
INVITATION_VALID_DAYS = 30
SELECT_LICENSES_PER_SPARE = 50
MAX_WARRANTY_YEARS = 5
RoleName = Literal["admin", "viewer"]
ROLES: tuple[str, ...] = get_args(RoleName)

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


# Legal forms of other scripts (their Latin-script counterparts are in LEGAL_SUFFIXES). Russian and
# Arabic put theirs first, Japanese, Chinese and Korean either first or last and without a space.
NON_LATIN_LEGAL_FORMS = frozenset(
    {
        "ооо", "оао", "зао", "пао", "ао", "ип", "тов", "пат",  # Russian, Ukrainian
        "αε", "επε", "ικε", "οε",  # Greek
        "בעמ",  # Hebrew (בע"מ)
        "شركة", "شمم", "ذمم",  # Arabic
    }
)
CJK_LEGAL_FORMS: tuple[str, ...] = (
    "株式会社", "有限会社", "合同会社", "股份有限公司", "有限责任公司", "有限公司", "集团",
    "주식회사", "유한회사",
)
_OTHER_FORMS = NON_LATIN_LEGAL_FORMS | frozenset(CJK_LEGAL_FORMS)
_JOINERS = frozenset('"\'\u05f3\u05f4')  # quote marks inside a word: בע"מ, ש.מ.מ


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def _fold(text: str) -> str:
    """Compatibility-normalised (NFKC), case-folded text: letters, digits and marks of every script
    kept, ASCII punctuation a space. Each character is taken on its own, then the result composed.

    A character with an ASCII decomposition (é, ﬁ, Ａ, ①) folds to that ASCII exactly as before
    Unicode-aware matching, and what had none and is not a letter or digit of another script
    (ß, ø, ł, €, —) is still dropped: every key of Latin-script text is unchanged, so no customer,
    account or room id derived from one moves. Other scripts keep their letters and marks,
    case-folded; decimal digits of any script read as 0-9.
    """
    out: list[str] = []
    kept_other = False
    for i, original in enumerate(text):
        if original in _JOINERS and kept_other and i + 1 < len(text) and _is_other_letter(text[i + 1]):
            continue
        ascii_form = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode()
        if ascii_form:
            out.extend(c.lower() if c.isalnum() else " and " if c == "&" else " " for c in ascii_form)
            kept_other = False
            continue
        for char in unicodedata.normalize("NFKC", original):
            previous_kept, kept_other = kept_other, False
            category = unicodedata.category(char)
            if category == "Nd":
                out.append(str(unicodedata.digit(char)))
            elif category[0] in "LN" and _is_latin(char):
                continue  # ß, ø, ł: dropped, as before Unicode-aware matching
            elif category[0] in "LN":
                out.append(char.casefold())
                kept_other = True
            elif category[0] == "M" and previous_kept:
                out.append(char)
                kept_other = True
            # anything else without an ASCII form (€, —, «) is dropped, as before
    return unicodedata.normalize("NFC", "".join(out))


def _is_other_letter(char: str) -> bool:
    return unicodedata.category(char)[0] == "L" and not _is_latin(char)


def _words(text: str) -> list[str]:
    return _fold(text).split()


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


def _strip_cjk_forms(words: list[str]) -> list[str]:
    """株式会社トヨタ and トヨタ株式会社 read as トヨタ; a name that is only a legal form stays."""
    stripped = []
    for word in words:
        for form in CJK_LEGAL_FORMS:
            if word != form and word.startswith(form):
                word = word[len(form):]
            if word != form and word.endswith(form):
                word = word[: -len(form)]
        stripped.append(word)
    return stripped


def normalise_company(name: str) -> str:
    """Case, punctuation, whitespace and legal forms ignored, in every script (R1).

    Latin-script legal suffixes are dropped at the end (as they always were); the legal forms of
    other scripts at either end, as those languages place them.
    """
    words = _strip_cjk_forms(_join_initials(_words(name)))
    while len(words) > 1 and (words[-1] in LEGAL_SUFFIXES or words[-1] in _OTHER_FORMS):
        words.pop()
    while len(words) > 1 and words[0] in _OTHER_FORMS:
        words.pop(0)
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
