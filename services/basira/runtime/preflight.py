"""Checks run before anything starts, so bad configuration fails fast with a message naming it."""

from __future__ import annotations

import os
import socket
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from basira.common.errors import ConfigError
from basira.common.tls import https_client_context


def check_data_dir(path: Path) -> None:
    """The data dir exists (or can be made) and is writable; raises ConfigError otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"data dir {path} is not writable: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"data dir {path} is not writable")


def check_port_free(host: str, port: int, what: str) -> None:
    """Raises ConfigError naming `what` if `host:port` is already taken (port 0 is always fine)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"port {port} for {what} on {host} is taken ({exc.strerror}); choose "
                              f"another with --port-{what}=N or free it") from exc


def check_tcp_reachable(url: str, what: str, timeout_s: float = 3.0) -> None:
    """Raises ConfigError if nothing answers at the URL's host:port within `timeout_s`."""
    parsed = urllib.parse.urlparse(url)
    default = {"nats": 4222, "http": 80, "https": 443, "postgresql": 5432, "postgres": 5432}
    host = parsed.hostname
    port = parsed.port or default.get(parsed.scheme, 0)
    if parsed.scheme in ("postgresql", "postgres"):
        query = urllib.parse.parse_qs(parsed.query)
        if "host" in query and query["host"][0].startswith("/"):
            sock_path = Path(query["host"][0]) / f".s.PGSQL.{parsed.port or 5432}"
            if not sock_path.exists():
                raise ConfigError(f"{what} at {url} is unreachable: no socket {sock_path}")
            return
    if not host or not port:
        raise ConfigError(f"{what} URL {url!r} has no host/port")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise ConfigError(f"{what} at {url} is unreachable: {exc.strerror or exc}") from exc


def check_http_health(url: str, what: str, timeout_s: float = 3.0) -> None:
    """GET the URL; raises ConfigError unless it answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=https_client_context()) as response:
            if not 200 <= response.status < 300:
                raise ConfigError(f"{what} at {url} answered HTTP {response.status}")
    except OSError as exc:
        raise ConfigError(f"{what} at {url} is unreachable: {exc}") from exc
