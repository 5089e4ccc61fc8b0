"""What every console handler shares: settings, sessions, the OIDC client, the gRPC backends.

`Console.signed_in(request)` is the one way a handler gets the person behind a request, and
`Console.token(session)` the one way it gets their access token (refreshed when close to expiry).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from basira.common.auth import Subject, TokenVerifier
from basira.common.errors import Unauthenticated, Unavailable
from basira.console.config import ConsoleSettings
from basira.console.csrf import TOKEN_HEADER, csrf_problem
from basira.console.forward import Backends
from basira.console.oidc import OidcClient, TokenRefused
from basira.console.problems import Problem, csrf_refused, not_signed_in
from basira.console.session import SESSION_COOKIE, Session, SessionStore, Tokens

log = logging.getLogger(__name__)


@dataclass
class Console:
    settings: ConsoleSettings
    sessions: SessionStore
    oidc: OidcClient
    verifier: TokenVerifier
    backends: Backends
    origin: str = ""  # the console's public origin, known once it listens

    @property
    def redirect_uri(self) -> str:
        return f"{self.origin}/auth/callback"

    def login_url(self, request: web.Request) -> str:
        here = request.path_qs if request.method == "GET" and not request.path.startswith("/api/") else "/"
        return f"/auth/login?return_to={quote(here, safe='/')}"

    def session_of(self, request: web.Request) -> tuple[str, Session] | None:
        raw = request.cookies.get(SESSION_COOKIE, "")
        session = self.sessions.get(raw)
        return (raw, session) if session is not None else None

    def signed_in(self, request: web.Request) -> Session:
        """The request's live session, after the CSRF checks for state-changing methods.

        Raises the 401 problem (no/expired session) or the 403 `csrf` problem.
        """
        found = self.session_of(request)
        if found is None:
            raise not_signed_in("no session or it has ended: sign in", self.login_url(request))
        session = found[1]
        problem = csrf_problem(request.method, request.headers, allowed_origin=self.origin,
                               token_matches=session.csrf_matches(request.headers.get(TOKEN_HEADER, "")))
        if problem:
            raise csrf_refused(problem)
        return session

    async def token(self, request: web.Request, session: Session) -> str:
        """The person's access token, refreshed first if it expires within `refresh_margin_s`."""
        async with session.refresh_lock:
            tokens = session.tokens
            if tokens.access_expires_at - time.time() > self.settings.refresh_margin_s:
                return tokens.access_token
            try:
                body = await self.oidc.refresh(tokens.refresh_token)
            except TokenRefused as exc:
                found = self.session_of(request)
                if found is not None:
                    self.sessions.drop(found[0])
                raise not_signed_in(f"the sign-in has ended at the issuer ({exc}); sign in again",
                                    self.login_url(request)) from exc
            except Unavailable as exc:
                raise Problem(503, "unavailable", "Service unavailable", exc.message) from exc
            session.tokens = Tokens.from_response(body, time.time(), id_token=tokens.id_token)
            return session.tokens.access_token

    async def call(self, request: web.Request, method: Any, message: Any) -> Any:
        """One unary RPC as the signed-in person (their refreshed token); errors become Problems."""
        session = self.signed_in(request)
        return await self.backends.unary(method, message, await self.token(request, session))

    async def subject(self, access_token: str) -> Subject:
        """Who an access token names, checked exactly as every service checks it."""
        try:
            return await self.verifier.verify(access_token)
        except Unauthenticated as exc:
            raise Problem(401, "unauthenticated", "Not signed in", exc.message) from exc
        except Unavailable as exc:
            raise Problem(503, "unavailable", "Service unavailable", exc.message) from exc


CONSOLE: web.AppKey[Console] = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]
