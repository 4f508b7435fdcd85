"""Command models: one frozen pydantic model per command of SPEC section 4; unknown fields rejected."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from aggregates.catalog import MAX_YEARS, MIN_YEARS, OrderServiceName, RoleName, ServiceName
from aggregates.sso import issuer_problem, normalise_domain
from aggregates.timeutil import EARLIEST_AT, as_utc

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")


def _no_control(value: str) -> str:
    """R1: names and e-mails never contain control characters (NUL included)."""
    for char in value:
        if unicodedata.category(char) == "Cc":
            raise PydanticCustomError(
                "control_character",
                "contains a control character (U+{code}); names and e-mails never do",
                {"code": f"{ord(char):04X}"},
            )
    return value


def _email(value: str) -> str:
    _no_control(value)
    value = value.strip()
    if len(value) > 254 or not _EMAIL.fullmatch(value) or ".." in value:
        raise ValueError(f"{value!r} is not a valid e-mail address")
    return value.lower()


def _country(value: str) -> str:
    """The shape of an ISO 3166 alpha-2 code; whether it is a country of the configured table (the
    operator's data, R12) is decided where the table is known (``aggregates.catalog.require_country``)."""
    code = value.strip().upper()
    if not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
    return code


def _actor(value: str) -> str:
    value = value.strip()
    if value == "ops":
        return value
    try:
        return _email(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither 'ops' nor a portal user's e-mail") from None


def _issuer(value: str) -> str:
    problem = issuer_problem(value)
    if problem is not None:
        raise ValueError(f"{value!r} {problem}; it must equal the tokens' iss exactly")
    return value


def _domains(values: list[str]) -> list[str]:
    domains = sorted({normalise_domain(v) for v in values})
    if not domains:
        raise ValueError("at least one e-mail domain is needed")
    return domains


def _effective_time(value: object) -> datetime:
    """R20: an ISO 8601 string (with a time zone, or none for UTC), never a number; after 2000-01-01.

    The upper bound depends on the moment of recording and is checked by the application.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value[:40]!r} is not an ISO 8601 date and time") from None
    else:
        raise ValueError(
            f"must be an ISO 8601 string such as '2026-05-01T09:00:00Z', never a number ({type(value).__name__})"
        )
    try:
        moment = as_utc(moment)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} lies outside the calendar in UTC") from None
    if moment <= EARLIEST_AT:
        raise ValueError(f"{moment.isoformat()} is not after {EARLIEST_AT.date().isoformat()}")
    return moment


EffectiveTime = Annotated[datetime, BeforeValidator(_effective_time)]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_control)
]
OptionalText = (
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_no_control)] | None
)
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
CountryCode = Annotated[str, StringConstraints(min_length=2, max_length=2), AfterValidator(_country)]
Actor = Annotated[str, StringConstraints(min_length=1, max_length=254), AfterValidator(_actor)]
PoNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]*$"),
]
SerialNo = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=4, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")
]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
Service = ServiceName
OrderService = OrderServiceName
Role = RoleName
StrictYears = Annotated[int, Field(strict=True, ge=MIN_YEARS, le=MAX_YEARS)]
StrictQuantity = Annotated[int, Field(strict=True, ge=1, le=100_000)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Address(Model):
    line1: Text
    line2: OptionalText = None
    city: Text
    region: OptionalText = None
    postal_code: Text
    country: CountryCode


class EndCustomer(Model):
    company: Text
    parent_company: OptionalText = None
    email: Email
    address: Address


class Party(Model):
    name: Text
    email: Email
    address: Address


class Command(Model):
    """Fields every command carries: the actor (R18) and the effective time (R20, default now)."""

    rule: ClassVar[str] = "R18"
    at: EffectiveTime | None = None
    actor: Actor


class PlaceOrder(Command):
    rule: ClassVar[str] = "R4"
    command: Literal["PlaceOrder"]
    po_number: PoNumber
    service: OrderService
    years: StrictYears | None = Field(default=None, validate_default=True)
    quantity: StrictQuantity
    end_customer: EndCustomer
    reseller: Party
    distributor: Party
    customer_id: UUID | None = None

    @field_validator("years", mode="after")
    @classmethod
    def _years(cls, years: int | None, info: ValidationInfo) -> int | None:
        service = info.data.get("service")
        if service == "jumpstart" and years is not None:
            raise ValueError("a jumpstart order has no years; it covers 90 days from the order (R27)")
        if service != "jumpstart" and years is None:
            raise ValueError("is required (1 to 5) for a select, syncplus or extended_warranty order")
        return years


class CancelOrder(Command):
    rule: ClassVar[str] = "R7"
    command: Literal["CancelOrder"]
    po_number: PoNumber


class ExpireContracts(Command):
    rule: ClassVar[str] = "R8"
    command: Literal["ExpireContracts"]


class AddRoom(Command):
    rule: ClassVar[str] = "R9"
    command: Literal["AddRoom"]
    customer_id: UUID
    account_id: UUID
    name: Text
    site: Text
    country: CountryCode


class AssignLicense(Command):
    rule: ClassVar[str] = "R10"
    command: Literal["AssignLicense"]
    customer_id: UUID
    room_id: UUID
    po_number: PoNumber


class MoveLicense(Command):
    rule: ClassVar[str] = "R10"
    command: Literal["MoveLicense"]
    customer_id: UUID
    service: Service
    from_room_id: UUID
    to_room_id: UUID


class RegisterDevice(Command):
    rule: ClassVar[str] = "R11"
    command: Literal["RegisterDevice"]
    customer_id: UUID
    room_id: UUID
    serial_number: SerialNo
    product: Text
    purchased_on: date


class MoveDevice(Command):
    rule: ClassVar[str] = "R11"
    command: Literal["MoveDevice"]
    customer_id: UUID
    serial_number: SerialNo
    to_room_id: UUID


class AllocateSpare(Command):
    rule: ClassVar[str] = "R14"
    command: Literal["AllocateSpare"]
    customer_id: UUID
    product: Text
    ship_to: Text


class SendInvitation(Command):
    rule: ClassVar[str] = "R15"
    command: Literal["SendInvitation"]
    customer_id: UUID
    email: Email


class AcceptInvitation(Command):
    rule: ClassVar[str] = "R15"
    command: Literal["AcceptInvitation"]
    token: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512)]


class InviteUser(Command):
    rule: ClassVar[str] = "R16"
    command: Literal["InviteUser"]
    customer_id: UUID
    email: Email
    role: Role


class ChangeRole(Command):
    rule: ClassVar[str] = "R16"
    command: Literal["ChangeRole"]
    customer_id: UUID
    email: Email
    role: Role


class RemoveUser(Command):
    rule: ClassVar[str] = "R16"
    command: Literal["RemoveUser"]
    customer_id: UUID
    email: Email


class RegisterPartner(Command):
    rule: ClassVar[str] = "R17"
    command: Literal["RegisterPartner"]
    partner_id: Identifier
    name: Text


class AddPartnerUser(Command):
    rule: ClassVar[str] = "R17"
    command: Literal["AddPartnerUser"]
    partner_id: Identifier
    email: Email


class DelegatePartner(Command):
    rule: ClassVar[str] = "R17"
    command: Literal["DelegatePartner"]
    customer_id: UUID
    partner_id: Identifier
    role: Role


class RevokePartner(Command):
    rule: ClassVar[str] = "R17"
    command: Literal["RevokePartner"]
    customer_id: UUID
    partner_id: Identifier


class ConfigureSso(Command):
    """Trust the customer's own OpenID Connect issuer for its users of the allowed domains (R22).

    The client secret the portal uses with that issuer is a setting, never part of this command.
    """

    rule: ClassVar[str] = "R22"
    command: Literal["ConfigureSso"]
    customer_id: UUID
    issuer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=400), AfterValidator(_issuer)
    ]
    audience: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    allowed_domains: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=253)]],
        Field(min_length=1, max_length=50),
        AfterValidator(_domains),
    ]


class RemoveSso(Command):
    rule: ClassVar[str] = "R22"
    command: Literal["RemoveSso"]
    customer_id: UUID


# The core commands; ``commands.registry`` adds those of support and room import and is what parsing,
# the published schemas and the HTTP API use.
# The core commands; commands.registry joins them with those of support into the one list.
CORE_COMMAND_TYPES: tuple[type[Command], ...] = (
    PlaceOrder,
    CancelOrder,
    ExpireContracts,
    AddRoom,
    AssignLicense,
    MoveLicense,
    RegisterDevice,
    MoveDevice,
    AllocateSpare,
    SendInvitation,
    AcceptInvitation,
    InviteUser,
    ChangeRole,
    RemoveUser,
    RegisterPartner,
    AddPartnerUser,
    DelegatePartner,
    RevokePartner,
    ConfigureSso,
    RemoveSso,
)
