"""Each service's NATS identity: its permissions derived from the stream declarations (DESIGN §6).

A service may publish only the subjects of the streams it writes (`audit.record.<itself>` for the
access log), consume only the streams it reads, and use only the JetStream API calls that needs: no
stream is created, changed, purged or deleted by a service (`$JS.API.STREAM.*` beyond INFO), that is
the operator's. Replies come back on the service's own inbox prefix, which nobody else may read.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from basira.common.errors import ConfigError
from basira.common.nats import GATED_SERVICES, STREAMS, Credentials, StreamSpec, inbox_prefix

OPERATOR = "operator"
"""The administrative identity (creates the streams; the demo and the tests read through it)."""


def _reader_api(stream: str) -> list[str]:
    """The JetStream API a consumer of `stream` needs: info, read a message, its own consumers, acks."""
    return [f"$JS.API.STREAM.MSG.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}.>", f"$JS.API.CONSUMER.CREATE.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}.>", f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.>", f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
            f"$JS.API.CONSUMER.DELETE.{stream}.>", f"$JS.ACK.{stream}.>", f"$JS.FC.{stream}.>"]


def service_permissions(service: str, streams: tuple[StreamSpec, ...] = STREAMS) -> dict[str, Any]:
    """nats-server `permissions` for `service`: publish and subscribe allow-lists, nothing else.

    Raises ConfigError for a name no stream declares (a typo must not become an identity).
    """
    publish: list[str] = ["$JS.API.INFO"]
    subscribe: list[str] = [f"{inbox_prefix(service)}.>"]
    known = False
    for spec in streams:
        writes = spec.publish_subjects(service)
        reads = service in spec.readers
        known = known or bool(writes) or reads
        if writes or reads:
            publish.append(f"$JS.API.STREAM.INFO.{spec.name}")
        publish.extend(writes)
        if reads:
            publish.extend(_reader_api(spec.name))
            subscribe.extend(spec.subjects)
    if not known:
        raise ConfigError(f"no stream declares {service!r} as a writer or reader")
    return {"publish": {"allow": publish}, "subscribe": {"allow": subscribe}}


def ensure_credentials(directory: Path, name: str) -> Path:
    """`directory/<name>.json` with a random password, made once (0600) and reused afterwards."""
    path = directory / f"{name}.json"
    if path.exists():
        Credentials.load(path)
        return path
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"user": name, "password": secrets.token_urlsafe(32)}, out)
    return path


def authorization_block(credentials: dict[str, Path], streams: tuple[StreamSpec, ...] = STREAMS) -> str:
    """The nats-server `authorization` block: the operator unrestricted, each service least privilege."""
    users = []
    for name, path in sorted(credentials.items()):
        creds = Credentials.load(path)
        user: dict[str, Any] = {"user": creds.user, "password": creds.password}
        if name != OPERATOR:
            user["permissions"] = service_permissions(name, streams)
        users.append(user)
    return "authorization: " + json.dumps({"users": users}, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m basira.common.nats_identity DIR`: make (or reuse) every identity under DIR and print
    the `authorization` block to include in a production nats-server configuration."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m basira.common.nats_identity", description=main.__doc__)
    parser.add_argument("directory", type=Path, help="where the identities' JSON files are kept (0700)")
    args = parser.parse_args(argv)
    paths = {name: ensure_credentials(args.directory, name) for name in (OPERATOR, *GATED_SERVICES)}
    print(authorization_block(paths), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
