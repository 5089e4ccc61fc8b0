"""Merkle maths against RFC 6962 vectors, pymerkle 7 as an independent oracle, and the RFC's own recursion."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence

import pymerkle
import pytest

from basira.audit import merkle
from basira.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    IndexOutOfRange,
    MemoryTree,
    NodeId,
    ProofSizeError,
    RootMismatch,
)

# RFC 6962 test data used by the certificate-transparency and transparency-dev test suites: eight leaf
# inputs and the roots of the trees of size 0..8 built from them.
RFC_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]
RFC_ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
RFC_HASHES = [merkle.leaf_hash(x) for x in RFC_LEAVES]


def b64(values: Sequence[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


# Proof vectors from transparency-dev/merkle testdata (happy paths), over the RFC tree above.
INCLUSION_VECTORS = [
    # (index, size, proof)
    (5, 8, b64(["vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
                "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
                "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc="])),
    (1, 5, b64(["bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
                "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms="])),
]
CONSISTENCY_VECTORS = [
    # (size1, size2, proof)
    (1, 8, b64(["lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
                "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="])),
]


# --- an independent transcription of RFC 9162 §2.1 (recursive, slow, obviously right) ----------------

def rfc_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return merkle.node_hash(rfc_mth(d[:k]), rfc_mth(d[k:]))


def rfc_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return [*rfc_path(m, d[:k]), rfc_mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), rfc_mth(d[:k])]


def rfc_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [rfc_mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), rfc_mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), rfc_mth(d[:k])]


def rfc_consistency(m: int, d: Sequence[bytes]) -> list[bytes]:
    return [] if m in (0, len(d)) else rfc_subproof(m, d, True)


def random_hashes(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [merkle.leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(n)]


def pymerkle_tree(hashes_of: Sequence[bytes]) -> pymerkle.InmemoryTree:
    tree = pymerkle.InmemoryTree(algorithm="sha256")  # RFC 6962 prefixes (security mode is the default)
    for data in hashes_of:
        tree.append_entry(data)
    return tree


# --- known vectors ---------------------------------------------------------------------------------

def test_rfc_leaf_and_node_prefixes() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_roots_match_rfc_vectors(size: int) -> None:
    hashes = RFC_HASHES[:size]
    assert merkle.root_hash(hashes) == RFC_ROOTS[size]
    compact = CompactRange()
    compact.extend(hashes)
    assert compact.root() == RFC_ROOTS[size]
    assert MemoryTree(hashes).root() == RFC_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    assert MemoryTree(RFC_HASHES).inclusion_proof(index, size) == proof
    assert merkle.inclusion_proof(RFC_HASHES, index, size) == proof
    merkle.verify_inclusion(RFC_HASHES[index], index, size, proof, RFC_ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(size1: int, size2: int, proof: list[bytes]) -> None:
    assert MemoryTree(RFC_HASHES).consistency_proof(size1, size2) == proof
    merkle.verify_consistency(size1, size2, proof, RFC_ROOTS[size1], RFC_ROOTS[size2])


def test_node_ids_of_the_rfc_example_tree() -> None:
    """RFC 6962 §2.1.3: the 7-leaf tree with leaves a..f, d6 and nodes g..l."""
    a, b, c, d, e, f, d6 = (NodeId(0, i) for i in range(7))
    g, h, i = NodeId(1, 0), NodeId(1, 1), NodeId(1, 2)
    j = d6  # the single-leaf right subtree is the leaf itself
    k, l_ = NodeId(2, 0), NodeId(2, 1)  # l is ephemeral: leaves 4..6 of a tree of 7
    assert merkle.inclusion_proof_nodes(0, 7) == [b, h, l_]
    assert merkle.inclusion_proof_nodes(3, 7) == [c, g, l_]
    assert merkle.inclusion_proof_nodes(4, 7) == [f, j, k]
    assert merkle.inclusion_proof_nodes(6, 7) == [i, k]
    assert merkle.consistency_proof_nodes(3, 7) == [c, d, g, l_]
    assert merkle.consistency_proof_nodes(4, 7) == [l_]
    assert merkle.consistency_proof_nodes(6, 7) == [i, j, k]
    assert not l_.is_perfect(7)
    assert l_.coverage(7) == (4, 7)
    assert merkle.perfect_cover(l_, 7) == [NodeId(1, 2), NodeId(0, 6)]
    assert [n for n in (a, e, k) if n.is_perfect(7)] == [a, e, k]


# --- against pymerkle and the recursive RFC transcription -----------------------------------------

def test_roots_and_inclusion_match_pymerkle_for_sizes_1_to_300() -> None:
    data = [random.Random(7).randbytes(n % 13) + n.to_bytes(4, "big") for n in range(300)]
    hashes = [merkle.leaf_hash(x) for x in data]
    oracle = pymerkle_tree(data)
    tree = MemoryTree(hashes)
    for n in range(1, 301):
        root = oracle.get_root(n)
        assert tree.root(n) == root == merkle.root_hash(hashes[:n])
        for index in {0, n - 1, n // 2, (n * 7) // 11}:
            proof = tree.inclusion_proof(index, n)
            assert proof == oracle.prove_inclusion(index + 1, n).path[1:]  # pymerkle: [leaf, *siblings]
            merkle.verify_inclusion(hashes[index], index, n, proof, root)


def test_consistency_verifies_against_pymerkle_roots_and_matches_rfc_recursion() -> None:
    data = [n.to_bytes(4, "big") for n in range(130)]
    hashes = [merkle.leaf_hash(x) for x in data]
    oracle = pymerkle_tree(data)
    tree = MemoryTree(hashes)
    for size2 in range(1, 131):
        for size1 in range(0, size2 + 1):
            proof = tree.consistency_proof(size1, size2)
            assert proof == rfc_consistency(size1, hashes[:size2])
            root1 = oracle.get_root(size1) if size1 else EMPTY_ROOT
            merkle.verify_consistency(size1, size2, proof, root1, oracle.get_root(size2))
            if size1:  # pymerkle's own proof checks out for the same pair of roots
                theirs = oracle.prove_consistency(size1, size2)
                pymerkle.verify_consistency(root1, oracle.get_root(size2), theirs)


@pytest.mark.parametrize("seed", range(4))
def test_random_larger_trees(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randrange(1_000, 5_000)
    data = [rng.randbytes(8) for _ in range(size)]
    hashes = [merkle.leaf_hash(x) for x in data]
    oracle = pymerkle_tree(data)
    tree = MemoryTree(hashes)
    assert tree.root() == oracle.get_root() == rfc_mth(hashes)
    for _ in range(25):
        n = rng.randrange(1, size + 1)
        index = rng.randrange(n)
        m = rng.randrange(0, n + 1)
        proof = tree.inclusion_proof(index, n)
        assert proof == oracle.prove_inclusion(index + 1, n).path[1:] == rfc_path(index, hashes[:n])
        merkle.verify_inclusion(hashes[index], index, n, proof, oracle.get_root(n))
        consistency = tree.consistency_proof(m, n)
        assert consistency == rfc_consistency(m, hashes[:n])
        merkle.verify_consistency(m, n, consistency, tree.root(m), oracle.get_root(n))


def test_compact_range_reports_exactly_the_perfect_nodes() -> None:
    hashes = random_hashes(100, 1)
    tree = MemoryTree(hashes)
    compact = CompactRange()
    created: list[tuple[int, int, bytes]] = []
    for n, leaf in enumerate(hashes, start=1):
        compact.append(leaf, created)
        assert compact.root() == tree.root(n)
        assert compact.hashes == [tree.perfect_node(node) for node in merkle.frontier_ids(n)]
    expected = [(lvl, i) for lvl in range(1, 7) for i in range(100 >> lvl)]
    assert sorted((lvl, i) for lvl, i, _ in created) == sorted(expected)
    for lvl, i, h in created:
        assert h == tree.perfect_node(NodeId(lvl, i))
    restored = CompactRange(compact.size, compact.hashes)
    restored.append(hashes[0])
    compact.append(hashes[0])
    assert restored.root() == compact.root()


def test_resolve_proof_uses_only_perfect_nodes() -> None:
    hashes = random_hashes(77, 2)
    tree = MemoryTree(hashes)
    for size in (1, 2, 33, 64, 76, 77):
        for index in range(size):
            nodes = merkle.inclusion_proof_nodes(index, size)
            needed = merkle.required_perfect_nodes(nodes, size)
            assert all(n.is_perfect(size) for n in needed)
            fetched = {n: tree.perfect_node(n) for n in needed}
            assert merkle.resolve_proof(nodes, size, fetched) == merkle.inclusion_proof(hashes, index, size)
            assert sum(not n.is_perfect(size) for n in nodes) <= 1


def test_root_of_a_million_leaves_is_fast() -> None:
    import time

    hashes = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1_000_000)]
    started = time.perf_counter()
    root = merkle.root_hash(hashes)
    assert time.perf_counter() - started < 5.0
    compact = CompactRange()
    compact.extend(hashes)
    assert compact.root() == root


# --- verification failures are typed and say what mismatched ------------------------------------------

def test_inclusion_failures() -> None:
    hashes = random_hashes(21, 3)
    tree = MemoryTree(hashes)
    root = tree.root()
    proof = tree.inclusion_proof(9)
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
        with pytest.raises(RootMismatch) as info:
            merkle.verify_inclusion(hashes[9], 9, 21, bad, root)
        assert info.value.expected == root and info.value.computed != root
    with pytest.raises(RootMismatch):
        merkle.verify_inclusion(hashes[9], 8, 21, proof, root)  # right proof, wrong index
    with pytest.raises(RootMismatch):
        merkle.verify_inclusion(hashes[10], 9, 21, proof, root)  # wrong leaf
    with pytest.raises(ProofSizeError) as size_info:
        merkle.verify_inclusion(hashes[9], 9, 21, proof[:-1], root)
    assert (size_info.value.expected, size_info.value.got) == (len(proof), len(proof) - 1)
    with pytest.raises(ProofSizeError):
        merkle.verify_inclusion(hashes[9], 9, 21, [*proof, root], root)
    with pytest.raises(ProofSizeError):
        merkle.verify_inclusion(hashes[9], 9, 21, [proof[0][:31], *proof[1:]], root)
    with pytest.raises(IndexOutOfRange):
        merkle.verify_inclusion(hashes[9], 21, 21, proof, root)
    with pytest.raises(IndexOutOfRange):
        merkle.inclusion_proof_nodes(0, 0)


def test_consistency_failures() -> None:
    hashes = random_hashes(40, 4)
    tree = MemoryTree(hashes)
    root1, root2 = tree.root(13), tree.root(40)
    proof = tree.consistency_proof(13, 40)
    merkle.verify_consistency(13, 40, proof, root1, root2)
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = bytes(32)
        with pytest.raises(RootMismatch):
            merkle.verify_consistency(13, 40, bad, root1, root2)
    with pytest.raises(RootMismatch) as info:
        merkle.verify_consistency(13, 40, proof, tree.root(12), root2)
    assert info.value.what == "first root"
    with pytest.raises(RootMismatch) as info:
        merkle.verify_consistency(13, 40, proof, root1, tree.root(39))
    assert info.value.what == "second root"
    with pytest.raises(ProofSizeError):
        merkle.verify_consistency(13, 40, proof[1:], root1, root2)
    with pytest.raises(IndexOutOfRange):
        merkle.verify_consistency(41, 40, proof, root1, root2)
    with pytest.raises(RootMismatch):
        merkle.verify_consistency(40, 40, [], root1, root2)
    merkle.verify_consistency(40, 40, [], root2, root2)
    with pytest.raises(ProofSizeError):
        merkle.verify_consistency(0, 40, proof, EMPTY_ROOT, root2)
    # power-of-two old size: the old root itself is not part of the proof
    merkle.verify_consistency(16, 40, tree.consistency_proof(16, 40), tree.root(16), root2)
    with pytest.raises(RootMismatch):
        merkle.verify_consistency(16, 40, tree.consistency_proof(16, 40), tree.root(15), root2)


def test_memory_tree_rejects_sizes_beyond_its_leaves() -> None:
    tree = MemoryTree(random_hashes(5, 5))
    with pytest.raises(IndexOutOfRange):
        tree.root(6)
    with pytest.raises(merkle.MerkleError):
        tree.perfect_node(NodeId(3, 0))
    with pytest.raises(ProofSizeError):
        CompactRange(3, [bytes(32)])
