"""Offline verifier of an access-log export: what an oversight body runs without trusting the server.

Export format (JSON lines, UTF-8, written by `AuditStore.export`):

    {"type":"header","format":"basira-audit-export","version":1,"tree_size":N,"tree_heads":K,...}
    {"type":"sth","log_id":...,"tree_size":...,"root_hash":"<hex>","timestamp":<ms>,"signature":"<b64>"}
    ... K tree heads, in the order they were signed ...
    {"type":"leaf","index":0,"leaf_hash":"<64 hex>","record":<the record's canonical JSON, verbatim>}
    ... N leaves, index 0..N-1 ...

Every leaf line is valid JSON, and the bytes after `"record":` up to the closing `}` are exactly the
canonical record the leaf hash covers, so the verifier hashes them without re-encoding.

What is checked, and how a problem is pinned to an index:
- every tree head's Ed25519 signature (with the key given out of band, never the header's), sizes
  and timestamps never decrease, and one size never has two roots;
- leaf indexes run 0, 1, 2, ... : a gap is a *removed* leaf, a repeat or step back a *reordered* one;
- each record's bytes hash to the leaf hash stored beside it: if not, that record was *modified*
  (exact: the stored hashes are authenticated by the signed roots below);
- the root of the stored leaf hashes at every signed size equals the signed root: if not, leaf
  hashes were rewritten somewhere after the last size that still matched (*root mismatch*): the
  problem is pinned to that interval of the signed-head chain, exact when heads are signed per leaf;
- every record is a JSON object in canonical form (sorted keys, no spaces);
- with `--record-keys DIR` (each service's `<service>.pub.pem`): every record carries its own
  service's Ed25519 signature and is what that service signed (*record-signature*, with the failed
  check: unsigned, signer mismatch, unknown signer, unknown key, bad signature). This vouches for each
  record independently of the log's key: a record the log holder made up itself fails here.
"""

from __future__ import annotations

import argparse
import binascii
import enum
import json
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from basira.common.access_record import canonical_json
from basira.common.errors import ConfigError
from basira.common.record_signing import load_public_keys, record_signature_problem

from .merkle import EMPTY_ROOT, LEAF_PREFIX, CompactRange
from .sth import SignatureInvalid, SignedTreeHead, TreeHeadError, key_id, load_public_key, verify_tree_head

EXPORT_FORMAT = "basira-audit-export"
SUPPORTED_VERSIONS = (1,)

_LEAF_LINE = re.compile(
    rb'\{"type":"leaf","index":(0|[1-9][0-9]{0,18}),"leaf_hash":"([0-9a-f]{64})","record":'
)


class ProblemKind(enum.StrEnum):
    MALFORMED = "malformed"
    """A line that is not what the format says."""
    BAD_SIGNATURE = "bad-signature"
    TREE_HEAD_ORDER = "tree-head-order"
    """Tree heads whose sizes or timestamps go backwards, or two roots signed for one size."""
    REMOVED = "removed"
    REORDERED = "reordered"
    MODIFIED = "modified"
    ROOT_MISMATCH = "root-mismatch"
    NOT_CANONICAL = "not-canonical"
    UNSIGNED = "unsigned"
    """Leaves beyond the last signed tree head: nothing vouches for them."""
    RECORD_SIGNATURE = "record-signature"
    """A record its own service did not sign (or altered after it did); needs the record keys."""


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str
    index: int | None = None
    """First leaf index concerned (None for problems of the tree-head chain as a whole)."""
    index_end: int | None = None
    """Exclusive end of the range of indexes concerned, when more than one."""
    exact: bool = True
    """False when the culprit is *somewhere* in `[index, index_end)` (root mismatch over a range)."""


