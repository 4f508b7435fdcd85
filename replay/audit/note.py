"""C2SP signed notes (Ed25519), tlog-checkpoints and tlog-proof@v1 bundles, from the C2SP texts.

- signed note: text ending in a newline, a blank line, then ``— <key name> base64(key id || sig)``;
  key id = ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; verifier key
  ``<name>+<hex key id>+base64(0x01 || public key)``.
- checkpoint: the note text ``<origin>\\n<tree size>\\n<base64 root>\\n``.
- proof: ``c2sp.org/tlog-proof@v1``, ``extra <base64>``, ``index <n>``, one base64 hash a line,
  a blank line, the checkpoint verbatim.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from replay.audit.merkle import HASH_SIZE, ProofError, leaf_hash, verify_inclusion

ED25519 = 0x01
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DASH = "\u2014"


class NoteError(ValueError):
    """A note, checkpoint, key or proof bundle that is malformed or does not verify."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteError(f"{what}: {text[:40]!r} is not base64") from None


def _check_name(name: str) -> None:
    if not name or re.search(r"[\s+]", name):
        raise NoteError(f"key name {name!r}: must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A verifier key: the key name, its key id and the Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("public key: expected <name>+<key id hex>+<base64 key>")
        name, hex_id, material = parts
        _check_name(name)
        try:
            kid = bytes.fromhex(hex_id)
        except ValueError:
            raise NoteError(f"public key: key id {hex_id!r} is not hex") from None
        raw = unb64(material, "public key")
        if len(kid) != 4 or len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("public key: not an Ed25519 verifier key (type 0x01, 32 bytes)")
        if key_id(name, raw[1:]) != kid:
            raise NoteError("public key: the key id does not match the name and key")
        return cls(name, kid, raw[1:])

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{b64(bytes([ED25519]) + self.public_key)}"

    def verify(self, note: str) -> str:
        """The note's text if a signature by this key verifies; NoteError otherwise."""
        text, signatures = split_note(note)
        for name, sig in signatures:
            if name == self.name and sig[:4] == self.key_id:
                try:
                    Ed25519PublicKey.from_public_bytes(self.public_key).verify(sig[4:], text.encode())
                except InvalidSignature:
                    raise NoteError(f"the signature of {self.name} does not verify") from None
                return text
        raise NoteError(f"the note carries no signature of {self.name}+{self.key_id.hex()}")


class Signer:
    """Signs notes with an Ed25519 private key under ``name``."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, key_id(name, public), public)

    def sign(self, text: str) -> str:
        if not text.endswith("\n"):
            raise NoteError("a note's text ends with a newline")
        sig = self._key.sign(text.encode())
        return f"{text}\n{_DASH} {self.name} {b64(self.verifier.key_id + sig)}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text (with its final newline) and the ``(key name, key id || signature)`` lines."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note has no control characters other than newline")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("a note is text, a blank line and signature lines, each ending in a newline")
    text, block = note[: cut + 1], note[cut + 2 :]
    signatures = []
    for line in block.splitlines():
        match = re.fullmatch(_DASH + r" (\S+) (\S+)", line)
        if match is None:
            raise NoteError(f"signature line {line[:60]!r} is not '— <name> <base64>'")
        sig = unb64(match.group(2), "signature")
        if len(sig) < 5:
            raise NoteError("a signature is a key id and signature bytes")
        signatures.append((match.group(1), sig))
    if not signatures:
        raise NoteError("a note has at least one signature")
    return text, signatures


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{b64(self.root)}\n"

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise NoteError("a checkpoint is origin, size and root hash, one a line")
        origin, size, root = lines[0], lines[1], lines[2]
        if not re.fullmatch(r"0|[1-9][0-9]*", size):
            raise NoteError(f"checkpoint size {size!r} is not a decimal without leading zeroes")
        digest = unb64(root, "checkpoint root")
        if len(digest) != HASH_SIZE:
            raise NoteError("checkpoint root is not a SHA-256 hash")
        return cls(origin, int(size), digest)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint of a signed note, verified with ``verifier`` whose name is its origin."""
    checkpoint = Checkpoint.parse_text(verifier.verify(note))
    if checkpoint.origin != verifier.name:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not the key's name {verifier.name!r}")
    return checkpoint


ERASURE_HEADER = "select-ledger.example/erasure@v1"


def erasure_text(origin: str, seq: int, leaf: bytes, pointer: str) -> str:
    """The text of an erasure record: the personal value at ``pointer`` (RFC 6901, written as a
    JSON string) of the entry at ``seq`` whose leaf hash is ``leaf`` was erased on purpose (its
    salt deleted). Signed with the checkpoint key; its second line is never a tree size, so an
    erasure record is never read as a checkpoint."""
    return f"{origin}\n{ERASURE_HEADER}\n{seq}\n{leaf.hex()}\n{json.dumps(pointer)}\n"


def open_erasure(note: str, verifier: Verifier | None, seq: int, leaf: bytes, pointer: str) -> None:
    """Check an erasure record names this entry and value (and, with ``verifier``, is signed by
    it); ``NoteError`` otherwise."""
    if verifier is not None:
        text = verifier.verify(note)
        origin = verifier.name
    else:
        text, _ = split_note(note)
        origin = text.split("\n", 1)[0]
    if text != erasure_text(origin, seq, leaf, pointer):
        raise NoteError(f"the erasure record does not name entry {seq} (leaf {leaf.hex()[:16]}…) and {pointer}")


@dataclass(frozen=True)
class ProofBundle:
    """A tlog-proof@v1: the entry (extra data), its index, the inclusion path and the signed checkpoint."""

    extra: bytes
    index: int
    path: list[bytes]
    checkpoint: str

    def render(self) -> str:
        lines = [PROOF_HEADER, f"extra {b64(self.extra)}", f"index {self.index}", *(b64(h) for h in self.path)]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> ProofBundle:
        head, sep, checkpoint = text.partition("\n\n")
        if not sep:
            raise NoteError("a tlog proof has a blank line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != PROOF_HEADER:
            raise NoteError(f"the first line of a tlog proof is {PROOF_HEADER!r}")
        rest = lines[1:]
        extra = b""
        if rest and rest[0].startswith("extra "):
            extra = unb64(rest.pop(0)[6:], "extra")
        if not rest or not re.fullmatch(r"index (0|[1-9][0-9]*)", rest[0]):
            raise NoteError("a tlog proof names its index: 'index <n>'")
        index = int(rest.pop(0)[6:])
        path = [unb64(line, "inclusion proof") for line in rest]
        return cls(extra, index, path, checkpoint)

    def verify(self, verifier: Verifier) -> Checkpoint:
        """Check the checkpoint's signature and the entry's inclusion; return the checkpoint."""
        checkpoint = open_checkpoint(self.checkpoint, verifier)
        try:
            verify_inclusion(self.index, checkpoint.size, leaf_hash(self.extra), self.path, checkpoint.root)
        except ProofError as exc:
            raise NoteError(f"inclusion: {exc}") from None
        return checkpoint
