"""The Merkle tree of RFC 6962 / RFC 9162: hashes, proofs read from stored subtrees, verifiers.

The tree is kept as *perfect subtrees*: node ``(level, index)`` is the hash of the leaves
``[index * 2**level, (index + 1) * 2**level)``, and level 0 holds the leaf hashes. Every node of
the RFC tree of size n is either such a perfect node or lies on the tree's right edge, where its
hash is the RFC fold of the perfect subtrees covering it. So each proof is first planned (the
O(log n) perfect nodes it needs), then fetched in one call (one query), then assembled.

Consistency from the empty tree is refused rather than trivially granted, as the RFC 6962
conformance vectors of transparency-dev/merkle demand: it proves nothing about any history.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from hashlib import sha256

HASH_SIZE = 32
Node = tuple[int, int]
"""A perfect subtree: (level, index)."""
Fetch = Callable[[Collection[Node]], Mapping[Node, bytes]]
"""Given perfect-subtree keys, their hashes (a key the store lacks is simply left out)."""
Plan = list[list[Node]]
"""One entry per hash to produce: the perfect subtrees, largest first, that it folds."""

EMPTY_ROOT = sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not show what it claims; the message says in words what is wrong."""


def leaf_hash(data: bytes) -> bytes:
    """The leaf hash; the 0x00 prefix keeps a leaf from passing for an inner node."""
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def perfect_cover(start: int, end: int) -> list[Node]:
    """The perfect subtrees, largest first, that make up the RFC node over leaves [start, end).

    Every RFC node starts at a multiple of a power of two at least as large as its width, so the
    pieces follow the binary digits of the width, each aligned to its own size."""
    nodes = []
    width = end - start
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The RFC hash of perfect subtrees given largest first: H(a, H(b, H(c, d)))."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _assemble(fetch: Fetch, plan: Plan) -> list[bytes]:
    """Each planned hash, from one call of ``fetch`` (none if nothing is needed)."""
    keys = {key for cover in plan for key in cover}
    found = fetch(keys) if keys else {}
    missing = keys - found.keys()
    if missing:
        lacking = f"{len(missing)} of the {len(keys)} subtrees needed, first (level, index) {min(missing)}"
        raise LookupError(f"the tree store lacks {lacking}: it is behind the size asked for")
    return [_fold([found[key] for key in cover]) for cover in plan]


def root(fetch: Fetch, size: int) -> bytes:
    """The root of the tree of the first ``size`` leaves."""
    if size < 0:
        raise ValueError(f"a tree cannot have {size} leaves")
    return _assemble(fetch, [perfect_cover(0, size)])[0] if size else EMPTY_ROOT


def inclusion_plan(index: int, size: int) -> Plan:
    """RFC 9162 PATH(index, D[0:size]), bottom up: the sibling of each node above the leaf."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    plan, level = [], 0
    while 1 << level < size:
        start = ((index >> level) ^ 1) << level
        if start < size:  # else the node has no sibling here: it is promoted unhashed
            plan.append(perfect_cover(start, min(start + (1 << level), size)))
        level += 1
    return plan


def inclusion_proof(fetch: Fetch, index: int, size: int) -> list[bytes]:
    return _assemble(fetch, inclusion_plan(index, size))


def inclusion_proofs(fetch: Fetch, indices: Sequence[int], size: int) -> list[list[bytes]]:
    """The proofs of several leaves in the same tree with one fetch (a change-log bundle's)."""
    plans = [inclusion_plan(index, size) for index in indices]
    hashes = iter(_assemble(fetch, [cover for plan in plans for cover in plan]))
    return [[next(hashes) for _ in plan] for plan in plans]


def consistency_plan(old_size: int, new_size: int) -> Plan:
    """RFC 9162 SUBPROOF(old_size, D[0:new_size], true), walked from the root down."""
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} leaves (needs 0 < old <= new)")
    siblings, start, end, known = [], 0, new_size, True
    while old_size != end:
        half = 1 << ((end - start - 1).bit_length() - 1)
        if old_size <= start + half:
            siblings.append(perfect_cover(start + half, end))
            end = start + half
        else:
            siblings.append(perfect_cover(start, start + half))
            start, known = start + half, False
    return ([] if known else [perfect_cover(start, end)]) + siblings[::-1]


