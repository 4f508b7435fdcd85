"""The published JSON Schema of all commands, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from commands.registry import COMMAND_ADAPTER

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "commands.schema.json"


def render_schema() -> str:
    schema = COMMAND_ADAPTER.json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Select entitlement ledger commands",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
