"""Wiring of the development issuer: realm file + data dir → aiohttp app → listening socket.

`IssuerApp` runs in-process (tests use port 0 and read `.port`/`.url`); `issuer_in_thread` runs it on
its own event loop for synchronous callers (python-keycloak's blocking client).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from basira.common.errors import ConfigError, NotFound
from basira.identity import admin, keys, login, oidc
from basira.identity.realm import load_realm
from basira.identity.sessions import SignInRegistry
from basira.identity.state import IssuerState
from basira.identity.store import UserStore
from basira.identity.tokens import KNOWN_MAPPERS, access_token_claims, granted_scope

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_REALM_FILE = REPO_ROOT / "infra" / "keycloak" / "basira-realm.json"


@web.middleware
async def _count_hits(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Count requests per route name (tests use it to prove JWKS caching)."""
    route = request.match_info.route
    name = route.name if route is not None and route.name else "unmatched"
    request.app[oidc.STATE].hits[name] += 1
    return await handler(request)


def build_app(state: IssuerState) -> web.Application:
    app = web.Application(middlewares=[_count_hits])
    app[oidc.STATE] = state
    base = "/realms/{realm}"
    oc = f"{base}/protocol/openid-connect"
    app.add_routes([
        web.get("/health", oidc.health, name="health"),
        web.get("/health/ready", oidc.health, name="health.ready"),
        web.get(f"{base}", oidc.realm_info, name="realm"),
        web.get(f"{base}/.well-known/openid-configuration", oidc.well_known, name="well-known"),
        web.post(f"{oc}/token", oidc.token, name="token"),
        web.get(f"{oc}/certs", oidc.certs, name="certs"),
        web.get(f"{oc}/userinfo", oidc.userinfo, name="userinfo"),
        web.post(f"{oc}/userinfo", oidc.userinfo, name="userinfo.post"),
        web.post(f"{oc}/revoke", oidc.revoke, name="revoke"),
        *login.routes(base),
    ])
    app.add_routes(admin.routes())
    return app


class IssuerApp:
    """One development issuer for one realm file, started with `await start()` and ended by `stop()`."""

    def __init__(self, realm_file: str | Path = DEFAULT_REALM_FILE, data_dir: str | Path = "var", *,
                 host: str = "127.0.0.1", port: int = 0, public_url: str | None = None,
                 token_lifetime_s: int | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        """Load the realm and the signing key (made on first start); raises ConfigError if invalid.

        `public_url` fixes the `iss` base (default `http(s)://<host>:<bound port>`, HTTPS with an
        `ssl_context`);
        `token_lifetime_s` overrides the realm's accessTokenLifespan (300 s in basira-realm.json).
        """
        if token_lifetime_s is not None and token_lifetime_s <= 0:
            raise ConfigError(f"token lifetime must be positive seconds, got {token_lifetime_s}")
        realm = load_realm(realm_file)
        for client in realm.clients.values():
            for mapper in client.mappers:
                if mapper.type not in KNOWN_MAPPERS:
                    log.warning("client %s: mapper %s (%s) is not emulated by the dev issuer",
                                client.client_id, mapper.name, mapper.type)
        data = Path(data_dir)
        overlay = data / "identity" / f"{realm.name}-users.json"
        self.state = IssuerState(realm=realm, store=UserStore(realm, overlay), data_dir=data,
                                 key=keys.load_or_create(data), token_lifetime_s=token_lifetime_s,
                                 signin=SignInRegistry(code_lifetime_s=realm.access_code_lifespan,
                                                       session_idle_s=realm.sso_session_idle_timeout))
        self._host = host
        self._port = port
        self._public_url = public_url.rstrip("/") if public_url else None
        self._ssl_context = ssl_context
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """Base URL to give python-keycloak as `server_url` (no trailing slash)."""
        return self.state.base_url

    @property
    def issuer(self) -> str:
        """The `iss` of every token: `{url}/realms/{realm}`."""
        return self.state.issuer

    @property
    def realm(self) -> str:
        return self.state.realm.name

    @property
    def hits(self) -> Counter[str]:
        """Requests served per route name (`certs`, `token`, `admin.users`, ...)."""
        return self.state.hits

    @property
    def kid(self) -> str:
        return self.state.key.kid

    async def start(self) -> IssuerApp:
        runner = web.AppRunner(build_app(self.state), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl_context)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        host = "localhost" if self._host in ("0.0.0.0", "::", "") else self._host
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self._ssl_context else "http"
        self.state.base_url = self._public_url or f"{scheme}://{host}:{self.port}"
        log.info("identity issuer for realm %s at %s (kid %s)", self.realm, self.issuer, self.kid)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> IssuerApp:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def rotate_key(self) -> str:
        """Sign with a fresh key from now on (old key stays in the JWKS); returns the new kid."""
        return self.state.rotate_key().kid

    def token_for(self, username: str, *, client_id: str = "basira-cli", lifetime_s: int | None = None,
                  **overrides: Any) -> str:
        """An access token for `username` without a password round trip (dev and tests only).

        Claims are what the token endpoint would issue; `overrides` replace claims (e.g. `exp=...`).
        Raises NotFound if the user or client does not exist.
        """
        user = self.state.store.by_username(username)
        client = self.state.realm.clients.get(client_id)
        if user is None or client is None:
            raise NotFound(f"no user {username!r} or client {client_id!r} in realm {self.realm}")
        claims = access_token_claims(
            realm=self.state.realm, client=client, user=user, issuer=self.issuer, now=int(time.time()),
            lifetime_s=lifetime_s or self.state.lifetime_for(client), scope=granted_scope("openid"),
            session_id=None)
        claims.update(overrides)
        return self.state.key.sign(claims)


async def start_issuer(realm_file: str | Path = DEFAULT_REALM_FILE, data_dir: str | Path = "var", *,
                       host: str = "127.0.0.1", port: int = 0, public_url: str | None = None,
                       token_lifetime_s: int | None = None, ssl_context: ssl.SSLContext | None = None
                       ) -> IssuerApp:
    """Start an issuer and return it once it listens (`.port` holds the bound port)."""
    return await IssuerApp(realm_file, data_dir, host=host, port=port, public_url=public_url,
                           token_lifetime_s=token_lifetime_s, ssl_context=ssl_context).start()


@contextmanager
def issuer_in_thread(realm_file: str | Path = DEFAULT_REALM_FILE, data_dir: str | Path = "var",
                     **kwargs: Any) -> Iterator[IssuerApp]:
    """Run an issuer on its own event loop in a daemon thread; for synchronous tests and tools."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            holder["app"] = loop.run_until_complete(start_issuer(realm_file, data_dir, **kwargs))
        except BaseException as e:  # reported to the caller below
            holder["error"] = e
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="identity-issuer", daemon=True)
    thread.start()
    started.wait()
    if "error" in holder:
        loop.close()
        raise holder["error"]
    app: IssuerApp = holder["app"]
    try:
        yield app
    finally:
        asyncio.run_coroutine_threadsafe(app.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
