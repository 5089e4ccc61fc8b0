"""The benchmark convention: print figures for a person, write the same figures as JSON for machines.

Every `make bench-*` target ends with `report(name, figures)`, which writes
`var/bench/<name>.json` with the machine's core count and the git revision so runs can be compared.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def git_revision() -> str:
    """The current commit (with `-dirty` if the tree has changes), or `unknown` outside git."""
    try:
        rev = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev or "unknown"


def report(name: str, figures: dict[str, Any], bench_dir: str | os.PathLike[str] | None = None) -> Path:
    """Print `figures` as aligned lines and write them to `<bench_dir>/<name>.json`; return that path."""
    out_dir = Path(bench_dir or os.environ.get("BASIRA_BENCH_DIR", "var/bench"))
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "name": name,
        "figures": figures,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "git_revision": git_revision(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    width = max((len(k) for k in figures), default=0)
    print(f"== bench {name} ({document['cores']} cores, rev {document['git_revision']}) ==")
    for key, value in figures.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"  {key.ljust(width)}  {shown}")
    print(f"  -> {path}")
    return path


@contextlib.contextmanager
def bench_database(postgres_url: str | None, prefix: str) -> Iterator[str]:
    """The database a benchmark fills: `postgres_url` if given (an empty one), else a PostgreSQL of
    its own in a temporary directory, stopped and removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    work.chmod(0o755)
    server = None
    try:
        if postgres_url:
            yield postgres_url
        else:
            from basira.runtime.postgres import start_postgres

            server, url = start_postgres(work)
            yield url
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
