"""Every command the ledger accepts: the core commands and those of support and room import."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from commands.models import CORE_COMMAND_TYPES, Command
from commands.support_models import SUPPORT_COMMAND_TYPES

COMMAND_TYPES: tuple[type[Command], ...] = CORE_COMMAND_TYPES + SUPPORT_COMMAND_TYPES
COMMANDS_BY_NAME: dict[str, type[Command]] = {c.__name__: c for c in COMMAND_TYPES}
_ANY: Any = Annotated[Union[COMMAND_TYPES], Field(discriminator="command")]  # noqa: UP007
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(_ANY)

from commands.handlers import HANDLERS as CORE_HANDLERS  # noqa: E402
from commands.handlers import Handler  # noqa: E402
from commands.support_handlers import SUPPORT_HANDLERS  # noqa: E402

HANDLERS: dict[type[Command], Handler] = {**CORE_HANDLERS, **SUPPORT_HANDLERS}
