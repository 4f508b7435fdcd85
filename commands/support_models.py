"""Command models of support, RMA and room import (SPEC section 7, R24–R28)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from aggregates.support import Severity, Source
from commands.models import Command, CountryCode, Model, SerialNo, Text

NewStatus = Literal["in_progress", "waiting_on_customer", "resolved", "closed"]
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000, pattern=r"^[^\x00]*$")
]
SpareNo = Annotated[int, Field(strict=True, ge=1, le=100_000)]
MAX_TICKET_SERIALS = 50
MAX_ROOM_DEVICES = 200
MAX_IMPORT_ROOMS = 1000


class OpenTicket(Command):
    rule: ClassVar[str] = "R24"
    command: Literal["OpenTicket"]
    customer_id: UUID
    room_id: UUID | None = None
    external_room_id: ExternalId | None = Field(default=None, validate_default=True)
    severity: Severity
    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    serial_numbers: Annotated[list[SerialNo], Field(max_length=MAX_TICKET_SERIALS)] = []
    source: Source = "portal"

    @field_validator("external_room_id", mode="after")
    @classmethod
    def _one_room(cls, external_room_id: str | None, info: ValidationInfo) -> str | None:
        if (info.data.get("room_id") is None) == (external_room_id is None):
            raise ValueError("give exactly one of room_id and external_room_id (R24)")
        return external_room_id


class UpdateTicket(Command):
    rule: ClassVar[str] = "R25"
    command: Literal["UpdateTicket"]
    customer_id: UUID
    ticket_id: UUID
    status: NewStatus


class CommentOnTicket(Command):
    rule: ClassVar[str] = "R25"
    command: Literal["CommentOnTicket"]
    customer_id: UUID
    ticket_id: UUID
    text: LongText


class ReopenTicket(Command):
    rule: ClassVar[str] = "R25"
    command: Literal["ReopenTicket"]
    customer_id: UUID
    ticket_id: UUID


class RequestRma(Command):
    rule: ClassVar[str] = "R26"
    command: Literal["RequestRma"]
    customer_id: UUID
    ticket_id: UUID
    serial_number: SerialNo


class ReceiveReplacement(Command):
    rule: ClassVar[str] = "R26"
    command: Literal["ReceiveReplacement"]
    customer_id: UUID
    ticket_id: UUID
    serial_number: SerialNo
    new_serial_number: SerialNo


class SwapWithSpare(Command):
    rule: ClassVar[str] = "R26"
    command: Literal["SwapWithSpare"]
    customer_id: UUID
    ticket_id: UUID
    serial_number: SerialNo
    spare_no: SpareNo
    new_serial_number: SerialNo


class ReplenishSpare(Command):
    rule: ClassVar[str] = "R26"
    command: Literal["ReplenishSpare"]
    customer_id: UUID
    spare_no: SpareNo


class ImportedDevice(Model):
    serial_number: SerialNo
    product: Text
    purchased_on: date


class ImportedRoom(Model):
    external_id: ExternalId
    name: Text
    site: Text
    country: CountryCode
    devices: Annotated[list[ImportedDevice], Field(max_length=MAX_ROOM_DEVICES)] = []


class ImportRooms(Command):
    rule: ClassVar[str] = "R28"
    command: Literal["ImportRooms"]
    customer_id: UUID
    account_id: UUID
    rooms: Annotated[list[ImportedRoom], Field(min_length=1, max_length=MAX_IMPORT_ROOMS)]


SUPPORT_COMMAND_TYPES: tuple[type[Command], ...] = (
    OpenTicket,
    UpdateTicket,
    CommentOnTicket,
    ReopenTicket,
    RequestRma,
    ReceiveReplacement,
    SwapWithSpare,
    ReplenishSpare,
    ImportRooms,
)
