"""Start the development issuer: `python -m basira.identity --realm-file ... --data-dir ... --port N`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import signal
import sys

from basira.common.errors import ConfigError
from basira.common.tls import TlsFiles, server_ssl_context
from basira.identity.realm import PasswordCredential
from basira.identity.server import DEFAULT_REALM_FILE, start_issuer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m basira.identity", description=__doc__)
    p.add_argument("--realm-file", default=str(DEFAULT_REALM_FILE),
                   help="Keycloak realm export to serve (default: %(default)s)")
    p.add_argument("--data-dir", default="var",
                   help="state directory; the signing key lives in <data-dir>/identity/")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8180, help="0 picks a free port (printed at start)")
    p.add_argument("--public-url", default=None,
                   help="base URL put in `iss` (default http(s)://<host>:<port>; HTTPS when BASIRA_TLS_CERT "
                   "and BASIRA_TLS_KEY are set)")
    p.add_argument("--token-lifetime", type=int, default=None,
                   help="access token lifetime in seconds (default: the realm's accessTokenLifespan)")
    p.add_argument("--hash-password", action="store_true",
                   help="read a password (prompt or stdin), print a realm-file credential, and exit")
    return p


async def _serve(args: argparse.Namespace) -> None:
    tls = TlsFiles.from_env()  # HTTPS with the certificate basira up gives (BASIRA_TLS_CERT/KEY)
    app = await start_issuer(args.realm_file, args.data_dir, host=args.host, port=args.port,
                             public_url=args.public_url, token_lifetime_s=args.token_lifetime,
                             ssl_context=server_ssl_context(tls) if tls and tls.cert else None)
    print(json.dumps({"event": "identity.listening", "url": app.url, "issuer": app.issuer,
                      "port": app.port, "kid": app.kid}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.hash_password:
        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        print(json.dumps(PasswordCredential.create(password).to_export(), indent=2))
        return 0
    try:
        asyncio.run(_serve(args))
    except ConfigError as e:
        print(f"identity: configuration error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
