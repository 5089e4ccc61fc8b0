"""Generate the gRPC stubs (`basira.v1`) from `proto/`, or check that the checked-in ones are fresh.

buf's remote plugins need the network, so stubs are generated with grpc_tools (DESIGN §9).
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

REPO = Path(__file__).resolve().parents[3]
PROTO_ROOT = REPO / "proto"
PACKAGE_DIR = Path("basira") / "v1"
WELL_KNOWN_PROTOS = Path(grpc_tools.__file__).parent / "_proto"
INIT_DOC = '"""Generated gRPC stubs for the basira.v1 contracts: run `make proto`, never edit by hand."""\n'


def generate(out_root: Path) -> None:
    """Write `<out_root>/basira/v1/*_pb2*.py(i)`; raises RuntimeError if protoc fails."""
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    target = out_root / PACKAGE_DIR
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*_pb2*.py*"):
        stale.unlink()
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{WELL_KNOWN_PROTOS}", f"--python_out={out_root}",
            f"--pyi_out={out_root}", f"--grpc_python_out={out_root}", *protos]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed; see the messages above")
    (target / "__init__.py").write_text(INIT_DOC)


def stale_files(checked_in_root: Path) -> list[str]:
    """Names of generated files that differ from (or are missing in) `checked_in_root`."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh_root = Path(tmp)
        generate(fresh_root)
        fresh, current = fresh_root / PACKAGE_DIR, checked_in_root / PACKAGE_DIR
        names = {p.name for p in fresh.iterdir()} | {p.name for p in current.glob("*_pb2*.py*")}
        return sorted(
            n for n in names
            if not (fresh / n).exists() or not (current / n).exists()
            or not filecmp.cmp(fresh / n, current / n, shallow=False)
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", type=Path, help="generate into this source root")
    mode.add_argument("--check", type=Path, help="fail if the stubs under this root are stale")
    args = parser.parse_args(argv)
    if args.out:
        generate(args.out)
        return 0
    stale = stale_files(args.check)
    if stale:
        print("Stale gRPC stubs (run `make proto` and commit): " + ", ".join(stale), file=sys.stderr)
        return 1
    print("gRPC stubs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
