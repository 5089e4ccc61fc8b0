"""`basira`: bring the platform up, add cameras, manage hotlists, search, stream alerts, check policies
and verify the access log. Run `basira <command> --help` for each command's options."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from basira.common.channels import open_channel
from basira.common.errors import BasiraError, ConfigError

if TYPE_CHECKING:
    from basira.runtime.supervisor import PlatformConfig

EXIT_USAGE, EXIT_FAILED = 2, 1


def up_config(args: argparse.Namespace) -> PlatformConfig:
    """`basira up`'s options over the BASIRA_* environment over the defaults."""
    from basira.runtime.supervisor import PlatformConfig

    ports = {name: int(port) for name, port in (p.split("=", 1) for p in args.port or [])}
    config = PlatformConfig.from_env(data_dir=args.data_dir, nats_url=args.nats_url,
                                     database_url=args.database_url, policy_url=args.opa_url,
                                     oidc_url=args.oidc_url, tls=args.tls)
    config.ports.update(ports)
    return config


def _cmd_up(args: argparse.Namespace) -> int:
    from basira.runtime.supervisor import Platform

    config = up_config(args)
    platform = Platform(config)
    stopping = False

    def request_stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(f"Starting Basira from {config.data_dir} ...", flush=True)
    endpoints = platform.start()
    print("Basira is up. Where each part listens:")
    for name, where in endpoints.items():
        print(f"  {name:<10} {where}")
    if "console" in endpoints:
        print(f"Web console: {endpoints['console']}/  (sign in as a development user, e.g. police-operator "
              "/ police-operator-dev-password; every user is listed in infra/keycloak/README.md)")
        if endpoints.get("identity", "").startswith("https://"):
            print(f"  Its sign-in page is HTTPS from the platform's own CA: import "
                  f"{platform.tls_dir / 'ca.pem'} in your browser, or accept the certificate once.")
    print(f"Logs: {config.data_dir / 'logs'}   Stop: Ctrl-C or `basira down --data-dir {args.data_dir}`",
          flush=True)
    try:
        if args.demo:
            from basira.cli.demo import run_demo

            run_demo(config.data_dir, seconds=args.demo_seconds, should_stop=lambda: stopping)
            if args.demo_seconds:
                return 0
        while not stopping:
            for name in platform.restart_dead():
                print(f"{name} stopped unexpectedly and was restarted (see {config.data_dir / 'logs'})",
                      file=sys.stderr, flush=True)
            time.sleep(0.5)
    finally:
        print("Stopping Basira ...", flush=True)
        platform.stop()
        print("Stopped; no process left behind.", flush=True)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    from basira.runtime.supervisor import stop_running

    if stop_running(Path(args.data_dir)):
        print("Basira stopped.")
        return 0
    print(f"no running platform found in {args.data_dir}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from basira.cli.session import load_endpoints

    endpoints = load_endpoints(Path(args.data_dir))
    worst = 0
    for name, where in endpoints.items():
        state = "-"
        if ":" in where and "//" not in where:
            try:
                with open_channel(where) as channel:
                    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                                      timeout=3)
                    state = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as exc:
                state, worst = f"UNREACHABLE ({exc.code().name})", EXIT_FAILED
        print(f"  {name:<10} {where:<40} {state}")
    return worst


def _cmd_token(args: argparse.Namespace) -> int:
    from basira.cli.session import Session

    print(Session.sign_in(Path(args.data_dir), args.user, args.password).token)
    return 0


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from basira.audit.verify import main as verify_main

    argv = [args.export, "--public-key", args.public_key, "--max-problems", str(args.max_problems)]
    for sth in args.sth:
        argv += ["--sth", sth]
    if args.record_keys:
        argv += ["--record-keys", args.record_keys]
    argv += ["--json"] * args.json + ["--no-canonical-check"] * args.no_canonical_check
    return int(verify_main(argv))


def _cmd_policy_test(args: argparse.Namespace) -> int:
    from basira.policy.testing import main as policy_test_main

    return int(policy_test_main([args.policy_dir]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="basira", description=__doc__)
    parser.add_argument("--data-dir", default="var", help="the platform's data directory (default: var)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start the whole platform (embedded NATS, PostgreSQL, policy, "
                        "identity and every service); Ctrl-C stops it")
    up.add_argument("--data-dir", default=argparse.SUPPRESS, help="data directory (default: var)")
    up.add_argument("--nats-url", help="use this NATS (JetStream) instead of starting one")
    up.add_argument("--database-url", help="use this PostgreSQL instead of starting one")
    up.add_argument("--opa-url", help="use this OPA server instead of the embedded policy engine")
    up.add_argument("--oidc-url", help="use this Keycloak instead of the development issuer")
    up.add_argument("--port", action="append", metavar="NAME=PORT",
                    help="fix a port, e.g. --port search=7003 (names: nats, identity, policy, audit, "
                    "ingest, analytics, search, alerting); default: free ports")
    up.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None,
                    help="gRPC and NATS over TLS with a local CA and a certificate per service under "
                    "<data dir>/tls (the default; `basira` commands trust it by themselves, other clients "
                    "set BASIRA_TLS_CA=<data dir>/tls/ca.pem). --no-tls (or BASIRA_TLS=0): plaintext, "
                    "only for side-by-side measurements")
    up.add_argument("--demo", action="store_true", help="register the sample cameras and show frames "
                    "flowing through the platform")
    up.add_argument("--demo-seconds", type=float, default=0,
                    help="with --demo: stop after this many seconds (0: run until Ctrl-C)")
    up.set_defaults(func=_cmd_up)

    down = sub.add_parser("down", help="stop a platform started with `basira up`")
    down.add_argument("--data-dir", default=argparse.SUPPRESS)
    down.set_defaults(func=_cmd_down)

    status = sub.add_parser("status", help="where each part listens and whether it is serving")
    status.add_argument("--data-dir", default=argparse.SUPPRESS)
    status.set_defaults(func=_cmd_status)

    token = sub.add_parser("token", help="print an access token for a user (dev issuer or Keycloak)")
    token.add_argument("--user", required=True)
    token.add_argument("--password", required=True)
    token.set_defaults(func=_cmd_token)

    audit = sub.add_parser("audit", help="the access log: verify an export offline")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="check an export without trusting the server: every "
                                  "record's inclusion and the chain of signed tree heads")
    verify.add_argument("export", help="export file (JSON lines) from AuditService.ExportLog")
    verify.add_argument("--public-key", required=True, help="the log's Ed25519 public key (PEM)")
    # Every option spelt out (a REMAINDER here swallowed --public-key written after the file).
    verify.add_argument("--record-keys", metavar="DIR", help="each service's record public key "
                        "(<service>.pub.pem; `basira up` keeps them in <data dir>/keys/records/public): "
                        "check every record is signed by its own service")
    verify.add_argument("--sth", action="append", default=[], metavar="FILE",
                        help="tree heads obtained earlier (JSON, one per line) the export must match")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--no-canonical-check", action="store_true", help="skip the canonical-form check")
    verify.add_argument("--max-problems", type=int, default=20, help="problems to list (default 20)")
    verify.set_defaults(func=_cmd_audit_verify)

    policy = sub.add_parser("policy", help="policies: run the Rego unit tests with coverage")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    ptest = policy_sub.add_parser("test", help="run every test_* rule under the policy directory")
    ptest.add_argument("policy_dir", nargs="?", default="policy")
    ptest.set_defaults(func=_cmd_policy_test)

    from basira.cli import commands

    commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, BasiraError) as exc:
        print(f"basira: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED
    except grpc.RpcError as exc:
        print(f"basira: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))