@dataclass
class VerifyReport:
    """The result of verifying one export. `ok` only when there is no problem at all."""

    source: str
    log_id: str = ""
    key_id: str = ""
    tree_size: int = 0
    leaves: int = 0
    tree_heads: int = 0
    roots_checked: int = 0
    signers: dict[str, int] = field(default_factory=dict)
    """With record keys: how many records each service's signature vouches for."""
    problems: list[Problem] = field(default_factory=list)
    problems_omitted: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.problems_omitted

    @property
    def first_bad_index(self) -> int | None:
        """The lowest leaf index any problem points at (the start of its range when not exact)."""
        indexes = [p.index for p in self.problems if p.index is not None]
        return min(indexes) if indexes else None

    @property
    def first_problem(self) -> Problem | None:
        located = [p for p in self.problems if p.index is not None]
        if located:
            return min(located, key=lambda p: (p.index, not p.exact))
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "source": self.source, "log_id": self.log_id, "key_id": self.key_id,
            "tree_size": self.tree_size, "leaves": self.leaves, "tree_heads": self.tree_heads,
            "roots_checked": self.roots_checked, "signers": dict(sorted(self.signers.items())),
            "first_bad_index": self.first_bad_index,
            "problems": [{"kind": str(p.kind), "index": p.index, "index_end": p.index_end,
                          "exact": p.exact, "message": p.message} for p in self.problems],
            "problems_omitted": self.problems_omitted, "seconds": round(self.seconds, 3),
        }

    def render(self) -> str:
        """A few lines for a person: verdict first, then what was checked, then the problems."""
        lines = []
        if self.ok:
            lines.append(f"OK: {self.source} verifies: {self.leaves} records, {self.tree_heads} signed tree "
                         f"heads, {self.roots_checked} roots recomputed")
            if self.signers:
                lines.append("  every record signed by its own service: " + ", ".join(
                    f"{service} {count}" for service, count in sorted(self.signers.items())))
        else:
            first = self.first_problem
            where = ""
            if self.first_bad_index is not None and first is not None:
                where = f"first bad index {self.first_bad_index}"
                if not first.exact:
                    where += f" (somewhere in [{first.index}, {first.index_end}))"
                where += ": "
            lines.append(f"FAILED: {self.source}: {where}{first.message if first else ''}")
        lines.append(f"  log {self.log_id or '?'}  key {self.key_id}  tree size {self.tree_size}  "
                     f"({self.seconds:.1f} s)")
        for p in self.problems:
            at = "" if p.index is None else (
                f" @{p.index}" if p.index_end is None or p.index_end - p.index == 1
                else f" @[{p.index},{p.index_end})")
            lines.append(f"  - {p.kind}{at}: {p.message}")
        if self.problems_omitted:
            lines.append(f"  ... and {self.problems_omitted} more problems")
        return "\n".join(lines)


class _Collector:
    def __init__(self, report: VerifyReport, limit: int) -> None:
        self.report = report
        self.limit = limit

    def add(self, kind: ProblemKind, message: str, index: int | None = None,
            index_end: int | None = None, exact: bool = True) -> None:
        if len(self.report.problems) < self.limit:
            self.report.problems.append(Problem(kind, message, index, index_end, exact))
        else:
            self.report.problems_omitted += 1


def _check_tree_heads(heads: Sequence[SignedTreeHead], public_key: Ed25519PublicKey, origin: str,
                      problems: _Collector) -> dict[int, bytes]:
    """Verify signatures and order; return size -> root for the heads that verify."""
    roots: dict[int, bytes] = {}
    previous: SignedTreeHead | None = None
    for position, sth in enumerate(heads):
        try:
            verify_tree_head(public_key, sth)
        except SignatureInvalid as exc:
            problems.add(ProblemKind.BAD_SIGNATURE, f"{origin} tree head #{position}: {exc}")
            continue
        if sth.tree_size == 0 and sth.root_hash != EMPTY_ROOT:
            problems.add(ProblemKind.MALFORMED, f"{origin} tree head #{position} signs a non-empty root "
                                                "for size 0")
        if previous is not None and origin == "exported":
            if sth.tree_size < previous.tree_size:
                problems.add(ProblemKind.TREE_HEAD_ORDER, f"tree head #{position} has size {sth.tree_size} "
                                                          f"after size {previous.tree_size}")
            if sth.timestamp < previous.timestamp:
                problems.add(ProblemKind.TREE_HEAD_ORDER, f"tree head #{position} has timestamp "
                                                          f"{sth.timestamp} after {previous.timestamp}")
        known = roots.get(sth.tree_size)
        if known is not None and known != sth.root_hash:
            problems.add(ProblemKind.TREE_HEAD_ORDER,
                         f"two different roots signed for size {sth.tree_size}: {known.hex()} and "
                         f"{sth.root_hash.hex()} (a split view)")
        roots.setdefault(sth.tree_size, sth.root_hash)
        previous = sth
    return roots


def verify_export(
    source: str | Path | IO[bytes],
    public_key: Ed25519PublicKey,
    *,
    trusted_heads: Iterable[SignedTreeHead] = (),
    check_canonical: bool = True,
    max_problems: int = 100,
    record_keys: Mapping[str, Ed25519PublicKey] | None = None,
) -> VerifyReport:
    """Verify an export in one streaming pass (constant memory apart from the tree-head list).

    `trusted_heads` are tree heads the verifier obtained earlier by other means (a witness, an
    `audit.sth` message): each must verify and match the export, which also catches a log cut short
    together with its later tree heads. `record_keys` (service → public key) also checks every
    record's own signature. Never raises for bad content: everything goes in the report;
    OSError propagates when the file cannot be read.
    """
    started = time.perf_counter()
    name = str(source) if isinstance(source, str | Path) else str(getattr(source, "name", "<stream>"))
    report = VerifyReport(source=name, key_id=key_id(public_key))
    problems = _Collector(report, max_problems)
    if isinstance(source, str | Path):
        with open(source, "rb", buffering=1 << 20) as f:
            _verify_stream(f, public_key, list(trusted_heads), check_canonical, report, problems,
                           record_keys)
    else:
        _verify_stream(source, public_key, list(trusted_heads), check_canonical, report, problems,
                       record_keys)
    report.seconds = time.perf_counter() - started
    return report


