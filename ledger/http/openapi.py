"""The OpenAPI 3.1 document: FastAPI's routes plus the command models of ``commands.models``.

The request body of ``POST /v1/commands`` is the command union (discriminated by ``command``)
without ``actor``: over HTTP the actor is the authenticated principal. ``extra="forbid"`` becomes
``additionalProperties: false``. Published as ``schemas/openapi.json`` (``ledger openapi --check``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from commands.registry import COMMAND_ADAPTER, COMMANDS_BY_NAME

OPENAPI_PATH = Path(__file__).resolve().parent.parent.parent / "schemas" / "openapi.json"
REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details, with the ledger's code, rule and field.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "rule": {"type": ["string", "null"]},
        "field": {"type": ["string", "null"]},
    },
}
RESULT_SCHEMA: dict[str, Any] = {
    "title": "CommandResult",
    "description": "The result object `ledger apply` prints for an accepted command.",
    "type": "object",
    "required": ["ok", "customer_id", "events"],
    "properties": {
        "ok": {"const": True},
        "customer_id": {"type": ["string", "null"]},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "aggregate_id": {"type": "string"},
                    "version": {"type": "integer"},
                    "position": {"type": "integer"},
                },
            },
        },
    },
}


def command_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The request-body schema of ``POST /v1/commands`` and the component schemas it refers to."""
    schema = copy.deepcopy(COMMAND_ADAPTER.json_schema(ref_template=REF))
    defs: dict[str, Any] = schema.pop("$defs", {})
    for name, definition in defs.items():
        if name in COMMANDS_BY_NAME:
            definition.get("properties", {}).pop("actor", None)
            definition["required"] = [f for f in definition.get("required", []) if f != "actor"]
    return schema, defs


def command_body_schema(name: str) -> dict[str, Any]:
    """A resource route's body: one command without ``command`` and the fields its path gives."""
    return {"$ref": REF.format(model=name)}


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Add the command, result and problem schemas and the bearer scheme to FastAPI's document."""
    body, defs = command_schemas()
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(defs)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["CommandResult"] = RESULT_SCHEMA
    schemas["Command"] = body
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An OpenID Connect ID token of a trusted issuer, or an API key (R21, R23).",
        }
    }
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            statuses = PROBLEM_STATUSES if path.startswith("/v1/") else {}
            if path == "/readyz":
                statuses = {503: "Not ready: the store or the read models cannot be reached"}
            for status, text in statuses.items():
                responses[str(status)] = {
                    "description": text,
                    "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
                }
            if not path.startswith("/v1/"):
                operation["security"] = []
    document["security"] = [{"bearer": []}]
    return document


PROBLEM_STATUSES = {
    400: "Unusable request (not JSON, not an object)",
    401: "No, or a bad, credential (R21, R23)",
    403: "Not allowed for this principal (R16-R18)",
    404: "Unknown within what the principal may see",
    409: "Refused by a rule, or a conflict",
    422: "Invalid input (the field and rule are named)",
}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
