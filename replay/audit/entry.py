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

Canonicalisation uses the ``rfc8785`` library (the oracle). Values without floats, with ASCII keys
only and integers within ±(2**53 - 1) (all of the ledger's) take ``orjson`` with sorted keys and
its 53-bit integer limit, whose bytes are RFC 8785's for such values (string escapes, UTF-8 output,
key order: checked against ``rfc8785`` by property tests over generated entries); whatever orjson
refuses (a larger integer, a lone surrogate, a non-string key) and anything with a float or a
non-ASCII key goes to ``rfc8785``, which gives the canonical bytes or refuses the value.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any
from uuid import UUID

import orjson
import rfc8785

PERSONAL_KEYS = frozenset({"email", "address", "ship_to"})
ENVELOPE_KEYS = frozenset({"timestamp", "at", "actor", "originator_topic", "originator_id", "originator_version"})
SALT_BYTES = 16


def _unmarked(state: bytes) -> bool:
    """No personal key (:data:`PERSONAL_KEYS`, spelled out: substring tests in C) and no escape
    (no backslash: one ``memchr``, where the two bytes of a ``\\u`` escape cost a slower search) in a
    state's JSON text."""
    return b"\\" not in state and b'"email"' not in state and b'"address"' not in state and b'"ship_to"' not in state

COMMITMENT = "salted_sha256"

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
_orjson_dumps = orjson.dumps
_FastRefused = orjson.JSONEncodeError


def _fast(value: Any) -> bytes:
    """RFC 8785 bytes of a value with no float and ASCII keys only (see the module docstring);
    ``orjson.JSONEncodeError`` (a ``TypeError``) for what orjson cannot prove identical."""
    return _orjson_dumps(value, option=_OPTIONS)


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value`` (UTF-8)."""
    if _plain(value):
        try:
            return _fast(value)
        except _FastRefused:
            pass  # a lone surrogate or a large integer: rfc8785 decides
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    """No floats, string keys in ASCII only: where orjson (sorted keys, 53-bit integers) is RFC 8785
    (strings that cannot be encoded are caught when encoding)."""
    t = type(value)
    if t is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in value.items())
    if t is list:
        return all(_plain(v) for v in value)
    return t is str or t is int or t is bool or value is None


def _unwrap(d: dict[str, Any]) -> Any:
    if len(d) == 2 and "_type_" in d and "_data_" in d:
        return d["_data_"]
    return d


class _FloatFound(Exception):
    """A float in a state decoded for the fast path (it takes the full walk instead)."""


def _refuse_float(text: str) -> float:
    raise _FloatFound(text)


# Made once: json.loads with hooks builds a decoder on every call. NaN and the infinities (which
# orjson refuses, and the standard library reads) leave the fast path like any float: orjson
# would write them as null, RFC 8785 refuses them.
_decode_typed = json.JSONDecoder(object_hook=_unwrap, parse_float=_refuse_float, parse_constant=_refuse_float).decode
_orjson_loads = orjson.loads
_orjson_refused = orjson.JSONDecodeError


def _unwrap_in_place(value: Any) -> Any:
    """``value`` (fresh from orjson) with every typed value replaced by its ``_data_``, the
    result ``_decode_typed`` gives for the same text; ``_FloatFound`` for a float anywhere."""
    t = type(value)
    if t is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return _unwrap_in_place(value["_data_"])
        for k, v in value.items():
            tv = type(v)
            if tv is dict:
                # a typed value of text (a time, an id: most of them) unwrapped without a call
                if len(v) == 2 and "_type_" in v and "_data_" in v and type(v["_data_"]) is str:
                    value[k] = v["_data_"]
                else:
                    value[k] = _unwrap_in_place(v)
            elif tv is list:
                value[k] = _unwrap_in_place(v)
            elif tv is float:
                raise _FloatFound(k)
        return value
    if t is list:
        for i, v in enumerate(value):
            tv = type(v)
            if tv is dict or tv is list:
                value[i] = _unwrap_in_place(v)
            elif tv is float:
                raise _FloatFound(str(i))
        return value
    if t is float:
        raise _FloatFound("")
    return value


def _decode_plain(state: bytes) -> Any:
    """The fast path's decoding of an ASCII state with no escapes: ``_decode_typed``'s result
    (typed values unwrapped, ``_FloatFound`` for a float), by orjson and one walk in place (about
    half the CPU of the stdlib decoder calling a hook per object); what orjson refuses (an integer
    beyond 64 bits, NaN) goes to ``_decode_typed``."""
    try:
        decoded = _orjson_loads(state)
    except _orjson_refused:
        return _decode_typed(state.decode("ascii"))
    return _unwrap_in_place(decoded)


def decode_state(state: bytes) -> dict[str, Any]:
    """An event's stored state as plain JSON values (typed values as their text)."""
    decoded = json.loads(state, object_hook=_unwrap)
    if not isinstance(decoded, dict):
        raise ValueError("an event's state is a JSON object")
    return decoded


