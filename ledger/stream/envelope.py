"""CloudEvents 1.0 envelopes (structured JSON mode) of the ledger's customer events.

One Kafka message per customer event, keyed by the customer id, its value a JSON object::

    {"specversion": "1.0",
     "id": "<uuid5 of customer id and aggregate version: the same event always has the same id>",
     "source": "urn:select-ledger",
     "type": "com.select.ledger.customer.OrderPlaced.v2",
     "subject": "<customer id>",
     "time": "<effective time, RFC 3339>",
     "datacontenttype": "application/json",
     "dataschema": "urn:select-ledger:schemas:events:customer.OrderPlaced.v2",
     "ledgerposition": 42,            # position in the ledger's notification log (global order)
     "aggregateversion": 7,           # the customer's event number: 1, 2, 3, ... per subject
     "recordedtime": "<when the ledger recorded it, RFC 3339>",
     "actor": "ops",                  # who caused it (R18)
     "correlationid": "<the request or run that recorded it>",       # optional (older events lack it)
     "causationid": "<id of the event of the same command that caused this one>",  # where there is one
     "auditseq": 41,                  # its entry in the verifiable audit log (SPEC section 8) ...
     "auditleaf": "<hex>",            # ... and that entry's RFC 6962 leaf hash (absent if not logged)
     "data": {...}}                   # the event's data, schema schemas/events/customer.<Type>.v<N>.schema.json

Only customer events are published. The ``PurchaseOrder`` and ``SerialNumber`` reservations (how the
ledger keeps PO and serial numbers unique) and the ``Partner`` aggregate (a partner company and its
users, no customer to key it by) stay inside the ledger; what a customer granted a partner is on the
customer's stream (``PartnerDelegated``, ``PartnerRevoked``). Invitation tokens are never in an event,
so never in an envelope.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeGuard, TypeVar
from uuid import UUID

from pydantic import ValidationError

from aggregates.customer import Customer
from aggregates.customer.rules import entitled_spares
from ledger.jsonvalues import ENVELOPE_FIELDS, event_data, json_default
from ledger.stream.schemas.envelope import (
    DATACONTENTTYPE,
    DATASCHEMA_PREFIX,
    REQUIRED,
    SOURCE,
    SPECVERSION,
    TYPE_PREFIX,
    TYPE_RE,
)
from ledger.stream.schemas.models import CURRENT, EventData
from ledger.stream.upcasting import UpcastError, upcast

KAFKA_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
EVENT_ID_NAMESPACE = UUID("5b0c3a3e-8f1d-4b8e-9a4f-2f6a1e7c9d20")
_TYPE = TYPE_RE

D = TypeVar("D", bound=EventData)


class EnvelopeError(ValueError):
    """A message that is not a ledger event envelope this code can read; the message says why."""


_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes


def event_id(customer_id: UUID | str, aggregate_version: int) -> str:
    """The stable id of a customer's n-th event: a re-published event has the same id.

    ``uuid5(EVENT_ID_NAMESPACE, "<customer id>:<aggregate version>")``, computed without building
    UUID objects (the relay computes one per event)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{customer_id}:{aggregate_version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def type_name(event: str, version: int) -> str:
    return f"{TYPE_PREFIX}{event}.v{version}"


def parse_type(ce_type: str) -> tuple[str, int]:
    match = _TYPE.match(ce_type)
    if match is None:
        raise EnvelopeError(f"type: {ce_type!r} is not a ledger customer event type ({TYPE_PREFIX}<Event>.v<N>)")
    return match.group(1), int(match.group(2))


def dataschema(event: str, version: int) -> str:
    return f"{DATASCHEMA_PREFIX}{event}.v{version}"


def rfc3339(moment: datetime) -> str:
    text = (moment if moment.tzinfo is UTC else moment.astimezone(UTC)).isoformat()
    return text.removesuffix("+00:00") + "Z"


def is_published(domain_event: object) -> TypeGuard[Customer.Event]:
    """Customer events go on the stream; reservation and partner aggregates' events do not."""
    return isinstance(domain_event, Customer.Event)


def published_data(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The stored event's data in the shape of the type's current stream version."""
    if event in ("SpareAccrued", "SpareRevoked"):
        return {**data, "entitled": entitled_spares(data["active_select_licenses"])}
    return data


def _audit(envelope: dict[str, Any], audit: tuple[int, bytes] | None) -> dict[str, Any]:
    if audit is not None:
        envelope["auditseq"], envelope["auditleaf"] = audit[0], audit[1].hex()
    return envelope


def _envelope(
    domain_event: Customer.Event, info: tuple[str, str, str], position: int, audit: tuple[int, bytes] | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The one place an envelope is put together (attributes: ``ledger.stream.schemas.envelope``)."""
    name, ce_type, schema = info
    customer_id = str(domain_event.originator_id)
    version = domain_event.originator_version
    return _audit({
        "specversion": SPECVERSION,
        "id": event_id(customer_id, version),
        "source": SOURCE,
        "type": ce_type,
        "subject": customer_id,
        "time": rfc3339(domain_event.at),
        "datacontenttype": DATACONTENTTYPE,
        "dataschema": schema,
        "ledgerposition": position,
        "aggregateversion": version,
        "recordedtime": rfc3339(domain_event.timestamp),
        "actor": domain_event.actor,
        **_trace(domain_event),
        "data": published_data(name, data),
    }, audit)


def build_envelope(
    domain_event: Customer.Event, position: int, audit: tuple[int, bytes] | None = None
) -> dict[str, Any]:
    """The CloudEvents envelope of one customer event at ledger position ``position`` (with its
    audit log sequence number and leaf hash when ``audit`` gives them), its data JSON-ready."""
    return _envelope(domain_event, _class_info(type(domain_event)), position, audit, event_data(domain_event))


def _trace(domain_event: object) -> dict[str, str]:
    """The CloudEvents extension attributes ``correlationid`` and ``causationid``, where the event has them."""
    out = {}
    correlation = getattr(domain_event, "correlation_id", None)
    if correlation is not None:
        out["correlationid"] = str(correlation)
    causation = getattr(domain_event, "causation_id", None)
    if causation is not None:
        out["causationid"] = str(causation)
    return out


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=json_default)
_CLASS_INFO: dict[type, tuple[str, str, str]] = {}


def _class_info(cls: type) -> tuple[str, str, str]:
    info = _CLASS_INFO.get(cls)
    if info is None:
        name = cls.__qualname__.removeprefix("Customer.")
        model = CURRENT.get(name)
        if model is None:
            raise EnvelopeError(
                f"{name}: no stream schema for this customer event; add a model to ledger/stream/schemas/models.py"
            )
        info = _CLASS_INFO[cls] = (name, type_name(name, model.version), dataschema(name, model.version))
    return info


def encode_event(
    domain_event: Customer.Event, position: int, audit: tuple[int, bytes] | None = None
) -> tuple[bytes, bytes]:
    """(key, value) of the message of one customer event: the envelope of ``build_envelope``,
    serialised in one pass (the relay's path; a test keeps the two identical)."""
    data = {k: v for k, v in domain_event.__dict__.items() if k not in ENVELOPE_FIELDS}
    envelope = _envelope(domain_event, _class_info(type(domain_event)), position, audit, data)
    return str(domain_event.originator_id).encode(), _ENCODER.encode(envelope).encode("utf-8")


def encode(envelope: Mapping[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode(value: bytes | str) -> dict[str, Any]:
    """Parse a message value into an envelope dict, checking the attributes every envelope has."""
    try:
        envelope = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise EnvelopeError("not a JSON object")
    missing = [name for name in REQUIRED if name not in envelope]
    if missing:
        raise EnvelopeError(f"missing attributes: {', '.join(missing)}")
    if envelope["specversion"] != SPECVERSION:
        raise EnvelopeError(f"specversion: {envelope['specversion']!r} is not {SPECVERSION!r}")
    if not isinstance(envelope["data"], dict):
        raise EnvelopeError("data: not a JSON object")
    return envelope


def _time(envelope: Mapping[str, Any], name: str) -> datetime:
    try:
        return datetime.fromisoformat(str(envelope[name]).replace("Z", "+00:00"))
    except ValueError:
        raise EnvelopeError(f"{name}: {envelope[name]!r} is not an RFC 3339 time") from None


@dataclass(frozen=True)
class StreamEvent(Generic[D]):
    """One ledger event as a subscriber sees it: the envelope's attributes, typed, and the data as
    the current version's model (``OrderPlaced``, ``SpareAccrued``, ...), old versions upcast."""

    id: str
    event: str
    version: int
    published_version: int
    customer_id: UUID
    aggregate_version: int
    position: int
    effective_at: datetime
    recorded_at: datetime
    actor: str
    data: D
    topic: str = ""
    partition: int = -1
    offset: int = -1
    correlation_id: str | None = None
    causation_id: str | None = None

    @property
    def upcast(self) -> bool:
        """True when the message was published under an older version of its type."""
        return self.published_version != self.version


def read_event(envelope: Mapping[str, Any], topic: str = "", partition: int = -1, offset: int = -1) -> StreamEvent[Any]:
    """Turn an envelope into a typed event: upcast old versions, validate the data against its model."""
    name, published = parse_type(str(envelope["type"]))
    try:
        version, data = upcast(name, published, dict(envelope["data"]))
    except UpcastError as exc:
        raise EnvelopeError(str(exc)) from None
    model = CURRENT[name]
    try:
        typed = model.model_validate(data)
    except ValidationError as exc:
        raise EnvelopeError(f"data of {name}.v{version} does not match its schema: {exc}") from None
    try:
        customer_id = UUID(str(envelope["subject"]))
    except ValueError:
        raise EnvelopeError(f"subject: {envelope['subject']!r} is not a customer id") from None
    return StreamEvent(
        id=str(envelope["id"]),
        event=name,
        version=version,
        published_version=published,
        customer_id=customer_id,
        aggregate_version=int(envelope["aggregateversion"]),
        position=int(envelope["ledgerposition"]),
        effective_at=_time(envelope, "time"),
        recorded_at=_time(envelope, "recordedtime"),
        actor=str(envelope["actor"]),
        data=typed,
        topic=topic,
        partition=partition,
        offset=offset,
        correlation_id=_optional(envelope, "correlationid"),
        causation_id=_optional(envelope, "causationid"),
    )


def _optional(envelope: Mapping[str, Any], name: str) -> str | None:
    value = envelope.get(name)
    return None if value is None else str(value)
