"""The one definition of the stream envelope (CloudEvents 1.0, structured JSON mode): its constant
values, its attributes in order, which are required, and the JSON Schema of each.

``ledger.stream.envelope`` builds and checks envelopes from these names and constants;
``envelope_schema`` (published as ``schemas/events/envelope.schema.json``) is generated from the same
table, so an attribute added here is both written and published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SPECVERSION = "1.0"
SOURCE = "urn:select-ledger"
TYPE_PREFIX = "com.select.ledger.customer."
ID_PREFIX = "urn:select-ledger:schemas:events:"
DATASCHEMA_PREFIX = f"{ID_PREFIX}customer."
DATACONTENTTYPE = "application/json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
TYPE_PATTERN = r"^com\.select\.ledger\.customer\.[A-Za-z][A-Za-z0-9]*\.v[1-9][0-9]*$"
TYPE_RE = re.compile(r"^com\.select\.ledger\.customer\.([A-Za-z][A-Za-z0-9]*)\.v([1-9][0-9]*)$")

_RFC3339: dict[str, Any] = {"type": "string", "format": "date-time"}


@dataclass(frozen=True)
class Attribute:
    """One envelope attribute: its name, whether every envelope has it, its JSON Schema."""

    name: str
    required: bool
    schema: dict[str, Any] = field(default_factory=dict)


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("specversion", True, {"const": SPECVERSION}),
    Attribute("id", True, {"type": "string", "format": "uuid",
                           "description": "stable per event: uuid5(customer id, aggregate version)"}),
    Attribute("source", True, {"const": SOURCE}),
    Attribute("type", True, {"type": "string", "pattern": TYPE_PATTERN}),
    Attribute("subject", True, {"type": "string", "format": "uuid",
                                "description": "the customer id (also the message key)"}),
    Attribute("time", True, {**_RFC3339, "description": "effective time of the event (R20)"}),
    Attribute("datacontenttype", True, {"const": DATACONTENTTYPE}),
    Attribute("data", True, {"type": "object"}),
    Attribute("ledgerposition", True, {"type": "integer", "minimum": 1, "description": "position in the ledger's log"}),
    Attribute("aggregateversion", True, {"type": "integer", "minimum": 1,
                                         "description": "the customer's event number"}),
    Attribute("recordedtime", True, {**_RFC3339, "description": "when the ledger recorded the event"}),
    Attribute("actor", True, {"type": "string", "description": "'ops' or a portal user's e-mail (R18)"}),
    Attribute("dataschema", False, {"type": "string", "pattern": r"^urn:select-ledger:schemas:events:customer\."}),
    Attribute("correlationid", False, {
        "type": "string",
        "description": "the HTTP request (X-Request-Id) or `ledger apply` run that recorded the event; "
        "absent on events recorded before correlation ids existed",
    }),
    Attribute("causationid", False, {
        "type": "string",
        "format": "uuid",
        "description": "the id of the event of the same command that caused this one (an expiry or "
        "cancellation releasing licenses or revoking spares, ...); absent otherwise",
    }),
    Attribute("auditseq", False, {
        "type": "integer", "minimum": 0,
        "description": "the event's entry in the verifiable audit log (absent if not logged)",
    }),
    Attribute("auditleaf", False, {
        "type": "string", "pattern": "^[0-9a-f]{64}$",
        "description": "RFC 6962 leaf hash of that entry, hex (ledger proof shows its inclusion)",
    }),
)
NAMES: tuple[str, ...] = tuple(a.name for a in ATTRIBUTES)
REQUIRED: tuple[str, ...] = tuple(a.name for a in ATTRIBUTES if a.required)


def envelope_schema() -> dict[str, Any]:
    """The JSON Schema of an envelope, from ``ATTRIBUTES``."""
    return {
        "$schema": DRAFT,
        "$id": f"{ID_PREFIX}envelope",
        "title": "Ledger event envelope (CloudEvents 1.0, structured JSON mode)",
        "description": "One Kafka message a customer event, keyed by the customer id. Validate `data` with the "
        "schema named by `dataschema` (customer.<Type>.v<N>.schema.json in this folder).",
        "type": "object",
        "required": list(REQUIRED),
        "properties": {a.name: dict(a.schema) for a in ATTRIBUTES},
        "additionalProperties": False,
    }
