"""The Merkle tree: the RFC 6962 peer vectors, the reference roots, and every proof against mutations.

The trees here are built by ``CompactRange`` into a dict of perfect subtrees, read through a
fetch that counts its calls, and checked against the RFC's recursive definitions written out
naively below (MTH, PATH and SUBPROOF), which share no code with the module.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay import merkle
from replay.merkle import CompactRange, Node, ProofError

VECTORS = (Path(__file__).parents[1] / ".." / "shared" / "conformance" / "rfc6962-merkle").resolve()
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
REFERENCE_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


# The RFC's definitions, written out naively (RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1).
def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if complete else [mth(leaves)]
    k = _split(len(leaves))
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


class Tree:
    """Leaves kept as perfect subtrees, as the database keeps them, behind a counting fetch."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.nodes: dict[Node, bytes] = {}
        self.fetched: list[int] = []
        builder = CompactRange()
        for leaf in leaves:
            self.nodes.update(((level, index), value) for level, index, value in builder.append(leaf))

    def fetch(self, keys: Collection[Node]) -> Mapping[Node, bytes]:
        self.fetched.append(len(keys))
        return {key: self.nodes[key] for key in keys if key in self.nodes}


def distinct_leaves(size: int, salt: bytes = b"") -> list[bytes]:
    return [merkle.leaf_hash(salt + index.to_bytes(4, "big")) for index in range(size)]


def all_roots(leaves: list[bytes]) -> list[bytes]:
    """The root at every size, from one pass (the naive MTH would take O(n**2) here)."""
    builder, roots = CompactRange(), [merkle.EMPTY_ROOT]
    for leaf in leaves:
        builder.append(leaf)
        roots.append(builder.root())
    return roots


def flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# The reference leaves and roots of the RFC 6962 vectors (from their README).
def test_the_reference_leaves_give_the_nine_reference_roots() -> None:
    leaves = [merkle.leaf_hash(data) for data in REFERENCE_LEAVES]
    tree, builder = Tree(leaves), CompactRange()
    for size, expected in enumerate(REFERENCE_ROOTS):
        assert merkle.root(tree.fetch, size).hex() == expected
        assert builder.root().hex() == expected
        assert mth(leaves[:size]).hex() == expected
        if size < len(leaves):
            builder.append(leaves[size])


# The peer suite: every vector file gets exactly its expected verdict.
def _vector_names(kind: str) -> list[str]:
    folder = VECTORS / kind
    names = (
        sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.json")) if folder.is_dir() else []
    )
    return names or ["(vectors absent)"]


@pytest.fixture(scope="module")
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.skip(f"the RFC 6962 conformance vectors are not at {VECTORS}")
    return VECTORS


def _case(folder: Path, name: str) -> dict[str, Any]:
    case: dict[str, Any] = json.loads((folder / name).read_text())
    for key, value in case.items():
        if key in {"root", "leafHash", "root1", "root2"}:
            case[key] = base64.b64decode(value)
    case["proof"] = [base64.b64decode(p) for p in case["proof"] or []]
    return case


@pytest.mark.parametrize("name", _vector_names("inclusion"))
def test_each_inclusion_vector_gets_its_expected_verdict(vectors: Path, name: str) -> None:
    case = _case(vectors / "inclusion", name)
    verify = (
        merkle.verify_inclusion,
        case["leafHash"],
        case["leafIdx"],
        case["treeSize"],
        case["proof"],
        case["root"],
    )
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify[0](*verify[1:])
    else:
        verify[0](*verify[1:])


