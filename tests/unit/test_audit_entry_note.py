"""Audit entries (RFC 8785, salted commitments) and the C2SP note, checkpoint and proof formats."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from replay.audit.entry import MissingSalt, build_entry, canonical, draft_entry, parse_entry
from replay.audit.merkle import MemoryTree, leaf_hash
from replay.audit.note import Checkpoint, NoteError, ProofBundle, Signer, Verifier, open_checkpoint

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


SAFE = 2**53 - 1
wide_scalars = (
    st.none() | st.booleans() | st.integers() | st.sampled_from([SAFE, -SAFE, SAFE + 1, -SAFE - 1, 2**63, 2**64])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text() | st.text(alphabet=st.characters(codec=None, categories=["Cc", "Cs", "Zl", "Zp", "So", "Lo"]))
)
wide_values = st.recursive(
    wide_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


@settings(deadline=None, max_examples=300)
@given(st.one_of(json_values, wide_values))
def test_s8_canonical_json_is_rfc8785(value: Any) -> None:
    """The orjson fast path gives the library's bytes or leaves the value to the library: unicode
    (controls, lone surrogates, line separators, astral), floats, nesting, integers beyond 2**53."""
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(rfc8785.CanonicalizationError):
            canonical(value)
        return
    assert canonical(value) == expected


def _safe_number(text: str) -> float:
    """JSON integers read as the numbers RFC 8785 means (IEEE 754 doubles: a float written without
    a fraction, such as 2.0**53, reads back as one); integers themselves are checked against the
    library's domain by test_s8_canonical_json_is_rfc8785."""
    return float(text)


@settings(deadline=None, max_examples=300)
@given(
    st.dictionaries(st.sampled_from(["po_number", "email", "address", "n", "years", "é", "ship_to", "a/b~c"]),
                    wide_values, max_size=6),
    st.one_of(st.none(), st.text(max_size=12), st.integers()),
    st.booleans(),
)
def test_s8_entry_bytes_are_the_rfc8785_librarys(data: dict[str, Any], actor: Any, ascii_state: bool) -> None:
    """Every entry ``build_entry`` makes (its fast path) is byte for byte the library's
    canonicalisation of it, or refused as the library refuses it."""
    state = json.dumps({"timestamp": {"_type_": "datetime_iso", "_data_": "2026-05-01T09:00:01+00:00"},
                        "at": "2026-05-01T09:00:00+00:00", "actor": actor, **data},
                       ensure_ascii=ascii_state).encode("utf-8", "surrogatepass")
    try:
        entry, salts = build_entry(7, AGG, 2, "aggregates.customer:Customer.OrderPlaced", state, b"\x02" * 32)
    except rfc8785.CanonicalizationError:
        slow = None
        with pytest.raises((rfc8785.CanonicalizationError, UnicodeError)):
            slow = build_entry(7, AGG, 2, "aggregates.customer:Customer.OrderPlaced", state, b"\x02" * 32,
                               fast=False)
        assert slow is None
        return
    except (UnicodeError, ValueError):
        return  # a state that is not JSON text (lone surrogates as UTF-8): never recorded
    assert entry == rfc8785.dumps(json.loads(entry, parse_int=_safe_number))
    again, _ = build_entry(7, AGG, 2, "aggregates.customer:Customer.OrderPlaced", state, b"\x02" * 32, salts,
                           fast=False)
    assert again == entry


def test_s8_every_personal_key_sends_a_state_to_the_full_walk() -> None:
    from replay.audit.entry import PERSONAL_KEYS, _unmarked

    assert _unmarked(b'{"po_number":"PO-1","emails":2}')
    for key in PERSONAL_KEYS:
        assert not _unmarked(json.dumps({"x": {key: "v"}}).encode()), key
    assert not _unmarked(json.dumps({"name": "Åse"}).encode())  # escaped non-ASCII


def test_s8_canonical_json_of_floats_goes_through_rfc8785() -> None:
    assert canonical({"b": 1.0, "a": 1e21}) == b'{"a":1e+21,"b":1}'


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_s8_an_entry_refuses_nan_and_infinities_as_rfc8785_does(constant: str) -> None:
    # given a stored state holding NaN or an infinity (the standard library's JSON writes them;
    # orjson refuses to read them, so the fast path's fallback decoder reads them)
    state = (b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-05-01T09:00:01+00:00"},'
             b'"at":{"_type_":"datetime_iso","_data_":"2026-05-01T09:00:00+00:00"},"actor":"ops","quantity":'
             + constant.encode() + b"}")
    topic = "aggregates.customer:Customer.OrderPlaced"
    # when its entry is drafted (writer) or built (verifier), then it is refused as RFC 8785 refuses
    # the value, never written with the value as null
    with pytest.raises(rfc8785.FloatDomainError):
        draft_entry(AGG, 1, topic, state)
    with pytest.raises(rfc8785.FloatDomainError):
        build_entry(0, AGG, 1, topic, state, None, {})
    with pytest.raises(rfc8785.FloatDomainError):
        canonical({"quantity": float(constant.replace("Infinity", "inf"))})


