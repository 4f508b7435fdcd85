"""Every command type has a handler and a schema, from the one list of command types (commands.registry)."""

from __future__ import annotations

import json
from typing import get_args

from commands.handlers import HANDLERS as CORE_HANDLERS
from commands.models import CORE_COMMAND_TYPES
from commands.registry import COMMAND_TYPES, COMMANDS_BY_NAME, HANDLERS
from commands.schema import SCHEMA_PATH, render_schema
from commands.support_handlers import SUPPORT_HANDLERS
from commands.support_models import SUPPORT_COMMAND_TYPES


def test_every_command_type_has_a_handler_and_nothing_else_does() -> None:
    assert set(HANDLERS) == set(COMMAND_TYPES)
    assert set(CORE_HANDLERS) == set(CORE_COMMAND_TYPES)
    assert set(SUPPORT_HANDLERS) == set(SUPPORT_COMMAND_TYPES)
    assert len(COMMAND_TYPES) == len(set(COMMAND_TYPES)) == len(COMMANDS_BY_NAME)
    assert set(COMMANDS_BY_NAME) == {c.__name__ for c in COMMAND_TYPES}
    for kind in COMMAND_TYPES:
        assert get_args(kind.model_fields["command"].annotation) == (kind.__name__,), kind


def test_every_command_type_has_a_published_schema() -> None:
    schema = json.loads(render_schema())
    published = {
        d["properties"]["command"]["const"] for d in schema["$defs"].values()
        if "command" in d.get("properties", {})
    }
    assert published == set(COMMANDS_BY_NAME)
    assert schema["discriminator"]["mapping"].keys() == set(COMMANDS_BY_NAME)
    assert SCHEMA_PATH.read_text("utf-8") == render_schema(), "run `ledger schema --write`"
