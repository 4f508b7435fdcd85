"""The audit entry of one recorded event: RFC 8785 canonical JSON, personal values committed to.

An entry is the canonical JSON (RFC 8785, JSON Canonicalization Scheme) of::

    {"seq": 17, "aggregate_id": "…", "version": 3, "type": "Customer.OrderPlaced",
     "effective_at": "…", "recorded_at": "…", "actor": …, "data": {…}, "prev": "<hex>" | null}

``data`` is the event's stored state without the envelope fields (times, actor), with the
library's typed values (``{"_type_": "uuid_hex", "_data_": …}``) written as their text. ``prev`` is
the leaf hash of the same aggregate's previous entry (a per-aggregate hash chain).

Personal values (under the keys in :data:`PERSONAL_KEYS`, and an actor that is an e-mail address)
are not in the entry: each is replaced by ``{"salted_sha256": hex(SHA-256(salt || JCS(value)))}``
with a fresh 16-byte salt per value. The salts are stored beside the entry (never inside it), keyed
by the JSON pointer of the value, so erasing a person's data later (deleting the value and its
salts) leaves every entry, leaf hash and proof as it was.

Canonicalisation uses the ``rfc8785`` library. Entries without floats and with ASCII keys only (all
of the ledger's) take the standard library's ``json.dumps(sort_keys=True)``, whose bytes are the
same for such values (checked against ``rfc8785`` by a property test); anything else goes to
``rfc8785``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import rfc8785

PERSONAL_KEYS = frozenset({"email", "address", "ship_to"})
ENVELOPE_KEYS = frozenset({"timestamp", "at", "actor", "originator_topic", "originator_id", "originator_version"})
SALT_BYTES = 16
COMMITMENT = "salted_sha256"

_dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value`` (UTF-8)."""
    if _plain(value):
        return _dumps(value).encode("utf-8")
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    """No floats, ASCII keys only: where ``json.dumps(sort_keys=True)`` is RFC 8785."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, str):
        # Lone surrogates cannot be encoded; rfc8785 refuses them with a clear error.
        return not any("\ud800" <= c <= "\udfff" for c in value) if not value.isascii() else True
    return value is None or isinstance(value, (bool, int))


def _unwrap(d: dict[str, Any]) -> Any:
    if len(d) == 2 and "_type_" in d and "_data_" in d:
        return d["_data_"]
    return d


def decode_state(state: bytes) -> dict[str, Any]:
    """An event's stored state as plain JSON values (typed values as their text)."""
    decoded = json.loads(state, object_hook=_unwrap)
    if not isinstance(decoded, dict):
        raise ValueError("an event's state is a JSON object")
    return decoded


def commitment(salt: bytes, value: Any) -> dict[str, str]:
    return {COMMITMENT: hashlib.sha256(salt + canonical(value)).hexdigest()}


def _pointer(parent: str, key: str) -> str:
    return parent + "/" + key.replace("~", "~0").replace("/", "~1")


class _Committer:
    __slots__ = ("given", "used")

    def __init__(self, given: Mapping[str, str] | None) -> None:
        self.given = given
        self.used: dict[str, str] = {}

    def commit(self, path: str, value: Any) -> dict[str, str]:
        if self.given is None:
            salt = os.urandom(SALT_BYTES)
        else:
            found = self.given.get(path)
            if found is None:
                raise MissingSalt(path)
            salt = bytes.fromhex(found)
        self.used[path] = salt.hex()
        return commitment(salt, value)

    def walk(self, value: Any, path: str) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                p = _pointer(path, k)
                out[k] = self.commit(p, v) if k in PERSONAL_KEYS and v is not None else self.walk(v, p)
            return out
        if isinstance(value, list):
            return [self.walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        return value


class MissingSalt(KeyError):
    """A personal value whose salt is not stored (erased, or never written)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def event_type(topic: str) -> str:
    """``aggregates.customer:Customer.OrderPlaced`` → ``Customer.OrderPlaced`` (stable across module moves)."""
    return topic.rpartition(":")[2]


def personal_actor(actor: Any) -> bool:
    return isinstance(actor, str) and "@" in actor


def build_entry(
    seq: int,
    aggregate_id: UUID | str,
    version: int,
    topic: str,
    state: bytes | Mapping[str, Any],
    prev: bytes | None,
    salts: Mapping[str, str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The canonical entry of one event and the salts it used (JSON pointer → hex salt).

    Without ``salts`` fresh ones are drawn (when the event is recorded); with them (verification)
    the same entry is rebuilt, or :class:`MissingSalt` names the value whose salt is gone.
    """
    decoded = decode_state(state) if isinstance(state, (bytes, bytearray, memoryview)) else dict(state)
    committer = _Committer(salts)
    actor = decoded.get("actor")
    data = {k: v for k, v in decoded.items() if k not in ENVELOPE_KEYS}
    entry = {
        "seq": seq,
        "aggregate_id": str(aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))),
        "version": version,
        "type": event_type(topic),
        "effective_at": decoded.get("at"),
        "recorded_at": decoded.get("timestamp"),
        "actor": committer.commit("/actor", actor) if personal_actor(actor) else actor,
        "data": committer.walk(data, "/data"),
        "prev": prev.hex() if prev is not None else None,
    }
    return canonical(entry), committer.used


def parse_entry(entry: bytes) -> dict[str, Any]:
    parsed = json.loads(entry)
    if not isinstance(parsed, dict):
        raise ValueError("an audit entry is a JSON object")
    return parsed


def differences(stored: Mapping[str, Any], recomputed: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Human-readable paths where two entries differ (``data.po_number: 'A' → 'B'``)."""
    out: list[str] = []
    for key in sorted(set(stored) | set(recomputed)):
        a, b = stored.get(key, "<absent>"), recomputed.get(key, "<absent>")
        if a == b:
            continue
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict) and COMMITMENT not in a:
            out.extend(differences(a, b, name + "."))
        elif isinstance(a, dict) and COMMITMENT in a:
            out.append(f"{name}: personal value differs from its commitment")
        else:
            out.append(f"{name}: log has {a!r}, event has {b!r}")
    return out
