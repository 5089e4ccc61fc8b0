"""RFC 6962 / RFC 9162 Merkle tree maths: hashing, node ids, proofs and their verification (no storage).

Trees are over leaf *hashes*; leaf `i` of a tree of size `n` is covered by nodes `NodeId(level, index)`
spanning leaves `[index << level, (index + 1) << level)`. In a tree of size `n` a node's hash is the
Merkle tree hash of that span clipped to `[0, n)`: nodes whose span fits are *perfect* (their hash never
changes once the tree has grown past them, so a store can keep them), the few clipped ones on the right
border are *ephemeral* and are folded from perfect nodes (`perfect_cover`). Proof building returns the
node ids to fetch; `resolve_proof` turns fetched perfect hashes into the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from hmac import compare_digest

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree (RFC 9162 §2.1.1: the hash of the empty string, no prefix)."""

_sha256 = hashlib.sha256


class MerkleError(ValueError):
    """Base of every error this module raises."""


class IndexOutOfRange(MerkleError):
    """A leaf index or tree size outside what the request allows."""

    def __init__(self, index: int, size: int, what: str = "leaf index") -> None:
        super().__init__(f"{what} {index} out of range for tree size {size}")
        self.index = index
        self.size = size


class ProofSizeError(MerkleError):
    """A proof has the wrong number of hashes (or a hash of the wrong length)."""

    def __init__(self, expected: int, got: int, what: str = "proof hashes") -> None:
        super().__init__(f"expected {expected} {what}, got {got}")
        self.expected = expected
        self.got = got


class RootMismatch(MerkleError):
    """The root recomputed from a proof or from leaves is not the root that was claimed."""

    def __init__(self, expected: bytes, computed: bytes, what: str = "root") -> None:
        super().__init__(f"{what} mismatch: expected {expected.hex()}, computed {computed.hex()}")
        self.expected = expected
        self.computed = computed
        self.what = what


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one leaf's bytes."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): the hash of an interior node."""
    return _sha256(NODE_PREFIX + left + right).digest()


