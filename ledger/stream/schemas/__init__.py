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

from ledger.stream.schemas.envelope import DRAFT, ID_PREFIX, SOURCE, TYPE_PREFIX, envelope_schema
from ledger.stream.schemas.models import ALL_MODELS, CURRENT, MODELS, EventData

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "events"

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


def index() -> dict[str, Any]:
    return {
        "source": SOURCE,
        "events": {
            name: {
                "current": model.version,
                "type": f"{TYPE_PREFIX}{name}.v{model.version}",
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
