"""Sign-in, sign-out and "who am I": the OIDC code flow with PKCE, seen from the browser.

/auth/login → issuer (state, nonce, S256 challenge; verifier kept here) → /auth/callback (code
exchanged with the client secret, ID token checked, session created, only its id in an HttpOnly
Secure SameSite=Strict `__Host-` cookie) → the page the person wanted. /auth/logout revokes the refresh
token, ends the issuer session and forgets the tokens.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, datetime
from html import escape

from aiohttp import web

from basira.common.errors import Unauthenticated, Unavailable
from basira.console.context import console_of
from basira.console.csrf import TOKEN_HEADER, csrf_problem
from basira.console.oidc import TokenRefused, pkce_pair
from basira.console.problems import Problem, csrf_refused
from basira.console.session import LOGIN_COOKIE, SESSION_COOKIE, PendingLogin, Session, Tokens

log = logging.getLogger(__name__)


def safe_return_path(value: str | None) -> str:
    """A local path to go back to after sign-in; anything else (another site, a scheme) becomes "/"."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 for c in value) or value.startswith(("/auth/", "/api/")):
        return "/"
    return value


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _set_cookie(response: web.StreamResponse, name: str, value: str, *, same_site: str,
                max_age: int | None = None) -> None:
    """A `__Host-` cookie: Secure, Path=/, no Domain, HttpOnly."""
    response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite=same_site,
                        max_age=max_age)


def _clear_cookie(response: web.StreamResponse, name: str, same_site: str) -> None:
    response.set_cookie(name, "", path="/", secure=True, httponly=True, samesite=same_site, max_age=0,
                        expires="Thu, 01 Jan 1970 00:00:00 GMT")


def _html(title: str, body: str, *, status: int = 200, refresh_to: str = "") -> web.Response:
    refresh = f'<meta http-equiv="refresh" content="0;url={escape(refresh_to)}">\n' if refresh_to else ""
    html = (f'<!DOCTYPE html>\n<html lang="en" dir="ltr">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n{refresh}'
            f'<title>{escape(title)}</title>\n</head>\n<body>\n<main>\n<h1>{escape(title)}</h1>\n'
            f'{body}</main>\n</body>\n</html>\n')
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def _failed(message: str) -> web.Response:
    return _html("Sign-in failed", f'<p role="alert">{escape(message)}</p>\n'
                                   '<p><a href="/auth/login">Sign in again</a></p>\n', status=400)


async def login(request: web.Request) -> web.Response:
    console = console_of(request)
    verifier, challenge = pkce_pair()
    pending = PendingLogin(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                           code_verifier=verifier,
                           return_to=safe_return_path(request.query.get("return_to")),
                           created=time.time())
    try:
        target = await console.oidc.authorization_url(
            redirect_uri=console.redirect_uri, state=pending.state, nonce=pending.nonce,
            code_challenge=challenge, ui_locales=request.query.get("ui_locales", "")[:50])
    except Unavailable as exc:
        raise Problem(503, "unavailable", "Service unavailable", exc.message) from exc
    raw = console.sessions.begin_login(pending)
    response = web.HTTPFound(target, headers={"Cache-Control": "no-store"})
    # Lax: the issuer's redirect back is a cross-site top-level GET that must carry it.
    _set_cookie(response, LOGIN_COOKIE, raw, same_site="Lax", max_age=int(console.settings.login_timeout_s))
    raise response


async def callback(request: web.Request) -> web.Response:
    console = console_of(request)
    pending = console.sessions.finish_login(request.cookies.get(LOGIN_COOKIE))
    if "error" in request.query:
        return _failed(f"The identity provider refused the sign-in: {request.query.get('error')} "
                       f"{request.query.get('error_description', '')}".strip())
    if pending is None:
        return _failed("This sign-in was not started in this browser, was already used, or took too "
                       "long.")
    if not secrets.compare_digest(request.query.get("state", ""), pending.state):
        return _failed("The sign-in response does not belong to this sign-in (state mismatch).")
    code = request.query.get("code", "")
    if not code:
        return _failed("The identity provider sent no authorization code.")
    try:
        body = await console.oidc.exchange_code(code=code, redirect_uri=console.redirect_uri,
                                                code_verifier=pending.code_verifier)
        id_claims = await console.oidc.verify_id_token(str(body.get("id_token") or ""), nonce=pending.nonce)
        subject = await console.verifier.verify(str(body["access_token"]))
    except (TokenRefused, Unauthenticated) as exc:
        log.warning("sign-in refused: %s", exc)
        return _failed(f"The sign-in could not be completed: {exc}")
    except Unavailable as exc:
        return _failed(f"The identity provider is unreachable: {exc.message}")
    session = Session(user=subject.user, name=str(id_claims.get("name") or subject.user),
                      agency=subject.agency, roles=subject.roles, clearance=subject.clearance,
                      tokens=Tokens.from_response(body, time.time()))
    raw = console.sessions.create(session)
    log.info("signed in", extra={"user": subject.user, "agency": subject.agency})
    # A same-origin step before the app: a SameSite=Strict cookie is not sent on a navigation that a
    # cross-site redirect started, but it is on this page's own navigation.
    response = _html("Signed in", f'<p><a href="{escape(pending.return_to)}">Continue</a></p>\n',
                     refresh_to=pending.return_to)
    _set_cookie(response, SESSION_COOKIE, raw, same_site="Strict")
    _clear_cookie(response, LOGIN_COOKIE, "Lax")
    return response


async def logout(request: web.Request) -> web.Response:
    console = console_of(request)
    found = console.session_of(request)
    if found is None:
        response = web.json_response({"end_session_url": "/"}, headers={"Cache-Control": "no-store"})
        _clear_cookie(response, SESSION_COOKIE, "Strict")
        return response
    raw, session = found
    problem = csrf_problem(request.method, request.headers, allowed_origin=console.origin,
                           token_matches=session.csrf_matches(request.headers.get(TOKEN_HEADER, "")))
    if problem:
        raise csrf_refused(problem)
    console.sessions.drop(raw)
    tokens = session.tokens
    try:
        # End the issuer session first (every token of it dies), then revoke what we held, for
        # issuers that refuse the back-channel logout.
        await console.oidc.logout(tokens.refresh_token)
        await console.oidc.revoke(tokens.refresh_token, "refresh_token")
        await console.oidc.revoke(tokens.access_token, "access_token")
        end = await console.oidc.end_session_url(id_token=tokens.id_token,
                                                 post_logout_redirect_uri=f"{console.origin}/")
    except Unavailable as exc:
        log.warning("logout: the issuer could not be told: %s", exc.message)
        end = "/"
    log.info("signed out", extra={"user": session.user})
    response = web.json_response({"end_session_url": end}, headers={"Cache-Control": "no-store"})
    _clear_cookie(response, SESSION_COOKIE, "Strict")
    return response


async def me(request: web.Request) -> web.Response:
    console = console_of(request)
    session = console.signed_in(request)
    return web.json_response({
        "user": session.user, "name": session.name, "agency": session.agency,
        "roles": list(session.roles), "clearance": session.clearance, "csrf_token": session.csrf_token,
        "expires_at": _iso(console.sessions.expires_at(session)),
        "session_expires_at": _iso(session.tokens.refresh_expires_at or console.sessions.expires_at(session)),
    }, headers={"Cache-Control": "no-store"})


def routes() -> list[web.RouteDef]:
    return [web.get("/auth/login", login), web.get("/auth/callback", callback),
            web.post("/auth/logout", logout), web.get("/api/me", me)]

