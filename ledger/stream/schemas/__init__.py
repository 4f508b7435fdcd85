"""JSON Schema of every customer event's data, per type and version, published under schemas/events/.

``render()`` gives every file's name and text: one ``customer.<Type>.v<N>.schema.json`` per model in
``models.py`` (old versions stay published), ``envelope.schema.json`` for the CloudEvents envelope
and ``index.json`` listing each type's current version and CloudEvents ``type``.
``ledger event-schemas --write`` writes them, ``--check`` fails when they are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledger.stream.schemas.models import ALL_MODELS, CURRENT, MODELS, EventData

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "events"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:select-ledger:schemas:events:"
TYPE_PATTERN = r"^com\.select\.ledger\.customer\.[A-Za-z][A-Za-z0-9]*\.v[1-9][0-9]*$"

__all__ = ["CURRENT", "MODELS", "SCHEMA_DIR", "EventData", "check", "data_schema", "file_name", "render", "write"]


def file_name(event: str, version: int) -> str:
    return f"customer.{event}.v{version}.schema.json"


def data_schema(model: type[EventData]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {
        "$schema": DRAFT,
        "$id": f"{ID_PREFIX}customer.{model.event}.v{model.version}",
        **schema,
        "title": f"{model.event} v{model.version}",
        "description": " ".join((model.__doc__ or model.event).split()),
    }


def envelope_schema() -> dict[str, Any]:
    rfc3339 = {"type": "string", "format": "date-time"}
    return {
        "$schema": DRAFT,
        "$id": f"{ID_PREFIX}envelope",
        "title": "Ledger event envelope (CloudEvents 1.0, structured JSON mode)",
        "description": "One Kafka message a customer event, keyed by the customer id. Validate `data` with the "
        "schema named by `dataschema` (customer.<Type>.v<N>.schema.json in this folder).",
        "type": "object",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "data",
            "ledgerposition",
            "aggregateversion",
            "recordedtime",
            "actor",
        ],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {
                "type": "string",
                "format": "uuid",
                "description": "stable per event: uuid5(customer id, aggregate version)",
            },
            "source": {"const": "urn:select-ledger"},
            "type": {"type": "string", "pattern": TYPE_PATTERN},
            "subject": {"type": "string", "format": "uuid", "description": "the customer id (also the message key)"},
            "time": {**rfc3339, "description": "effective time of the event (R20)"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"type": "string", "pattern": r"^urn:select-ledger:schemas:events:customer\."},
            "ledgerposition": {"type": "integer", "minimum": 1, "description": "position in the ledger's log"},
            "aggregateversion": {"type": "integer", "minimum": 1, "description": "the customer's event number"},
            "recordedtime": {**rfc3339, "description": "when the ledger recorded the event"},
            "actor": {"type": "string", "description": "'ops' or a portal user's e-mail (R18)"},
            "correlationid": {
                "type": "string",
                "description": "the HTTP request (X-Request-Id) or `ledger apply` run that recorded the event; "
                "absent on events recorded before correlation ids existed",
            },
            "causationid": {
                "type": "string",
                "format": "uuid",
                "description": "the id of the event of the same command that caused this one (an expiry or "
                "cancellation releasing licenses or revoking spares, ...); absent otherwise",
            },
            "auditseq": {"type": "integer", "minimum": 0,
                         "description": "the event's entry in the verifiable audit log (absent if not logged)"},
            "auditleaf": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                          "description": "RFC 6962 leaf hash of that entry, hex (ledger proof shows its inclusion)"},
            "data": {"type": "object"},
        },
        "additionalProperties": False,
    }


def index() -> dict[str, Any]:
    return {
        "source": "urn:select-ledger",
        "events": {
            name: {
                "current": model.version,
                "type": f"com.select.ledger.customer.{name}.v{model.version}",
                "versions": sorted(v for (n, v) in MODELS if n == name),
            }
            for name, model in sorted(CURRENT.items())
        },
    }


def _text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every published file: name → text."""
    files = {file_name(m.event, m.version): _text(data_schema(m)) for m in ALL_MODELS}
    files["envelope.schema.json"] = _text(envelope_schema())
    files["index.json"] = _text(index())
    return dict(sorted(files.items()))


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = render()
    for stale in directory.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, "utf-8")
        written.append(path)
    return written


def check(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of the files that are missing, different or left over; empty when all are current."""
    files = render()
    problems = []
    for name, text in files.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name} (missing)")
        elif path.read_text("utf-8") != text:
            problems.append(f"{name} (out of date)")
    if directory.is_dir():
        problems.extend(f"{p.name} (not generated)" for p in sorted(directory.glob("*.json")) if p.name not in files)
    return problems
