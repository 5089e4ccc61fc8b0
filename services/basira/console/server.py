"""Wiring of the console: settings → logging → OIDC client, token verifier, gRPC backends → aiohttp app.

Middlewares, outermost first: security headers on every answer; problems (a Problem, an HTTP error of
an /api or /auth path, or a crash becomes application/problem+json); and the session + CSRF guard in
front of every /api/* handler, so none of them can run for a stranger or a cross-site request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from basira.common.auth import TokenVerifier
from basira.common.config import load_settings
from basira.common.errors import ConfigError
from basira.common.logs import configure_logging
from basira.common.service import install_signal_handlers
from basira.common.tls import https_verification
from basira.console import auth, command_room, investigations, lists, oversight, policy_view, static
from basira.console.config import ConsoleSettings
from basira.console.context import CONSOLE, Console, console_of
from basira.console.forward import Backends
from basira.console.oidc import OidcClient
from basira.console.problems import Problem
from basira.console.session import SessionStore

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HTTP_PROBLEMS = {404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed"),
                  413: ("payload-too-large", "Payload too large"), 400: ("bad-request", "Bad request")}


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    api = request.path.startswith(("/api/", "/auth/"))
    try:
        if request.path.startswith("/api/"):
            console_of(request).signed_in(request)
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path)
    except web.HTTPException as exc:
        if api and exc.status in _HTTP_PROBLEMS:
            slug, title = _HTTP_PROBLEMS[exc.status]
            return Problem(exc.status, slug, title, exc.reason or title).response(request.path)
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("console handler failed", extra={"path": request.path})
        if not api:
            raise
        return Problem(500, "internal", "Internal error",
                       "the console failed; the error has been logged").response(request.path)


def build_app(console: Console) -> web.Application:
    app = web.Application(middlewares=[static.security_headers, problems], client_max_size=MAX_BODY_BYTES)
    app[CONSOLE] = console
    for module in (auth, command_room, investigations, lists, oversight, policy_view, static):
        app.add_routes(module.routes())
    return app


class ConsoleService:
    """The console's HTTP server and its clients, from `start()` to `stop()`."""

    def __init__(self, settings: ConsoleSettings) -> None:
        secret = settings.console_client_secret.get_secret_value()
        if not secret:
            raise ConfigError("BASIRA_CONSOLE_CLIENT_SECRET is required (the console is a confidential "
                              "OIDC client; see infra/keycloak/README.md)")
        self.settings = settings
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.console: Console | None = None
        self.port = 0

    @property
    def url(self) -> str:
        assert self.console is not None, "start() first"
        return self.console.origin

    async def start(self) -> ConsoleService:
        s = self.settings
        # The issuer over HTTPS, verified against the platform's CA when one is configured.
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=https_verification()))
        oidc = OidcClient(self._http, server_url=s.oidc_url, realm=s.oidc_realm,
                          client_id=s.console_client_id,
                          client_secret=s.console_client_secret.get_secret_value(),
                          public_url=s.oidc_public_url)
        verifier = TokenVerifier(server_url=s.oidc_url, realm=s.oidc_realm, audience=s.oidc_audience,
                                 client_id=s.console_client_id, issuer=s.oidc_issuer or None)
        sessions = SessionStore(idle_s=s.session_idle_s, login_timeout_s=s.login_timeout_s,
                                max_sessions=s.max_sessions)
        self.console = Console(settings=s, oidc=oidc, verifier=verifier, backends=Backends.open(s),
                               sessions=sessions)
        self._runner = web.AppRunner(build_app(self.console), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.host, s.http_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        host = s.host if s.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.console.origin = s.public_url or f"http://{host}:{self.port}"
        parts = urlsplit(self.console.origin)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            log.warning("the console's origin %s is plain HTTP and not loopback: browsers will drop its "
                        "Secure session cookie; serve it over HTTPS", self.console.origin)
        log.info("console at %s", self.console.origin)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self.console is not None:
            await self.console.backends.close()
        if self._http is not None:
            await self._http.close()


async def serve(settings: ConsoleSettings) -> None:
    service = await ConsoleService(settings).start()
    stop = asyncio.Event()
    install_signal_handlers(stop)
    if settings.ready_file:
        settings.ready_file.parent.mkdir(parents=True, exist_ok=True)
        settings.ready_file.write_text(json.dumps({"http_port": service.port, "url": service.url}))
    print(json.dumps({"event": "console.listening", "url": service.url}), flush=True)
    await stop.wait()
    await service.stop()


def main() -> int:
    try:
        settings = load_settings(ConsoleSettings)
    except ConfigError as exc:
        print(f"console: {exc}")
        return 2
    configure_logging("console", settings.log_level)
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        log.error("cannot start: %s", exc)
        return 2
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.http_port, exc)
        return 2
    return 0