STATE = json.dumps({
    "timestamp": {"_type_": "datetime_iso", "_data_": "2026-05-01T09:00:01+00:00"},
    "at": {"_type_": "datetime_iso", "_data_": "2026-05-01T09:00:00+00:00"},
    "actor": "ann@example.com",
    "po_number": "PO-1",
    "end_customer": {"company": "Acme", "email": "it@acme.example", "address": {"city": "Oslo"}},
}).encode()
AGG = "5f0c5ad2-3f71-4d0e-9a6b-0e4b3c2a1d10"


def test_s8_entry_commits_to_personal_values_with_salts_kept_outside() -> None:
    entry, salts = build_entry(4, AGG, 2, "aggregates.customer:Customer.OrderPlaced", STATE, b"\x01" * 32)
    parsed = parse_entry(entry)
    assert parsed["seq"] == 4 and parsed["version"] == 2 and parsed["type"] == "Customer.OrderPlaced"
    assert parsed["prev"] == "01" * 32 and parsed["effective_at"] == "2026-05-01T09:00:00+00:00"
    assert parsed["data"]["po_number"] == "PO-1" and parsed["data"]["end_customer"]["company"] == "Acme"
    assert set(salts) == {"/actor", "/data/end_customer/email", "/data/end_customer/address"}
    for secret in (b"ann@example.com", b"it@acme.example", b"Oslo"):
        assert secret not in entry
        assert all(secret.decode() not in s for s in salts.values())
    again, _ = build_entry(4, AGG, 2, "aggregates.customer:Customer.OrderPlaced", STATE, b"\x01" * 32, salts)
    assert again == entry
    other, _ = build_entry(4, AGG, 2, "aggregates.customer:Customer.OrderPlaced", STATE, b"\x01" * 32)
    assert other != entry  # fresh salts: equal values do not give equal commitments
    with pytest.raises(MissingSalt) as missing:
        build_entry(4, AGG, 2, "x:Customer.OrderPlaced", STATE, None, {"/actor": salts["/actor"]})
    assert missing.value.path.startswith("/data/end_customer/")


def _signer() -> Signer:
    return Signer("ledger.example/audit", Ed25519PrivateKey.generate())


def test_s8_signed_checkpoint_and_verifier_key_round_trip() -> None:
    signer = _signer()
    note = signer.sign(Checkpoint("ledger.example/audit", 3, b"\x07" * 32).text())
    vkey = str(signer.verifier)
    name, kid, material = vkey.split("+", 2)
    assert name == "ledger.example/audit" and len(kid) == 8
    assert open_checkpoint(note, Verifier.parse(vkey)) == Checkpoint("ledger.example/audit", 3, b"\x07" * 32)
    with pytest.raises(NoteError, match="does not verify"):
        open_checkpoint(note.replace("\n3\n", "\n4\n"), Verifier.parse(vkey))
    with pytest.raises(NoteError, match="no signature"):
        open_checkpoint(note, _signer().verifier)
    with pytest.raises(NoteError, match="key id"):
        Verifier.parse(f"{name}+00000000+{material}")


def test_s8_signed_note_spec_example_verifies() -> None:
    # The example of c2sp.org/signed-note.
    vkey = Verifier.parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    note = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncA"
            "lTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")
    assert vkey.verify(note) == "This is an example message.\n"


def test_s8_proof_bundle_round_trips_and_rejects_a_changed_entry() -> None:
    signer = _signer()
    tree = MemoryTree()
    entries = [f'{{"seq":{i}}}'.encode() for i in range(5)]
    for e in entries:
        tree.append(leaf_hash(e))
    note = signer.sign(Checkpoint(signer.name, 5, tree.root()).text())
    bundle = ProofBundle(entries[3], 3, tree.inclusion_proof(3), note)
    text = bundle.render()
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    parsed = ProofBundle.parse(text)
    assert parsed == bundle
    assert parsed.verify(signer.verifier).size == 5
    with pytest.raises(NoteError, match="inclusion"):
        ProofBundle(entries[2], 3, parsed.path, note).verify(signer.verifier)
    with pytest.raises(NoteError):
        ProofBundle.parse(text.replace("index 3", "index 03"))


@settings(deadline=None)
@given(
    st.dictionaries(st.sampled_from(["po_number", "email", "address", "name", "years", "é", "ship_to"]), json_values,
                    max_size=5),
    st.integers(0, 2**40),
    st.integers(1, 10_000),
    st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
    st.one_of(st.none(), st.text(max_size=12)),
)
def test_s8_an_entry_drafted_before_the_insert_lock_is_the_entry_built_under_it(
    data: dict[str, Any], seq: int, version: int, prev: bytes | None, actor: str | None
) -> None:
    """The writer drafts entries before it takes the lock and puts ``seq`` and ``prev`` in after:
    the bytes are those of ``build_entry`` (the verifier's) with the same salts, and RFC 8785."""
    state = json.dumps({"timestamp": {"_type_": "datetime_iso", "_data_": "2026-05-01T09:00:01+00:00"},
                        "at": {"_type_": "datetime_iso", "_data_": "2026-05-01T09:00:00+00:00"},
                        "actor": actor, **data}).encode()
    draft = draft_entry(AGG, version, "aggregates.customer:Customer.OrderPlaced", state)
    entry = draft.finish(seq, prev)
    built, _ = build_entry(seq, AGG, version, "aggregates.customer:Customer.OrderPlaced", state, prev, draft.salts)
    assert entry == built == rfc8785.dumps(parse_entry(entry))
