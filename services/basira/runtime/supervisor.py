"""`basira up`: start, supervise and stop the whole platform on one machine.

Start order: NATS → PostgreSQL → identity → policy → audit → the other services → the web console.
Each external part may instead be given by URL (production), and is then only checked, never started.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from basira.common.channels import open_channel
from basira.common.errors import ConfigError, Unavailable
from basira.common.metrics import free_port
from basira.common.nats import CREDENTIALS_ENV, GATED_SERVICES, connect, ensure_streams
from basira.common.nats_identity import OPERATOR, authorization_block, ensure_credentials
from basira.common.record_signing import ensure_signing_key as ensure_record_key
from basira.common.tls import TlsFiles, client_ssl_context, ensure_ca, ensure_service_cert
from basira.policy.bundle import ensure_signing_key, public_key_path
from basira.runtime import preflight
from basira.runtime.nats_server import start_nats
from basira.runtime.postgres import passfile_dir, start_postgres
from basira.runtime.postgres_roles import prepare_service_databases
from basira.runtime.processes import ManagedProcess

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
GRPC_SERVICES = ("audit", "ingest", "analytics", "search", "alerting")
DATABASE_SERVICES = {"audit", "ingest", "analytics", "search", "alerting"}
# The gRPC services the console calls (service → its settings prefix: BASIRA_<PREFIX>_TARGET).
CONSOLE_BACKENDS = {"ingest": "ingest", "analytics": "analytics", "search": "search",
                    "alerting": "alerting", "audit": "audit"}


def realm_client_secret(realm_file: Path, client_id: str) -> str:
    """A client's secret from the realm export (the development realm ships its dev secrets)."""
    try:
        realm = json.loads(realm_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the realm file {realm_file}: {exc}") from exc
    for client in realm.get("clients") or []:
        if client.get("clientId") == client_id and client.get("secret"):
            return str(client["secret"])
    raise ConfigError(f"the realm file {realm_file} has no client {client_id!r} with a secret; "
                      "set BASIRA_CONSOLE_CLIENT_SECRET")


@dataclass
class PlatformConfig:
    """Where things live and which parts are external. Ports of 0 are picked free."""

    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    nats_url: str = ""
    database_url: str = ""
    policy_url: str = ""
    oidc_url: str = ""
    realm_file: Path = REPO / "infra" / "keycloak" / "basira-realm.json"
    policy_dir: Path = REPO / "policy"
    ports: dict[str, int] = field(default_factory=dict)
    services: tuple[str, ...] = GRPC_SERVICES
    console: bool = True
    ready_timeout_s: float = 90.0
    tls: bool = True
    """gRPC and NATS over TLS with a local CA and per-service certificates (--no-tls or BASIRA_TLS=0:
    plaintext, only for side-by-side measurements)."""
    nats_auth: bool = True
    """Per-service NATS identities on the embedded NATS (BASIRA_NATS_AUTH=0: open, for comparisons)."""

    @classmethod
    def from_env(cls, **overrides: object) -> PlatformConfig:
        """Defaults, then BASIRA_* environment variables, then explicit overrides."""
        env = os.environ
        config = cls(
            data_dir=Path(env.get("BASIRA_DATA_DIR", "var")),
            nats_url=env.get("BASIRA_NATS_URL", ""),
            database_url=env.get("BASIRA_DATABASE_URL", ""),
            policy_url=env.get("BASIRA_POLICY_URL", ""),
            oidc_url=env.get("BASIRA_OIDC_URL", ""),
            tls=env.get("BASIRA_TLS", "1") not in ("0", "false", "no"),
            nats_auth=env.get("BASIRA_NATS_AUTH", "1") not in ("0", "false", "no"),
        )
        for key, value in overrides.items():
            if value not in (None, ""):
                setattr(config, key, value)
        config.data_dir = Path(config.data_dir).resolve()
        return config


@dataclass
class Platform:
    """The running platform: its processes and where each part listens."""

    config: PlatformConfig
    processes: list[ManagedProcess] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)
    policy_source: str = "rest"
    nats_auth: bool = False
    """True when the embedded NATS was started with per-service identities (see nats_env)."""
    records_signed: bool = False
    """True once start() has made every service's record signing key (see record_env)."""
    database_urls: dict[str, str] = field(default_factory=dict)
    """Each service's own login to the embedded PostgreSQL (postgres_roles); external ones: the URL given."""
    certificates_made: bool = False
    """True once start() has made the local CA (with TLS on), so tls_files may make certificates."""
    _restarts: dict[str, list[float]] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.config.data_dir / "run"

    def preflight(self) -> None:
        """Fail fast, naming the problem: unwritable data dir, taken port, unreachable URL."""
        c = self.config
        preflight.check_data_dir(c.data_dir)
        for name, port in c.ports.items():
            preflight.check_port_free(c.host, port, name)
        if c.nats_url:
            preflight.check_tcp_reachable(c.nats_url, "NATS")
        if c.database_url:
            preflight.check_tcp_reachable(c.database_url, "PostgreSQL")
        if c.policy_url:
            preflight.check_http_health(c.policy_url.rstrip("/") + "/health", "OPA")
        if c.oidc_url:
            preflight.check_http_health(
                f"{c.oidc_url.rstrip('/')}/realms/basira/.well-known/openid-configuration", "OIDC issuer")
        pid_file = self.run_dir / "supervisor.pid"
        if pid_file.exists():
            other = int(pid_file.read_text().strip() or 0)
            if other and _pid_alive(other):
                raise ConfigError(f"a platform is already running from {c.data_dir} (pid {other}); "
                                  "stop it with `basira down` first")

    def _port(self, name: str) -> int:
        return self.config.ports.get(name) or free_port(self.config.host)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        proc = ManagedProcess(name, argv, self.config.data_dir / "logs" / f"{name}.log", env=env or {})
        proc.start()
        self.processes.append(proc)
        return proc

    def start(self) -> dict[str, str]:
        """Start every part and wait until each is ready; on failure stop what started and raise."""
        c = self.config
        self.preflight()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "supervisor.pid").write_text(str(os.getpid()))
        for name in GATED_SERVICES:  # each service's record key, before any service starts
            ensure_record_key(self.record_keys, name)
        self.records_signed = True
        if c.tls:
            ensure_ca(self.tls_dir)
            self.certificates_made = True
        try:
            if not c.nats_url:
                identities = {name: ensure_credentials(self.nats_identities, name)
                              for name in (OPERATOR, *GATED_SERVICES)} if c.nats_auth else {}
                proc, c.nats_url = start_nats(c.data_dir, host=c.host, port=c.ports.get("nats", 0),
                                              authorization=authorization_block(identities) if identities
                                              else "", tls=self.tls_files("nats"))
                self.processes.append(proc)
                if c.nats_auth:
                    asyncio.run(_declare_streams(c.nats_url, self.nats_credentials(OPERATOR),
                                                 self.tls_files("basira-up")))
                    self.nats_auth = True
            self.endpoints["nats"] = c.nats_url
            if not c.database_url:
                proc, c.database_url = start_postgres(c.data_dir)
                self.processes.append(proc)
                self.database_urls = prepare_service_databases(c.database_url, passfile_dir(c.data_dir),
                                                               tuple(DATABASE_SERVICES & set(c.services)))
            self.endpoints["postgres"] = c.database_url
            if not c.oidc_url:
                port = self._port("identity")
                proc = self._spawn("identity", [sys.executable, "-m", "basira.identity", "--realm-file",
                                                str(c.realm_file), "--data-dir", str(c.data_dir),
                                                "--host", c.host, "--port", str(port)],
                                   self.tls_env("identity"))
                c.oidc_url = f"{self.http_scheme}://{c.host}:{port}"
                _wait_http(f"{c.oidc_url}/realms/basira/.well-known/openid-configuration", proc,
                           c.ready_timeout_s, self.tls_files("basira-up"))
            self.endpoints["identity"] = c.oidc_url
            if not c.policy_url:
                port = self._port("policy")
                ensure_signing_key(self.signing_key)  # before any service needs its public half
                proc = self._spawn("policy", [sys.executable, "-m", "basira.policy", "--policy-dir",
                                              str(c.policy_dir), "--host", c.host, "--port", str(port),
                                              "--signing-key", str(self.signing_key),
                                              "--nats-url", c.nats_url, "--oidc-url", c.oidc_url],
                                   {**self.nats_env("policy"), **self.record_env("policy"),
                                    **self.tls_env("policy")})
                self.policy_source = "bundle"
                c.policy_url = f"{self.http_scheme}://{c.host}:{port}"
                _wait_http(f"{c.policy_url}/health", proc, c.ready_timeout_s, self.tls_files("basira-up"))
            self.endpoints["policy"] = c.policy_url
            started: list[tuple[str, ManagedProcess, int]] = []
            for name in c.services:
                port = self._port(name)
                env = self.service_env(name, port)
                started.append((name, self._spawn(name, [sys.executable, "-m", f"basira.{name}"], env),
                                port))
            for name, proc, port in started:
                _wait_grpc_health(f"{c.host}:{port}", proc, c.ready_timeout_s, self.tls_files("basira-up"))
                self.endpoints[name] = f"{c.host}:{port}"
            if c.console and all(s in self.endpoints for s in CONSOLE_BACKENDS):
                port = self._port("console")
                proc = self._spawn("console", [sys.executable, "-m", "basira.console"],
                                   self.console_env(port))
                _wait_http(f"http://{c.host}:{port}/healthz", proc, c.ready_timeout_s)
                self.endpoints["console"] = f"http://{c.host}:{port}"
        except BaseException:
            self.stop()
            raise
        (self.run_dir / "endpoints.json").write_text(json.dumps(self.endpoints, indent=2) + "\n")
        client = self.tls_files("basira-up")  # what the CLI's clients trust (basira.cli.session)
        ca = str(client.ca) if client else ""
        (self.run_dir / "client.json").write_text(json.dumps({"tls_ca": ca}) + "\n")
        return self.endpoints

    @property
    def nats_identities(self) -> Path:
        """Where the embedded NATS's identities live (one JSON file per service, 0600)."""
        return self.config.data_dir / "nats" / "identities"

    def nats_credentials(self, name: str) -> Path:
        """The credentials file of one NATS identity (`operator` for administration and tests)."""
        return self.nats_identities / f"{name}.json"

    @property
    def record_keys(self) -> Path:
        """Each service's access-record signing key (<service>.pem), public halves in `public/`."""
        return self.config.data_dir / "keys" / "records"

    def record_env(self, name: str) -> dict[str, str]:
        """The key `name` signs its access records with (made by start()); the audit service also
        gets every public key. Deployments that give no keys (compose) log unsigned records."""
        if not self.records_signed:
            return {}
        env = {"BASIRA_RECORD_SIGNING_KEY": str(self.record_keys / f"{name}.pem")}
        if name == "audit":
            env["BASIRA_RECORD_KEYS_DIR"] = str(self.record_keys / "public")
        return env

    @property
    def http_scheme(self) -> str:
        """The embedded identity issuer and policy service serve HTTPS when TLS is on."""
        return "https" if self.certificates_made else "http"

    @property
    def tls_dir(self) -> Path:
        """The local CA and every party's certificate (made on first start, reused afterwards)."""
        return self.config.data_dir / "tls"

    def tls_files(self, name: str) -> TlsFiles | None:
        """`name`'s certificate from the platform's local CA (made once), once start() made the CA.
        Deployments that give no certificates (compose, Kubernetes behind a TLS ingress) get none."""
        if not self.certificates_made:
            return None
        return ensure_service_cert(self.tls_dir, name, hosts=("127.0.0.1", "localhost", self.config.host))

    def tls_env(self, name: str) -> dict[str, str]:
        """A service serves with its certificate (BASIRA_TLS_CERT/KEY/CA) and calls others with it."""
        files = self.tls_files(name)
        return files.env() if files else {}

    def client_env(self) -> dict[str, str]:
        """What an in-process client of this platform (a test, a benchmark) sets to reach it: the
        operator's NATS identity and the local CA, when they are on."""
        env = {CREDENTIALS_ENV: str(self.nats_credentials(OPERATOR))} if self.nats_auth else {}
        tls = self.tls_files("basira-up")
        if tls is not None:
            env["BASIRA_TLS_CA"] = str(tls.ca)
        return env

    @contextmanager
    def client_settings(self) -> Iterator[None]:
        """This process's own clients (a test's, a benchmark's) set as client_env() says while the block
        runs; the environment is given back afterwards."""
        wanted = self.client_env()
        saved = {key: os.environ.get(key) for key in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def nats_env(self, name: str) -> dict[str, str]:
        """A service's NATS identity settings: its own credentials; the streams are the operator's."""
        if not self.nats_auth:
            return {}
        return {CREDENTIALS_ENV: str(self.nats_credentials(name)), "BASIRA_NATS_MANAGE_STREAMS": "false"}

    @property
    def signing_key(self) -> Path:
        """The key the policy service signs bundles with; services verify with its public half."""
        return self.config.data_dir / "policy" / "bundle-signing-key.pem"

    def service_env(self, name: str, port: int) -> dict[str, str]:
        c = self.config
        env = {
            "BASIRA_GRPC_PORT": str(port), "BASIRA_HOST": c.host, "BASIRA_DATA_DIR": str(c.data_dir),
            "BASIRA_NATS_URL": c.nats_url, "BASIRA_POLICY_URL": c.policy_url, "BASIRA_OIDC_URL": c.oidc_url,
            "BASIRA_METRICS_PORT": str(c.ports.get(f"{name}-metrics", 0)),
            # Our policy service: decide in process from its signed bundles. A given --opa-url (an
            # OPA server): ask its Data API, unless the environment says otherwise.
            "BASIRA_POLICY_SOURCE": os.environ.get("BASIRA_POLICY_SOURCE", self.policy_source),
        }
        if self.policy_source == "bundle":
            env["BASIRA_POLICY_PUBLIC_KEY"] = str(public_key_path(self.signing_key))
        if name in DATABASE_SERVICES:
            env["BASIRA_DATABASE_URL"] = self.database_urls.get(name, c.database_url)
        env.update(self.nats_env(name))
        env.update(self.record_env(name))
        env.update(self.tls_env(name))
        return env

    def console_env(self, port: int) -> dict[str, str]:
        """The console's settings: its port, the issuer, its client secret, the services it calls."""
        c = self.config
        env = {"BASIRA_HTTP_PORT": str(port), "BASIRA_HOST": c.host, "BASIRA_DATA_DIR": str(c.data_dir),
               "BASIRA_OIDC_URL": c.oidc_url, "BASIRA_POLICY_DIR": str(c.policy_dir),
               "BASIRA_CONSOLE_CLIENT_SECRET": os.environ.get("BASIRA_CONSOLE_CLIENT_SECRET")
               or realm_client_secret(c.realm_file, "basira-console")}
        for service, target in CONSOLE_BACKENDS.items():
            env[f"BASIRA_{target.upper()}_TARGET"] = self.endpoints[service]
        env.update(self.tls_env("console"))
        return env

    def check(self) -> list[str]:
        """Names of supervised processes that have died."""
        return [p.name for p in self.processes if not p.alive()]

    def restart_dead(self, *, max_restarts: int = 5, window_s: float = 300.0) -> list[str]:
        """Restart services that died (their state is in NATS and PostgreSQL, so they resume).

        Returns the names restarted now. Raises Unavailable when a part dies more than `max_restarts`
        times within `window_s`, or when NATS or PostgreSQL die (everything depends on them).
        """
        now = time.monotonic()
        restarted = []
        for proc in self.processes:
            if proc.alive():
                continue
            if proc.name in ("nats", "postgres"):
                raise Unavailable(f"{proc.name} stopped; its log ends with:\n{proc.log_tail()}")
            recent = [t for t in self._restarts.get(proc.name, []) if now - t < window_s] + [now]
            self._restarts[proc.name] = recent
            if len(recent) > max_restarts:
                raise Unavailable(f"{proc.name} keeps stopping ({len(recent)} times in {window_s:.0f}s); "
                                  f"its log ends with:\n{proc.log_tail()}")
            code = proc.proc.returncode if proc.proc else None
            log.warning("%s stopped (exit %s); restarting", proc.name, code)
            proc.start()
            restarted.append(proc.name)
        return restarted

    def stop(self) -> None:
        """Stop services first, then policy/identity, then PostgreSQL and NATS: nothing left behind."""
        for proc in reversed(self.processes):
            proc.stop()
        self.processes.clear()
        for name in ("supervisor.pid", "endpoints.json", "client.json"):
            (self.run_dir / name).unlink(missing_ok=True)


async def _declare_streams(url: str, credentials: Path, tls: TlsFiles | None) -> None:
    """Create or update every stream as the operator (services may only check they exist)."""
    nc, js = await connect(url, "basira-up", credentials=credentials, tls=tls)
    try:
        await ensure_streams(js)
    finally:
        await nc.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_http(url: str, proc: ManagedProcess, timeout_s: float, tls: TlsFiles | None = None) -> None:
    """Until `url` answers 200 (HTTPS verified against `tls`'s CA, when given)."""
    context = client_ssl_context(tls) if tls else None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not proc.alive():
            raise Unavailable(f"{proc.name} exited at start; its log ends with:\n{proc.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise Unavailable(f"{proc.name} not ready at {url} after {timeout_s}s:\n{proc.log_tail()}")


def _wait_grpc_health(target: str, proc: ManagedProcess, timeout_s: float, tls: TlsFiles | None = None
                      ) -> None:
    deadline = time.monotonic() + timeout_s
    with open_channel(target, tls=tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if not proc.alive():
                raise Unavailable(f"{proc.name} exited at start; its log ends with:\n{proc.log_tail()}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise Unavailable(f"{proc.name} not SERVING at {target} after {timeout_s}s:\n{proc.log_tail()}")


def stop_running(data_dir: Path, timeout_s: float = 60.0) -> bool:
    """`basira down`: signal the supervisor of `data_dir` and wait for it to finish; False if none."""
    pid_file = data_dir.resolve() / "run" / "supervisor.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    if not pid or not _pid_alive(pid):
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    return True