def consistency_proof(fetch: Fetch, old_size: int, new_size: int) -> list[bytes]:
    return _assemble(fetch, consistency_plan(old_size, new_size))


def _check_hashes(what: str, hashes: Sequence[bytes], expected_count: int) -> None:
    if len(hashes) != expected_count:
        raise ProofError(f"the proof has {len(hashes)} hashes; {what} needs {expected_count}")
    for position, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise ProofError(f"proof hash {position} is {len(value)} bytes, not {HASH_SIZE}")


def _shift_to_set_bit(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def root_from_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from the leaf (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"the leaf hash is {len(leaf_hash)} bytes, not {HASH_SIZE}")
    inner = (index ^ (size - 1)).bit_length()
    _check_hashes(f"leaf {index} of {size}", proof, inner + (index >> inner).bit_count())
    fn, sn, result = index, size - 1, leaf_hash
    for sibling in proof:
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ``ProofError`` unless ``proof`` shows the leaf at ``index`` in the tree of ``root``."""
    found = root_from_inclusion(leaf_hash, index, size, proof)
    if found != root:
        raise ProofError(f"the proof leads to root {found.hex()}, not to {root.hex()}")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ``ProofError`` unless ``proof`` shows the new tree extends the old (RFC 9162 2.1.4.2)."""
    if old_size < 0 or old_size > new_size:
        raise ProofError(f"a tree of {old_size} leaves cannot precede one of {new_size}")
    if old_size == 0:
        raise ProofError("consistency with the empty tree proves nothing and is not accepted")
    if old_size == new_size:
        _check_hashes("two trees of the same size", proof, 0)
        if old_root != new_root:
            raise ProofError(f"two trees of {old_size} leaves have different roots")
        return
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    shift = (old_size & -old_size).bit_length() - 1
    seeded = old_size == 1 << shift  # the old root is then itself the first node, left implicit
    count = (0 if seeded else 1) + inner - shift + ((old_size - 1) >> inner).bit_count()
    _check_hashes(f"consistency from {old_size} to {new_size}", proof, count)
    path = [old_root, *proof] if seeded else list(proof)
    fn, sn = (old_size - 1) >> shift, (new_size - 1) >> shift
    old_found = new_found = path[0]
    for node in path[1:]:
        if fn & 1 or fn == sn:
            old_found, new_found = node_hash(node, old_found), node_hash(node, new_found)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            new_found = node_hash(new_found, node)
        fn, sn = fn >> 1, sn >> 1
    if old_found != old_root:
        raise ProofError(f"the proof leads to old root {old_found.hex()}, not to {old_root.hex()}")
    if new_found != new_root:
        raise ProofError(f"the proof leads to new root {new_found.hex()}, not to {new_root.hex()}")


class CompactRange:
    """The right edge of a growing tree: one perfect subtree per set bit of its size.

    Appending a leaf merges equal subtrees like adding one in binary and returns each perfect
    node it completes (the leaf first), exactly the rows a tree store must add. O(log n) state,
    so a builder resumes at any size from the stored edge instead of rehashing every leaf."""

    __slots__ = ("_edge", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._edge: list[bytes] = []

    @classmethod
    def resume(cls, size: int, fetch: Fetch) -> CompactRange:
        """The range of the first ``size`` leaves, from the stored perfect subtrees (one fetch)."""
        if size < 0:
            raise ValueError(f"a tree cannot have {size} leaves")
        built = cls()
        built._edge = _assemble(fetch, [[node] for node in perfect_cover(0, size)])
        built._size = size
        return built

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf_hash)}")
        index, level, value, edge = self._size, 0, leaf_hash, self._edge
        completed = [(0, index, value)]
        while index & 1:
            value = sha256(b"\x01" + edge.pop() + value).digest()
            index, level = index >> 1, level + 1
            completed.append((level, index, value))
        edge.append(value)
        self._size += 1
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append each leaf; every perfect node completed, in order."""
        return [node for leaf in leaf_hashes for node in self.append(leaf)]

    def root(self) -> bytes:
        return _fold(self._edge) if self._edge else EMPTY_ROOT