@dataclass(frozen=True, slots=True, order=True)
class NodeId:
    """A node of the tree: `level` 0 are leaves; it spans leaves `[begin, end)` (before clipping)."""

    level: int
    index: int

    @property
    def begin(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        """Exclusive end of the span if the tree were large enough (see `coverage`)."""
        return (self.index + 1) << self.level

    def coverage(self, size: int) -> tuple[int, int]:
        """The leaves `[begin, end)` this node covers in a tree of `size` leaves."""
        return self.begin, min(self.end, size)

    def is_perfect(self, size: int) -> bool:
        """True when the node's whole span is in a tree of `size` leaves (its hash is then final)."""
        return self.end <= size

    def parent(self) -> NodeId:
        return NodeId(self.level + 1, self.index >> 1)

    def sibling(self) -> NodeId:
        return NodeId(self.level, self.index ^ 1)


def _largest_power_of_two_below(width: int) -> int:
    """The split point k of RFC 9162 §2.1.1: largest power of two strictly less than `width` (>= 2)."""
    return 1 << ((width - 1).bit_length() - 1)


def range_node(begin: int, end: int) -> NodeId:
    """The node whose (clipped) span is exactly `[begin, end)`.

    Precondition: the span is one the RFC split produces (perfect and aligned, or a right-border span
    starting at a multiple of the next power of two). A perfect span gets its perfect id, so a store can
    fetch it directly.
    """
    width = end - begin
    if width <= 0:
        raise MerkleError(f"empty span [{begin}, {end})")
    level = (width - 1).bit_length()  # ceil(log2(width)): exact for powers of two
    if begin & ((1 << level) - 1):
        raise MerkleError(f"span [{begin}, {end}) is not a node of an RFC 6962 tree")
    return NodeId(level, begin >> level)


def perfect_cover(node: NodeId, size: int) -> list[NodeId]:
    """Perfect nodes covering `node`'s span in a tree of `size` leaves, left to right.

    One node (itself) when it is perfect; otherwise the binary decomposition of its clipped span,
    largest first. Raises MerkleError when the node starts at or beyond `size`.
    """
    begin, end = node.coverage(size)
    if begin >= end:
        raise MerkleError(f"node {node} is outside a tree of size {size}")
    if end - begin == 1 << node.level:
        return [node]
    cover = []
    width = end - begin
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            cover.append(NodeId(level, begin >> level))
            begin += 1 << level
    return cover


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Hash of consecutive perfect subtrees given left to right, each strictly larger than the next.

    This is how an RFC 6962 tree joins the perfect subtrees along its right border.
    """
    if not hashes:
        return EMPTY_ROOT
    h = hashes[-1]
    for left in reversed(hashes[:-1]):
        h = _sha256(NODE_PREFIX + left + h).digest()
    return h


def frontier_ids(size: int) -> list[NodeId]:
    """The perfect nodes whose spans tile `[0, size)`, largest (leftmost) first: a compact range."""
    ids = []
    begin = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            ids.append(NodeId(level, begin >> level))
            begin += 1 << level
    return ids


# ---------------------------------------------------------------------------------------------------
# roots


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash of the given leaf hashes (RFC 9162 MTH), iteratively, level by level.

    Pairing adjacent nodes and carrying an odd last node up unchanged builds exactly the RFC tree.
    About 1 s per million leaves in CPython.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    prefix = NODE_PREFIX
    while len(level) > 1:
        carry = level[-1] if len(level) & 1 else None
        pairs = iter(level)
        level = [sha(prefix + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
        if carry is not None:
            level.append(carry)
    return level[0]


class CompactRange:
    """The frontier of a growing tree: perfect subtree hashes tiling `[0, size)`, largest first.

    Appending is amortised O(1) hashing and the root is O(log n); `append` can report the perfect
    interior nodes each leaf completes so a store can persist them for fast proofs.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Start from a known frontier: `hashes` must be those of `frontier_ids(size)`, in that order."""
        if len(hashes) != bin(size).count("1"):
            raise ProofSizeError(bin(size).count("1"), len(hashes), f"frontier hashes for size {size}")
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """Frontier hashes matching `frontier_ids(self.size)`."""
        return list(self._hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._hashes)

    def append(self, leaf: bytes, created: list[tuple[int, int, bytes]] | None = None) -> None:
        """Add one leaf hash; when `created` is given, append `(level, index, hash)` to it for each
        perfect interior node (level >= 1) the leaf completes."""
        hashes = self._hashes
        index = self._size
        h = leaf
        level = 0
        while index & 1:
            h = _sha256(NODE_PREFIX + hashes.pop() + h).digest()
            index >>= 1
            level += 1
            if created is not None:
                created.append((level, index, h))
        hashes.append(h)
        self._size += 1

    def extend(self, leaves: Iterable[bytes], created: list[tuple[int, int, bytes]] | None = None) -> None:
        for leaf in leaves:
            self.append(leaf, created)

    def root(self) -> bytes:
        return fold_right(self._hashes)


class MemoryTree:
    """All perfect nodes of a tree kept in memory: proofs and roots at any size from leaf hashes.

    For tests, tools and small logs; a database-backed log keeps the same nodes in a table.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        levels = self._levels
        levels[0].append(leaf)
        index = len(levels[0]) - 1
        level = 0
        while index & 1:
            row = levels[level]
            parent = _sha256(NODE_PREFIX + row[index - 1] + row[index]).digest()
            level += 1
            if level == len(levels):
                levels.append([])
            levels[level].append(parent)
            index >>= 1

    def perfect_node(self, node: NodeId) -> bytes:
        """Hash of a perfect node; raises MerkleError if the tree has not completed it yet."""
        try:
            return self._levels[node.level][node.index]
        except IndexError:
            raise MerkleError(f"node {node} is not complete in a tree of size {self.size}") from None

    def node(self, node: NodeId, size: int | None = None) -> bytes:
        """Hash of `node` in the tree of `size` leaves (default: current size), ephemeral or not."""
        size = self._check_size(size)
        return fold_right([self.perfect_node(n) for n in perfect_cover(node, size)])

    def root(self, size: int | None = None) -> bytes:
        size = self._check_size(size)
        return fold_right([self.perfect_node(n) for n in frontier_ids(size)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = self._check_size(size)
        return resolve_proof(inclusion_proof_nodes(index, size), size, self.perfect_node)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        size2 = self._check_size(size2)
        return resolve_proof(consistency_proof_nodes(size1, size2), size2, self.perfect_node)

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise IndexOutOfRange(size, self.size, "tree size")
        return size


# ---------------------------------------------------------------------------------------------------
# proof layouts (which nodes) and resolution (their hashes)


def inclusion_proof_nodes(index: int, size: int) -> list[NodeId]:
    """Nodes whose hashes form the inclusion proof of leaf `index` in a tree of `size`, bottom-up.

    This is RFC 9162 §2.1.3.1 PATH(m, D[n]) as node ids; at most one of them is ephemeral (clipped by
    `size`). Raises IndexOutOfRange unless 0 <= index < size.
    """
    if not 0 <= index < size:
        raise IndexOutOfRange(index, size)
    path = []
    begin, end = 0, size
    while end - begin > 1:
        mid = begin + _largest_power_of_two_below(end - begin)
        if index < mid:
            path.append(range_node(mid, end))
            end = mid
        else:
            path.append(range_node(begin, mid))
            begin = mid
    path.reverse()
    return path


def _consistency_layout(size1: int, size2: int) -> tuple[list[NodeId], bool]:
    """Consistency proof nodes, bottom-up, and whether the first one is the seed node.

    The seed is the subtree of both trees that ends at `size1`; it is omitted (RFC 9162 §2.1.4.1) when
    it is the whole old tree, since the verifier already has that root.
    """
    if not 0 <= size1 <= size2:
        raise IndexOutOfRange(size1, size2, "first tree size")
    if size1 == 0 or size1 == size2:
        return [], False
    path = []
    begin, end = 0, size2
    whole_old_tree = True
    while end != size1:
        mid = begin + _largest_power_of_two_below(end - begin)
        if size1 <= mid:
            path.append(range_node(mid, end))
            end = mid
        else:
            path.append(range_node(begin, mid))
            begin = mid
            whole_old_tree = False
    if not whole_old_tree:
        path.append(range_node(begin, end))
    path.reverse()
    return path, not whole_old_tree


def consistency_proof_nodes(size1: int, size2: int) -> list[NodeId]:
    """Nodes whose hashes form the consistency proof from size1 to size2 (RFC 9162 §2.1.4.1).

    Empty when size1 is 0 or equals size2. Raises IndexOutOfRange unless 0 <= size1 <= size2.
    """
    return _consistency_layout(size1, size2)[0]


def required_perfect_nodes(nodes: Iterable[NodeId], size: int) -> list[NodeId]:
    """The distinct perfect nodes a store must fetch to resolve `nodes` in a tree of `size`."""
    seen: dict[NodeId, None] = {}
    for node in nodes:
        for perfect in perfect_cover(node, size):
            seen.setdefault(perfect, None)
    return list(seen)


def resolve_proof(
    nodes: Sequence[NodeId], size: int, perfect: Callable[[NodeId], bytes] | Mapping[NodeId, bytes]
) -> list[bytes]:
    """Hashes of `nodes` in a tree of `size`, folding ephemeral nodes from their perfect cover.

    `perfect` gives the hash of a perfect node (a mapping from `required_perfect_nodes` or a callable);
    a missing node raises KeyError (mapping) or whatever the callable raises.
    """
    get = perfect.__getitem__ if isinstance(perfect, Mapping) else perfect
    out = []
    for node in nodes:
        if node.is_perfect(size):
            out.append(get(node))
        else:
            out.append(fold_right([get(n) for n in perfect_cover(node, size)]))
    return out


def subtree_hash(leaf_hashes: Sequence[bytes], begin: int, end: int) -> bytes:
    """Merkle tree hash of `leaf_hashes[begin:end]` (O(end - begin)); for tests and small trees."""
    return root_hash(leaf_hashes[begin:end])


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """Inclusion proof of leaf `index` computed from the leaf hashes (O(size) hashing)."""
    size = len(leaf_hashes) if size is None else size
    if size > len(leaf_hashes):
        raise IndexOutOfRange(size, len(leaf_hashes), "tree size")
    return [subtree_hash(leaf_hashes, *n.coverage(size)) for n in inclusion_proof_nodes(index, size)]


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int, size2: int | None = None) -> list[bytes]:
    """Consistency proof from size1 to size2 computed from the leaf hashes (O(size2) hashing)."""
    size2 = len(leaf_hashes) if size2 is None else size2
    if size2 > len(leaf_hashes):
        raise IndexOutOfRange(size2, len(leaf_hashes), "tree size")
    return [subtree_hash(leaf_hashes, *n.coverage(size2)) for n in consistency_proof_nodes(size1, size2)]


# ---------------------------------------------------------------------------------------------------
# verification


def _check_hashes(proof: Sequence[bytes], what: str) -> None:
    for position, h in enumerate(proof):
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            got = len(h) if isinstance(h, bytes | bytearray) else -1
            raise ProofSizeError(HASH_SIZE, got, f"bytes in {what}[{position}]")


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof of `leaf` at `index` in a tree of `size` leaves.

    Raises IndexOutOfRange for a bad index/size and ProofSizeError for a proof of the wrong shape.
    """
    nodes = inclusion_proof_nodes(index, size)
    if len(proof) != len(nodes):
        raise ProofSizeError(len(nodes), len(proof))
    _check_hashes([leaf], "leaf")
    _check_hashes(proof, "proof")
    h = bytes(leaf)
    for node, sibling in zip(nodes, proof, strict=True):
        if node.begin < index:
            h = _sha256(NODE_PREFIX + sibling + h).digest()
        else:
            h = _sha256(NODE_PREFIX + h + sibling).digest()
    return h


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that `leaf` is at `index` in the tree of `size` leaves with `root`; raise on failure.

    Raises IndexOutOfRange, ProofSizeError or RootMismatch(expected=root, computed=...).
    """
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    if not compare_digest(computed, root):
        raise RootMismatch(bytes(root), computed)


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of size2 with root2 extends the tree of size1 with root1; raise on failure.

    Raises IndexOutOfRange (sizes), ProofSizeError (shape) or RootMismatch with `what` naming the
    root ("first root" or "second root") that the proof does not reproduce.
    """
    nodes, seeded = _consistency_layout(size1, size2)
    if len(proof) != len(nodes):
        raise ProofSizeError(len(nodes), len(proof))
    _check_hashes(proof, "proof")
    _check_hashes([root1, root2], "roots")
    if size1 == size2:
        if not compare_digest(root1, root2):
            raise RootMismatch(bytes(root1), bytes(root2), "second root")
        return
    if size1 == 0:
        return  # the empty tree is a prefix of every tree
    if seeded:
        old = new = bytes(proof[0])
        steps = zip(nodes[1:], proof[1:], strict=True)
    else:
        old = new = bytes(root1)
        steps = zip(nodes, proof, strict=True)
    for node, h in steps:
        if node.begin < size1:
            old = _sha256(NODE_PREFIX + h + old).digest()
            new = _sha256(NODE_PREFIX + h + new).digest()
        else:
            new = _sha256(NODE_PREFIX + new + h).digest()
    if not compare_digest(old, root1):
        raise RootMismatch(bytes(root1), old, "first root")
    if not compare_digest(new, root2):
        raise RootMismatch(bytes(root2), new, "second root")
