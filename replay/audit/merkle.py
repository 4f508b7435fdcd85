"""The ledger-wide Merkle tree of RFC 6962 / RFC 9162 section 2.1 (SHA-256), written from the RFC.

A tree of ``n`` leaves is stored as its *complete* subtrees: node ``(level, index)`` is the hash of
leaves ``[index * 2**level, (index + 1) * 2**level)``. Every hash a root, an inclusion proof or a
consistency proof needs is the hash of a range ``[lo, hi)`` that RFC 6962's recursion produces;
such a range is a run of complete subtrees of decreasing size (the binary digits of ``hi - lo``),
so it costs at most ``log2(n)`` stored nodes. :func:`inclusion_ranges` and
:func:`consistency_ranges` name the ranges, :func:`nodes_for` the stored nodes they need (one
query), :func:`range_hash` folds them.

:class:`Frontier` appends leaves and yields the complete nodes each append creates (amortised two
per leaf), keeping only the ``log2(n)`` hashes on the right edge of the tree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
Node = tuple[int, int]  # (level, index)


class ProofError(ValueError):
    """A proof that does not verify; the message says what is wrong."""


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def decompose(lo: int, hi: int) -> list[Node]:
    """The complete subtrees covering ``[lo, hi)``, left to right (largest first when ``lo`` is
    aligned, as in every range RFC 6962's recursion produces)."""
    nodes: list[Node] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        while lo & ((1 << level) - 1):
            level -= 1
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The RFC 6962 hash of a range given its complete subtrees, largest first: a right fold."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PATH(index, D[0:size]), from the leaf's sibling up."""
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    path: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The ranges whose hashes form PROOF(old, D[0:new]) (RFC 6962 section 2.1.2)."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    out: list[tuple[int, int]] = []

    def sub(m: int, lo: int, hi: int, whole: bool) -> None:
        if m == hi:
            if not whole:
                out.append((lo, hi))
            return
        k = _split(hi - lo)
        if m - lo <= k:
            sub(m, lo, lo + k, whole)
            out.append((lo + k, hi))
        else:
            sub(m, lo + k, hi, False)
            out.append((lo, lo + k))

    sub(old, 0, new, True)
    return out


def nodes_for(ranges: Iterable[tuple[int, int]]) -> set[Node]:
    """Every stored node the hashes of ``ranges`` need."""
    return {node for lo, hi in ranges for node in decompose(lo, hi)}


def range_hash(lo: int, hi: int, nodes: Mapping[Node, bytes]) -> bytes:
    return fold([nodes[n] for n in decompose(lo, hi)])


def hashes_for(ranges: Sequence[tuple[int, int]], read: Callable[[set[Node]], Mapping[Node, bytes]]) -> list[bytes]:
    """The hashes of ``ranges`` with one call of ``read`` for every node they need."""
    nodes = read(nodes_for(ranges))
    return [range_hash(lo, hi, nodes) for lo, hi in ranges]


def root_ranges(size: int) -> list[tuple[int, int]]:
    return [(0, size)] if size else []


class Frontier:
    """The right edge of a tree: the complete subtrees of sizes given by the binary digits of
    ``size``, largest first. Appending a leaf returns the complete nodes it creates."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes, not {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, packed: bytes) -> Frontier:
        return cls(size, [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)])

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @staticmethod
    def nodes(size: int) -> list[Node]:
        """The stored nodes that make up the frontier of a tree of ``size`` leaves."""
        return decompose(0, size)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return ``(level, index, hash)`` of every complete node above level 0
        that it completes (the leaf itself is level 0, index ``size`` before the append)."""
        created: list[tuple[int, int, bytes]] = []
        h = leaf
        index = self.size
        level = 0
        hashes = self.hashes
        while index & 1:
            h = node_hash(hashes.pop(), h)
            level += 1
            index >>= 1
            created.append((level, index, h))
        hashes.append(h)
        self.size += 1
        return created

    def add(self, leaf: bytes) -> None:
        """:meth:`append` for a caller that keeps none of the nodes it creates (the verifier)."""
        h = leaf
        index = self.size
        hashes = self.hashes
        sha256 = hashlib.sha256
        while index & 1:
            h = sha256(b"\x01" + hashes.pop() + h).digest()
            index >>= 1
        hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        return fold(self.hashes)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the definition (the reference for tests and small trees)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name}: a hash is {HASH_SIZE} bytes, this one is {len(value)}")


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 section 2.1.3.2), or ProofError."""
    _check_hash("leaf hash", leaf)
    if not 0 <= index < size:
        raise ProofError(f"index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
        if sn == 0:
            raise ProofError(f"the proof is longer than a path in a tree of size {size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"the proof is shorter than a path in a tree of size {size}")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless ``proof`` shows leaf ``index`` of a tree of ``size`` has hash ``leaf``."""
    _check_hash("root", root)
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise ProofError(f"the inclusion proof of index {index} does not lead to the root of size {size}")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Raise ProofError unless ``proof`` shows the tree of ``old`` leaves is a prefix of the one of
    ``new`` leaves (RFC 9162 section 2.1.4.2)."""
    for i, p in enumerate(proof):
        _check_hash(f"proof[{i}]", p)
    if old > new or old < 0:
        raise ProofError(f"size {old} is larger than size {new}")
    if old == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless")
    if old == new:
        if proof:
            raise ProofError("trees of equal size need an empty proof")
        if old_root != new_root:
            raise ProofError(f"two different roots for size {old}")
        return
    if not proof:
        raise ProofError(f"an empty proof cannot link size {old} to size {new}")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"the proof is longer than a consistency proof from {old} to {new}")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"the proof is shorter than a consistency proof from {old} to {new}")
    if fr != old_root:
        raise ProofError(f"the proof does not lead to the root of size {old}")
    if sr != new_root:
        raise ProofError(f"the proof does not lead to the root of size {new}")


class MemoryTree:
    """A whole tree in memory, stored as complete nodes like the ledger's tables (tests, small tools)."""

    def __init__(self) -> None:
        self.frontier = Frontier()
        self.nodes: dict[Node, bytes] = {}

    def append(self, leaf: bytes) -> None:
        self.nodes[(0, self.frontier.size)] = leaf
        for level, index, h in self.frontier.append(leaf):
            self.nodes[(level, index)] = h

    @property
    def size(self) -> int:
        return self.frontier.size

    def read(self, wanted: set[Node]) -> dict[Node, bytes]:
        return {n: self.nodes[n] for n in wanted}

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return fold([self.nodes[n] for n in decompose(0, size)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return hashes_for(inclusion_ranges(index, self.size if size is None else size), self.read)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        return hashes_for(consistency_ranges(old, self.size if new is None else new), self.read)