@pytest.mark.parametrize("name", _vector_names("consistency"))
def test_each_consistency_vector_gets_its_expected_verdict(vectors: Path, name: str) -> None:
    case = _case(vectors / "consistency", name)
    args = (case["size1"], case["size2"], case["root1"], case["root2"], case["proof"])
    if case["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_our_proofs_of_the_reference_tree_are_the_vectors_happy_paths(vectors: Path) -> None:
    tree = Tree([merkle.leaf_hash(data) for data in REFERENCE_LEAVES])
    compared = 0
    for file in sorted(vectors.rglob("happy-path.json")):
        case = _case(file.parent, file.name)
        if "leafIdx" in case:
            assert merkle.inclusion_proof(tree.fetch, case["leafIdx"], case["treeSize"]) == case["proof"]
        else:
            assert merkle.consistency_proof(tree.fetch, case["size1"], case["size2"]) == case["proof"]
        compared += 1
    assert compared >= 8


# Every proof of every small tree, exhaustively.
def test_every_proof_of_every_tree_up_to_40_leaves_matches_the_rfc_and_verifies() -> None:
    leaves = distinct_leaves(40)
    tree = Tree(leaves)
    for size in range(1, 41):
        root = mth(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(tree.fetch, index, size)
            assert proof == path(index, leaves[:size])
            merkle.verify_inclusion(leaves[index], index, size, proof, root)
        for old in range(1, size + 1):
            proof = merkle.consistency_proof(tree.fetch, old, size)
            assert proof == subproof(old, leaves[:size], True)
            merkle.verify_consistency(old, size, mth(leaves[:old]), root, proof)


# Random trees, with every kind of mutation.
trees = st.builds(distinct_leaves, st.integers(1, 300), st.binary(max_size=8)).map(Tree)


@st.composite
def inclusions(draw: st.DrawFn) -> tuple[Tree, int, int]:
    tree = draw(trees)
    size = draw(st.integers(1, len(tree.leaves)))
    return tree, draw(st.integers(0, size - 1)), size


@st.composite
def consistencies(draw: st.DrawFn) -> tuple[Tree, int, int]:
    tree = draw(trees)
    size = draw(st.integers(1, len(tree.leaves)))
    return tree, draw(st.integers(1, size)), size


def _fails(check: Any, *args: Any) -> bool:
    try:
        check(*args)
    except ProofError:
        return True
    return False


@settings(max_examples=150, deadline=None)
@given(inclusions(), st.integers(0, 255))
def test_an_inclusion_proof_verifies_and_every_mutation_of_it_fails(
    case: tuple[Tree, int, int], bit: int
) -> None:
    tree, index, size = case
    leaves, roots = tree.leaves, all_roots(tree.leaves)
    root = roots[size]
    assert root == mth(leaves[:size])
    proof = merkle.inclusion_proof(tree.fetch, index, size)
    assert len(tree.fetched) == (1 if proof else 0)
    assert sum(tree.fetched) <= 2 * size.bit_length()
    assert merkle.root_from_inclusion(leaves[index], index, size, proof) == root
    merkle.verify_inclusion(leaves[index], index, size, proof, root)

    def fails(leaf: bytes, at: int, in_size: int, hashes: list[bytes], expected: bytes) -> bool:
        return _fails(merkle.verify_inclusion, leaf, at, in_size, hashes, expected)

    for position in range(len(proof)):
        assert fails(
            leaves[index],
            index,
            size,
            [*proof[:position], flip(proof[position], bit), *proof[position + 1 :]],
            root,
        )
    assert fails(flip(leaves[index], bit), index, size, proof, root)
    assert fails(leaves[index], index, size, proof, flip(root, bit))
    for other in {*range(size), -1, size, size + 1} - {index}:
        assert fails(leaves[index], other, size, proof, root)
    for other_size in {*range(index + 1, len(leaves) + 1), index, 0} - {size}:
        assert fails(leaves[index], index, other_size, proof, roots[other_size])
    if proof:
        assert fails(leaves[index], index, size, proof[:-1], root)
        assert fails(leaves[index], index, size, proof[1:], root)
    assert fails(leaves[index], index, size, [*proof, root], root)
    assert fails(leaves[index], index, size, [root, *proof], root)
    assert fails(leaves[index], index, size, [*proof, b""], root)


@settings(max_examples=150, deadline=None)
@given(consistencies(), st.integers(0, 255))
def test_a_consistency_proof_verifies_and_every_mutation_of_it_fails(
    case: tuple[Tree, int, int], bit: int
) -> None:
    tree, old, new = case
    roots = all_roots(tree.leaves)
    assert (roots[old], roots[new]) == (mth(tree.leaves[:old]), mth(tree.leaves[:new]))
    proof = merkle.consistency_proof(tree.fetch, old, new)
    assert len(tree.fetched) == (1 if proof else 0)
    assert sum(tree.fetched) <= 2 * new.bit_length()
    merkle.verify_consistency(old, new, roots[old], roots[new], proof)

    def fails(old_size: int, new_size: int, old_root: bytes, new_root: bytes, hashes: list[bytes]) -> bool:
        return _fails(merkle.verify_consistency, old_size, new_size, old_root, new_root, hashes)

    for position in range(len(proof)):
        changed = [*proof[:position], flip(proof[position], bit), *proof[position + 1 :]]
        assert fails(old, new, roots[old], roots[new], changed)
    assert fails(old, new, flip(roots[old], bit), roots[new], proof)
    assert fails(old, new, roots[old], flip(roots[new], bit), proof)
    for other in {*range(0, new + 2), -1} - {old}:
        assert fails(other, new, roots[other] if 0 <= other < len(roots) else roots[old], roots[new], proof)
    for other in {*range(old - 1, len(roots))} - {new}:
        assert fails(old, other, roots[old], roots[other], proof)
    if old < new:
        assert fails(old, new, roots[new], roots[old], proof)
        assert fails(old, new, roots[old], roots[new], proof[:-1])
        assert fails(old, new, roots[old], roots[new], proof[1:])
    assert fails(old, new, roots[old], roots[new], [*proof, roots[new]])
    assert fails(old, new, roots[old], roots[new], [roots[old], *proof])


@settings(max_examples=60, deadline=None)
@given(trees, st.data())
def test_a_range_resumed_from_stored_nodes_goes_on_as_if_built_in_one_go(
    tree: Tree, data: st.DataObject
) -> None:
    stop = data.draw(st.integers(0, len(tree.leaves)))
    whole, resumed = CompactRange(), CompactRange.resume(stop, tree.fetch)
    assert len(tree.fetched) <= 1
    assert (resumed.size, resumed.root()) == (stop, mth(tree.leaves[:stop]))
    whole.extend(tree.leaves[:stop])
    for leaf in tree.leaves[stop:]:
        assert resumed.append(leaf) == whole.append(leaf)
        assert resumed.root() == whole.root()
    assert resumed.size == len(tree.leaves)


# The shape of the interface: one fetch, clear refusals.
def test_each_appended_leaf_yields_the_perfect_subtrees_it_completes() -> None:
    leaves = distinct_leaves(8)
    builder = CompactRange()
    completed = [[(level, index) for level, index, _ in builder.append(leaf)] for leaf in leaves]
    assert completed[6] == [(0, 6)]
    assert completed[7] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert builder.extend([]) == []
    assert Tree(leaves).nodes[(2, 1)] == mth(leaves[4:8])


def test_several_inclusion_proofs_come_from_one_fetch() -> None:
    tree = Tree(distinct_leaves(77))
    proofs = merkle.inclusion_proofs(tree.fetch, [0, 40, 76], 77)
    assert len(tree.fetched) == 1
    assert proofs == [path(index, tree.leaves) for index in (0, 40, 76)]


def test_proofs_that_need_no_subtree_do_not_fetch() -> None:
    tree = Tree(distinct_leaves(3))
    assert merkle.root(tree.fetch, 0) == merkle.EMPTY_ROOT
    assert merkle.inclusion_proof(tree.fetch, 0, 1) == []
    assert merkle.consistency_proof(tree.fetch, 3, 3) == []
    assert tree.fetched == []


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda t: merkle.inclusion_proof(t.fetch, 5, 5), "leaf 5 is not in a tree of 5"),
        (lambda t: merkle.inclusion_proof(t.fetch, -1, 5), "leaf -1"),
        (lambda t: merkle.consistency_proof(t.fetch, 4, 3), "from 4 to 3"),
        (lambda t: merkle.consistency_proof(t.fetch, 0, 3), "from 0 to 3"),
        (lambda t: merkle.root(t.fetch, -1), "-1 leaves"),
        (lambda t: CompactRange.resume(-2, t.fetch), "-2 leaves"),
        (lambda t: CompactRange().append(b"short"), "32 bytes"),
    ],
)
def test_impossible_arguments_are_refused_with_a_value_error(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(Tree(distinct_leaves(5)))


def test_a_store_behind_the_size_asked_for_is_reported_not_guessed_around() -> None:
    tree = Tree(distinct_leaves(5))
    with pytest.raises(
        LookupError, match=r"lacks 1 of the 3 subtrees needed, first \(level, index\) \(1, 2\)"
    ):
        merkle.inclusion_proof(tree.fetch, 0, 6)


def test_a_refused_inclusion_proof_says_why() -> None:
    with pytest.raises(ProofError, match="leaf index 3 is outside a tree of 3 leaves"):
        merkle.verify_inclusion(bytes(32), 3, 3, [], bytes(32))
    with pytest.raises(ProofError, match="the proof has 1 hashes; leaf 2 of 4 needs 2"):
        merkle.verify_inclusion(bytes(32), 2, 4, [bytes(32)], bytes(32))
    with pytest.raises(ProofError, match="the leaf hash is 31 bytes"):
        merkle.verify_inclusion(bytes(31), 0, 1, [], bytes(32))
    with pytest.raises(ProofError, match="proof hash 1 is 33 bytes"):
        merkle.verify_inclusion(bytes(32), 0, 4, [bytes(32), bytes(33)], bytes(32))
    leaf = merkle.leaf_hash(b"a")
    with pytest.raises(ProofError, match=f"leads to root {leaf.hex()}, not to {'00' * 32}"):
        merkle.verify_inclusion(leaf, 0, 1, [], bytes(32))


def test_a_refused_consistency_proof_says_why() -> None:
    leaves = distinct_leaves(5)
    tree = Tree(leaves)
    proof = merkle.consistency_proof(tree.fetch, 3, 5)
    with pytest.raises(ProofError, match="a tree of 6 leaves cannot precede one of 5"):
        merkle.verify_consistency(6, 5, bytes(32), bytes(32), [])
    with pytest.raises(ProofError, match="the empty tree proves nothing"):
        merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, mth(leaves), [])
    with pytest.raises(ProofError, match="two trees of 5 leaves have different roots"):
        merkle.verify_consistency(5, 5, bytes(32), mth(leaves), [])
    with pytest.raises(ProofError, match="the proof has 3 hashes; consistency from 3 to 5 needs 4"):
        merkle.verify_consistency(3, 5, mth(leaves[:3]), mth(leaves), proof[:3])
    with pytest.raises(ProofError, match="leads to old root"):
        merkle.verify_consistency(3, 5, mth(leaves[:2]), mth(leaves), proof)
    with pytest.raises(ProofError, match="leads to new root"):
        merkle.verify_consistency(3, 5, mth(leaves[:3]), mth(leaves[:4]), proof)
