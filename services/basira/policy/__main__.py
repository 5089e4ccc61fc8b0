"""Start the policy service: `python -m basira.policy --policy-dir policy --host 127.0.0.1 --port 8181`.

`--engine opa` runs a real OPA server instead (BASIRA_OPA_BINARY or `opa` on PATH), fed the same
directory as a bundle whose manifest carries the same revision the embedded engine computes, so
decisions carry the same `revision` either way. `--print-revision` prints that revision and exits
(for `opa build --revision`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nats.aio.client import Client as NatsClient
from pydantic import ValidationError

from basira.common.audit_sink import JetStreamAuditSink
from basira.common.auth import TokenVerifier
from basira.common.errors import InvalidInput, Unavailable
from basira.common.gate import Gate
from basira.common.nats import connect, ensure_streams, require_streams, streams_used_by
from basira.common.record_signing import load_private_key
from basira.common.tls import TlsFiles, server_ssl_context
from basira.policy.api import start_server
from basira.policy.bundle import bundle_files, ensure_signing_key
from basira.policy.config import PolicySettings
from basira.policy.edits import EditGate, StoreAuthorizer
from basira.policy.engine import load_policy_dir
from basira.policy.store import PolicyStore

log = logging.getLogger("basira.policy")


async def edit_gate(settings: PolicySettings, store: PolicyStore
                    ) -> tuple[EditGate | None, NatsClient | None]:
    """The gate of policy edits (identity + the served policy + the access log), when both the
    identity issuer and NATS are configured; else None: edits are then open, as on a bare OPA."""
    if not (settings.oidc_url and settings.nats_url):
        log.warning("no BASIRA_OIDC_URL / BASIRA_NATS_URL: policy edits are neither authenticated nor "
                    "logged (development only)")
        return None, None
    nc, js = await connect(settings.nats_url, "policy", credentials=settings.nats_credentials)
    if settings.nats_manage_streams:
        await ensure_streams(js)
    else:
        await require_streams(js, streams_used_by("policy"))
    signing_key = load_private_key(settings.record_signing_key) if settings.record_signing_key else None
    verifier = TokenVerifier(server_url=settings.oidc_url, realm=settings.oidc_realm,
                             audience=settings.oidc_audience, client_id="basira-services",
                             issuer=settings.oidc_issuer or None)
    sink = JetStreamAuditSink(js, "policy", signing_key=signing_key)
    return EditGate(Gate("policy", verifier, StoreAuthorizer(store), sink)), nc


async def serve(settings: PolicySettings) -> None:
    """Serve the embedded engine (and its signed bundles) until SIGINT / SIGTERM."""
    key = ensure_signing_key(settings.signing_key) if settings.signing_key else None
    store = PolicyStore.from_directory(settings.policy_dir, signing_key=key)
    editor, nc = await edit_gate(settings, store)
    tls = TlsFiles.from_env()  # HTTPS with the certificate basira up gives (BASIRA_TLS_CERT/KEY)
    context = server_ssl_context(tls) if tls and tls.cert else None
    runner, port = await start_server(store, settings.host, settings.port, editor=editor, ssl_context=context)
    log.info("policy service on %s://%s:%d, revision %s%s", "https" if context else "http", settings.host,
             port, store.revision, ", serving signed bundles" if key else "")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if nc is not None:
            await nc.drain()


def opa_binary(settings: PolicySettings) -> str:
    """The opa executable to run; raises InvalidInput when there is none."""
    found = settings.opa_binary or shutil.which("opa")
    if not found:
        raise InvalidInput("--engine opa needs BASIRA_OPA_BINARY or an `opa` binary on PATH")
    return found


def write_bundle(policy_dir: Path, target: Path) -> str:
    """Write the bundle's files (unsigned: OPA reads them from a directory) into `target`; return
    the revision."""
    policy_set = load_policy_dir(policy_dir)
    for name, content in bundle_files(policy_set).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(content)
    return policy_set.revision


def run_opa(settings: PolicySettings) -> int:
    """Run `opa run --server` on a bundle of the policy directory; returns OPA's exit status."""
    binary = opa_binary(settings)
    with tempfile.TemporaryDirectory(prefix="basira-bundle-") as bundle:
        revision = write_bundle(settings.policy_dir, Path(bundle))
        command = [
            binary,
            "run",
            "--server",
            "--addr",
            f"{settings.host}:{settings.port}",
            "--bundle",
            bundle,
        ]
        log.info("exec %s (revision %s)", " ".join(command), revision)
        process = subprocess.Popen(command)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            return process.wait()


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, PolicySettings]:
    parser = argparse.ArgumentParser(prog="python -m basira.policy", description=__doc__.splitlines()[0])
    parser.add_argument("--policy-dir", type=Path, help="directory of Rego modules and data.json files")
    parser.add_argument("--host", help="address to listen on")
    parser.add_argument("--port", type=int, help="TCP port (0: any free port)")
    parser.add_argument("--engine", choices=["regorus", "opa"], help="policy engine")
    parser.add_argument("--signing-key", type=Path, help="bundle signing key (PEM; created if absent)")
    parser.add_argument("--nats-url", help="NATS, for the access records of policy edits")
    parser.add_argument("--oidc-url", help="identity issuer authenticating policy edits")
    parser.add_argument("--print-revision", action="store_true", help="print the policy revision and exit")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("policy_dir", args.policy_dir),
            ("host", args.host),
            ("port", args.port),
            ("engine", args.engine),
            ("signing_key", args.signing_key),
            ("nats_url", args.nats_url),
            ("oidc_url", args.oidc_url),
        )
        if value is not None
    }
    return args, PolicySettings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        args, settings = parse_args(argv)
        if args.print_revision:
            print(load_policy_dir(settings.policy_dir).revision)
            return 0
        if settings.engine == "opa":
            return run_opa(settings)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(settings))
        return 0
    except (ValidationError, InvalidInput, Unavailable, FileNotFoundError) as error:
        print(f"policy service cannot start: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