def _verify_stream(f: IO[bytes], public_key: Ed25519PublicKey, trusted: list[SignedTreeHead],
                   check_canonical: bool, report: VerifyReport, problems: _Collector,
                   record_keys: Mapping[str, Ed25519PublicKey] | None = None) -> None:
    first = f.readline()
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not (isinstance(header, dict) and header.get("type") == "header"
            and header.get("format") == EXPORT_FORMAT):
        problems.add(ProblemKind.MALFORMED, f"line 1 is not a {EXPORT_FORMAT} header")
        return
    if header.get("version") not in SUPPORTED_VERSIONS:
        problems.add(ProblemKind.MALFORMED, f"export version {header.get('version')!r} is not supported")
        return
    report.log_id = str(header.get("log_id", ""))
    announced_key = header.get("public_key")
    if announced_key:
        try:
            if load_public_key(announced_key).public_bytes_raw() != public_key.public_bytes_raw():
                problems.add(ProblemKind.BAD_SIGNATURE,
                             "the export names a different signing key than the one given")
        except (TreeHeadError, ValueError):
            problems.add(ProblemKind.MALFORMED, "the header's public_key is not an Ed25519 key")

    # Tree heads come first; then the first leaf line (kept for the leaf loop).
    heads: list[SignedTreeHead] = []
    line_no = 1
    line = f.readline()
    while line and not line.startswith(b'{"type":"leaf"'):
        line_no += 1
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or obj.get("type") != "sth":
                raise TreeHeadError("not a tree head")
            heads.append(SignedTreeHead.from_dict(obj))
        except (ValueError, TreeHeadError) as exc:
            problems.add(ProblemKind.MALFORMED, f"line {line_no}: {exc}")
        line = f.readline()
    report.tree_heads = len(heads)
    if header.get("tree_heads") not in (None, len(heads)):
        problems.add(ProblemKind.MALFORMED,
                     f"header announces {header.get('tree_heads')} tree heads, the export has {len(heads)}")
    for sth in heads:
        if report.log_id and sth.log_id != report.log_id:
            problems.add(ProblemKind.MALFORMED, f"tree head at size {sth.tree_size} is for log "
                                                f"{sth.log_id!r}, not {report.log_id!r}")
            break
    roots = _check_tree_heads(heads, public_key, "exported", problems)
    trusted_roots = _check_tree_heads(trusted, public_key, "trusted", problems)
    for size, root in trusted_roots.items():
        if size in roots and roots[size] != root:
            problems.add(ProblemKind.ROOT_MISMATCH, f"the export's signed root for size {size} differs from "
                                                    "a trusted tree head (a split view)")
        roots.setdefault(size, root)
    signed_size = max(roots, default=0)
    report.tree_size = signed_size
    if not heads:
        problems.add(ProblemKind.UNSIGNED, "the export has no signed tree head: nothing can be verified")

    checkpoints = sorted(s for s in roots if s > 0)
    next_checkpoint = 0
    last_good = 0  # the largest signed size whose root matched the stored leaf hashes
    roots_ok = True  # stays true until a root mismatch or an index break makes later roots meaningless
    if 0 in roots and roots[0] != EMPTY_ROOT:
        roots_ok = False
    frontier = CompactRange()
    append = frontier.append
    expected = 0
    leaf_prefix = LEAF_PREFIX
    unhexlify = binascii.unhexlify
    match_leaf = _LEAF_LINE.match
    loads = json.loads
    while line:
        m = match_leaf(line)
        if m is None or not line.endswith((b"}\n", b"}")):
            problems.add(ProblemKind.MALFORMED, f"leaf line {line_no + 1} (expected index {expected}) "
                                                "does not match the export format", expected)
            roots_ok = False
            expected += 1
            line_no += 1
            line = f.readline()
            continue
        index = int(m[1])
        stored = unhexlify(m[2])
        record = line[m.end(): -2 if line.endswith(b"\n") else -1]
        if index != expected:
            if index > expected:
                gap = f"leaf {expected}" if index == expected + 1 else f"leaves {expected}..{index - 1}"
                problems.add(ProblemKind.REMOVED, f"{gap} missing: the export jumps from index "
                                                  f"{expected - 1} to {index}", expected, index)
            else:
                problems.add(ProblemKind.REORDERED, f"index {index} appears after index {expected - 1}",
                             index)
            roots_ok = False
        computed = sha256(leaf_prefix + record).digest()
        if computed != stored:
            problems.add(ProblemKind.MODIFIED, f"record {index} hashes to {computed.hex()} but its leaf hash "
                                               f"is {stored.hex()}: the record was modified", index)
        try:
            value = loads(record)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            problems.add(ProblemKind.MALFORMED, f"record {index} is not a JSON object", index)
        else:
            if check_canonical and canonical_json(value) != record:
                problems.add(ProblemKind.NOT_CANONICAL, f"record {index} is not in canonical JSON form",
                             index)
            if record_keys is not None:
                unvouched = record_signature_problem(value, record_keys)
                if unvouched is not None:
                    problems.add(ProblemKind.RECORD_SIGNATURE, f"record {index}: {unvouched}", index)
                else:
                    signer = str(value["service"])
                    report.signers[signer] = report.signers.get(signer, 0) + 1
        if roots_ok:
            append(stored)
            size = index + 1
            if next_checkpoint < len(checkpoints) and checkpoints[next_checkpoint] == size:
                report.roots_checked += 1
                if frontier.root() == roots[size]:
                    last_good = size
                else:
                    width = size - last_good
                    problems.add(
                        ProblemKind.ROOT_MISMATCH,
                        f"the leaf hashes of leaves {last_good}..{size - 1} do not give the root signed for "
                        f"size {size}: " + ("this leaf hash was rewritten" if width == 1 else
                                            "one or more of them were rewritten, moved or replaced"),
                        last_good, size, exact=width == 1,
                    )
                    roots_ok = False
                next_checkpoint += 1
        expected = max(expected, index + 1)
        line_no += 1
        line = f.readline()

    report.leaves = expected
    if expected < signed_size:
        problems.add(ProblemKind.REMOVED, f"the export ends at {expected} leaves but a tree head signs "
                                          f"{signed_size}: leaves {expected}.. were removed",
                     expected, signed_size)
    elif expected > signed_size and heads:
        problems.add(ProblemKind.UNSIGNED, f"leaves {signed_size}..{expected - 1} are beyond the last signed "
                                           "tree head", signed_size, expected)
    exported_size = max((h.tree_size for h in heads), default=0)
    if header.get("tree_size") not in (None, exported_size) and heads:
        problems.add(ProblemKind.MALFORMED, f"header announces tree size {header.get('tree_size')}, "
                                            f"the exported tree heads reach {exported_size}")