def commitment(salt: bytes, value: Any) -> dict[str, str]:
    return {COMMITMENT: hashlib.sha256(salt + canonical(value)).hexdigest()}


def _pointer(parent: str, key: str) -> str:
    if "~" in key or "/" in key:
        key = key.replace("~", "~0").replace("/", "~1")
    return parent + "/" + key


_urandom = os.urandom
_sha256 = hashlib.sha256


class _Committer:
    """Walks decoded state once: typed values to their text, personal values to commitments, and
    notes whether the result is plain JSON (see :func:`canonical`)."""

    __slots__ = ("erased", "given", "plain", "used")

    def __init__(self, given: Mapping[str, str] | None, erased: Mapping[str, Any] | None = None) -> None:
        self.given = given
        self.erased = erased or {}
        self.used: dict[str, str] = {}
        self.plain = True

    def commit(self, path: str, value: Any) -> Any:
        if path in self.erased:
            return self.erased[path]
        if self.given is None:
            salt = _urandom(SALT_BYTES)
        else:
            found = self.given.get(path)
            if found is None:
                raise MissingSalt(path)
            salt = bytes.fromhex(found)
        self.used[path] = salt.hex()
        if type(value) is str:
            try:
                text = _fast(value)
            except _FastRefused:
                text = rfc8785.dumps(value)
        else:
            text = canonical(self.walk(value, path, commit=False))
        return {COMMITMENT: _sha256(salt + text).hexdigest()}

    def walk(self, value: Any, path: str, commit: bool = True) -> Any:
        t = type(value)
        if t is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return value["_data_"]
            out = {}
            for k, v in value.items():
                if not k.isascii():
                    self.plain = False
                if commit and k in PERSONAL_KEYS and (v is not None or _pointer(path, k) in self.erased):
                    out[k] = self.commit(_pointer(path, k), v)
                else:
                    tv = type(v)
                    if tv is dict or tv is list:
                        out[k] = self.walk(v, _pointer(path, k), commit)
                    else:
                        if tv is float:
                            self.plain = False
                        out[k] = v
            return out
        if t is list:
            return [self.walk(v, f"{path}/{i}", commit) for i, v in enumerate(value)]
        if t is float:
            self.plain = False
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
    *,
    fast: bool = True,
    erased: Mapping[str, Any] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The canonical entry of one event and the salts it used (JSON pointer → hex salt).

    Without ``salts`` fresh ones are drawn (when the event is recorded); with them (verification)
    the same entry is rebuilt, or :class:`MissingSalt` names the value whose salt is gone.
    ``erased`` maps the JSON pointers of erased personal values (their salts deleted on purpose)
    to the commitments the logged entry holds for them: those are taken as they are, whatever the
    event's state holds there now (an erased value cannot be checked, everything else still is).
    """
    parts = _fast_parts(aggregate_id, state, salts) if fast and not erased else None
    if parts is not None:
        actor, aggregate, data, effective_at, recorded_at, used = parts
        entry = {"actor": actor, "aggregate_id": aggregate, "data": data, "effective_at": effective_at,
                 "prev": prev.hex() if prev is not None else None, "recorded_at": recorded_at, "seq": seq,
                 "type": topic.rpartition(":")[2], "version": version}
        try:
            return _orjson_dumps(entry, option=_OPTIONS), used
        except _FastRefused:
            return rfc8785.dumps(entry), used
    body, plain, used = _body(aggregate_id, version, topic, state, salts, False, erased)
    entry = {**body, "seq": seq, "prev": prev.hex() if prev is not None else None}
    if plain:
        try:
            return _fast(entry), used
        except _FastRefused:
            pass
    return rfc8785.dumps(entry), used


class EntryDraft:
    """An entry before its place in the log is known: the canonical bytes of all of it but ``seq``
    and ``prev``, and the salts drawn for it.

    The top-level keys sort as ``actor, aggregate_id, data, effective_at, prev, recorded_at, seq,
    type, version`` (all ASCII), so the entry is these bytes with ``prev`` and ``seq`` put in
    between: :meth:`finish` gives the bytes :func:`build_entry` gives for the same event, salts,
    ``seq`` and ``prev``. The writer drafts entries before it takes the insert lock and finishes
    them under it (a concatenation, no JSON work).
    """

    __slots__ = ("aggregate", "head", "middle", "salts", "tail")

    def __init__(self, head: bytes, middle: bytes, tail: bytes, salts: dict[str, str], aggregate: str) -> None:
        self.head = head
        self.middle = middle
        self.tail = tail
        self.salts = salts
        self.aggregate = aggregate  # the aggregate id's canonical text (as in the entry)

    def finish(self, seq: int, prev: bytes | None) -> bytes:
        previous = b"null" if prev is None else b'"' + prev.hex().encode("ascii") + b'"'
        return b"".join((self.head, b',"prev":', previous, self.middle, str(int(seq)).encode("ascii"), self.tail))


def draft_entry(
    aggregate_id: UUID | str, version: int, topic: str, state: bytes | Mapping[str, Any]
) -> EntryDraft:
    """The entry of one event about to be recorded, with fresh salts, but for ``seq`` and ``prev``."""
    parts = _fast_parts(aggregate_id, state, None)
    if parts is not None:
        actor, aggregate, data, effective_at, recorded_at, used = parts
        kind = topic.rpartition(":")[2]
        try:
            head = _orjson_dumps(
                {"actor": actor, "aggregate_id": aggregate, "data": data, "effective_at": effective_at}, option=_OPTIONS
            )
            return EntryDraft(
                head[:-1],
                b',"recorded_at":' + _orjson_dumps(recorded_at, option=_OPTIONS) + b',"seq":',
                b',"type":' + _orjson_dumps(kind, option=_OPTIONS) + b',"version":'
                + _orjson_dumps(version, option=_OPTIONS) + b"}",
                used,
                aggregate,
            )
        except _FastRefused:
            body = {"aggregate_id": aggregate, "version": version, "type": kind, "effective_at": effective_at,
                    "recorded_at": recorded_at, "actor": actor, "data": data}
            return _draft(body, rfc8785.dumps, used)
    body, plain, used = _body(aggregate_id, version, topic, state, None, False)
    if plain:
        try:
            return _draft(body, _fast, used)
        except _FastRefused:
            pass
    return _draft(body, rfc8785.dumps, used)


def _draft(body: dict[str, Any], dumps: Any, used: dict[str, str]) -> EntryDraft:
    head = dumps({k: body[k] for k in ("actor", "aggregate_id", "data", "effective_at")})
    return EntryDraft(
        head=head[:-1],
        middle=b',"recorded_at":' + dumps(body["recorded_at"]) + b',"seq":',
        tail=b',"type":' + dumps(body["type"]) + b',"version":' + dumps(body["version"]) + b"}",
        salts=used,
        aggregate=body["aggregate_id"],
    )


# Aggregate id → canonical text, for the ids seen lately (``str(UUID)`` is Python code; an
# aggregate's events come in runs).
_texts: dict[Any, str] = {}
_TEXTS = 4096


def _loads_any(state: bytes | bytearray | memoryview[int]) -> Any:
    """``json.loads``' values for a state's text, by orjson where it reads the text (the same
    values: strings, integers, floats correctly rounded, the last of duplicate keys), else by
    ``json.loads`` (NaN, integers beyond 64 bits, lone surrogates, which orjson refuses)."""
    text = state if type(state) is bytes else bytes(state)
    try:
        return _orjson_loads(text)
    except _orjson_refused:
        return json.loads(text)


def _fast_parts(
    aggregate_id: UUID | str, state: bytes | Mapping[str, Any], salts: Mapping[str, str] | None
) -> tuple[Any, str, dict[str, Any], Any, Any, dict[str, str]] | None:
    """The fast path of :func:`_body`: ``(actor, aggregate id text, data, effective_at,
    recorded_at, salts used)`` of a state with no personal key anywhere, every string ASCII and no
    float (the entry is then plain JSON, see :func:`canonical`), decoded with the typed values
    unwrapped in one walk over orjson's result (:func:`_decode_plain`); None for any other state
    (it takes the full walk)."""
    if type(state) is not bytes or not state.isascii() or not _unmarked(state):
        return None
    try:
        decoded = _decode_plain(state)
    except _FloatFound:
        return None
    if type(decoded) is not dict:
        return None
    pop = decoded.pop
    actor = pop("actor", None)
    used: dict[str, str] = {}
    if type(actor) is str and "@" in actor:  # personal_actor
        committer = _Committer(salts)
        actor = committer.commit("/actor", actor)
        used = committer.used
    effective_at, recorded_at = pop("at", None), pop("timestamp", None)
    pop("originator_topic", None)
    pop("originator_id", None)
    pop("originator_version", None)
    text = _texts.get(aggregate_id)
    if text is None:
        if len(_texts) >= _TEXTS:
            _texts.clear()
        text = _texts[aggregate_id] = aggregate_text(aggregate_id)
    return actor, text, decoded, effective_at, recorded_at, used


def _body(
    aggregate_id: UUID | str,
    version: int,
    topic: str,
    state: bytes | Mapping[str, Any],
    salts: Mapping[str, str] | None,
    fast: bool,
    erased: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], bool, dict[str, str]]:
    """The entry without ``seq`` and ``prev``, whether it is plain JSON (see :func:`canonical`),
    and the salts used."""
    if fast:
        parts = _fast_parts(aggregate_id, state, salts)
        if parts is not None:
            actor, aggregate, data, effective_at, recorded_at, used = parts
            return ({"aggregate_id": aggregate, "version": version, "type": topic.rpartition(":")[2],
                     "effective_at": effective_at, "recorded_at": recorded_at, "actor": actor, "data": data},
                    True, used)
    decoded = _loads_any(state) if isinstance(state, (bytes, bytearray, memoryview)) else dict(state)
    if type(decoded) is not dict:
        raise ValueError("an event's state is a JSON object")
    committer = _Committer(salts, erased)
    actor = decoded.get("actor")
    data = {k: v for k, v in decoded.items() if k not in ENVELOPE_KEYS}
    body = {
        "aggregate_id": aggregate_text(aggregate_id),
        "version": version,
        "type": topic.rpartition(":")[2],
        "effective_at": _text(decoded.get("at")),
        "recorded_at": _text(decoded.get("timestamp")),
        "actor": committer.commit("/actor", actor) if personal_actor(actor) or "/actor" in committer.erased
        else committer.walk(actor, "/actor"),
        "data": committer.walk(data, "/data"),
    }
    return body, committer.plain, committer.used


def _text(value: Any) -> Any:
    if type(value) is dict and "_data_" in value:
        return value["_data_"]
    return value


def aggregate_text(aggregate_id: UUID | str) -> str:
    """An aggregate id in its canonical text form (``8-4-4-4-12`` lowercase hex)."""
    if isinstance(aggregate_id, UUID):
        return str(aggregate_id)
    text = str(aggregate_id)
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-" and text.islower():
        return text
    if len(text) == 32:
        text = text.lower()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return str(UUID(text))


def value_at(document: Any, pointer: str) -> Any:
    """The value at a JSON pointer (RFC 6901) of ``document``; ``KeyError`` when there is none."""
    value = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if type(value) is dict and token in value:
            value = value[token]
        elif type(value) is list and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise KeyError(pointer)
    return value


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