# ---------------------------------------------------------------------------------------------------
# command line: basira audit verify EXPORT --public-key KEY


def _read_key(value: str) -> Ed25519PublicKey:
    path = Path(value)
    text = path.read_text("ascii") if path.is_file() else value
    return load_public_key(text)


def _read_heads(paths: Sequence[str]) -> list[SignedTreeHead]:
    heads = []
    for p in paths:
        for line in Path(p).read_text("utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                data.pop("type", None)
                heads.append(SignedTreeHead.from_dict(data))
    return heads


def main(argv: Sequence[str] | None = None) -> int:
    """`verify EXPORT --public-key KEY [--sth FILE]...`; exit 0 if it verifies, 1 if not, 2 on misuse."""
    parser = argparse.ArgumentParser(
        prog="basira audit verify",
        description="Verify an access-log export offline against the log's public key.",
    )
    parser.add_argument("export", help="the JSON-lines export file")
    parser.add_argument("--public-key", required=True,
                        help="the log's Ed25519 public key: a file (PEM or base64) or the base64 itself")
    parser.add_argument("--sth", action="append", default=[], metavar="FILE",
                        help="tree heads obtained earlier (JSON, one per line) that the export must match")
    parser.add_argument("--record-keys", metavar="DIR",
                        help="directory of each service's record public key (<service>.pub.pem): check "
                        "every record is signed by its own service")
    parser.add_argument("--no-canonical-check", action="store_true",
                        help="skip re-encoding each record to check canonical form (faster)")
    parser.add_argument("--max-problems", type=int, default=20, help="problems to list (default 20)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        key = _read_key(args.public_key)
        trusted = _read_heads(args.sth)
        record_keys = load_public_keys(Path(args.record_keys)) if args.record_keys else None
    except ConfigError as exc:
        print(f"basira audit verify: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, TreeHeadError) as exc:
        print(f"basira audit verify: {exc}", file=sys.stderr)
        return 2
    try:
        report = verify_export(args.export, key, trusted_heads=trusted,
                               check_canonical=not args.no_canonical_check, max_problems=args.max_problems,
                               record_keys=record_keys)
    except OSError as exc:
        print(f"basira audit verify: cannot read {args.export}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
