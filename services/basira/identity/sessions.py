"""Browser sign-in state of the dev issuer: pending authorization requests, codes, SSO sessions.

Plain data with an injected clock, no I/O. Keycloak keeps the same three things: an authentication
session while the login page is shown, a one-time authorization code bound to the client, its
redirect URI and the PKCE challenge, and the user's SSO session (`sid`) that tokens refer to and that
logout ends. Held in memory: a restarted dev issuer forgets sessions (users sign in again).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
"""RFC 7636 §4.1: 43 to 128 unreserved characters."""

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]"})


class SignInError(Exception):
    """A step of the code flow refused; `error` is the OAuth error code, the message its description."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def pkce_s256(verifier: str) -> str:
    """BASE64URL(SHA-256(verifier)) without padding: the S256 code challenge (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_challenge(challenge: str, method: str, required: bool) -> None:
    """Validate the authorization request's PKCE parameters; only S256 is accepted (plain refused)."""
    if not challenge:
        if method:
            raise SignInError("invalid_request", "Missing parameter: code_challenge")
        if required:
            raise SignInError("invalid_request", "Missing parameter: code_challenge_method")
        return
    if method != "S256":
        raise SignInError("invalid_request", "Invalid parameter: code_challenge_method (only S256 is "
                                             "accepted; plain is refused)")
    if not re.fullmatch(r"[A-Za-z0-9\-_]{43}", challenge):
        raise SignInError("invalid_request", "Invalid parameter: code_challenge")


def verify_pkce(verifier: str, challenge: str) -> None:
    """The token request's `code_verifier` against the stored S256 challenge; raises SignInError."""
    if not challenge:
        if verifier:
            raise SignInError("invalid_grant", "PKCE code verifier specified but challenge not present "
                                               "in authorization")
        return
    if not verifier:
        raise SignInError("invalid_grant", "PKCE code verifier not specified")
    if not PKCE_VERIFIER.fullmatch(verifier):
        raise SignInError("invalid_grant", "PKCE invalid code verifier")
    if not hmac.compare_digest(pkce_s256(verifier), challenge):
        raise SignInError("invalid_grant", "PKCE verification failed: Code mismatch")


def redirect_allowed(uri: str, registered: tuple[str, ...]) -> bool:
    """Does `uri` match a registered redirect URI?

    Exact match; a registered URI ending in `*` matches by prefix (Keycloak's wildcard); a registered
    loopback IP URI (http://127.0.0.1/..., http://[::1]/...) matches any port (RFC 8252 §7.3).
    URIs with a fragment or user info never match.
    """
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc or parts.fragment or "@" in parts.netloc:
        return False
    for allowed in registered:
        if allowed == uri:
            return True
        if allowed.endswith("*") and uri.startswith(allowed[:-1]):
            return True
        reg = urlsplit(allowed)
        if (reg.scheme == "http" == parts.scheme and reg.netloc in LOOPBACK_HOSTS
                and reg.hostname == parts.hostname and reg.path == parts.path
                and reg.query == parts.query):
            return True
    return False


@dataclass
class AuthRequest:
    """An authorization request waiting for the user to sign in (Keycloak's authentication session)."""

    id: str
    client_id: str
    redirect_uri: str
    state: str
    nonce: str
    scope: str
    code_challenge: str
    locales: tuple[str, ...]
    created: float


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    scope: str
    user_id: str
    session_id: str
    auth_time: int
    expires: float
    used: bool = False


@dataclass
class SsoSession:
    """A signed-in user at the issuer (`sid` in every token); logout or revocation ends it."""

    id: str
    user_id: str
    started: float
    last_used: float
    clients: set[str] = field(default_factory=set)
    ended: bool = False


@dataclass
class SignInRegistry:
    """Pending requests, codes and SSO sessions, with their lifetimes (seconds)."""

    code_lifetime_s: float = 60.0  # Keycloak's accessCodeLifespan
    login_lifetime_s: float = 1800.0  # accessCodeLifespanLogin
    session_idle_s: float = 1800.0  # ssoSessionIdleTimeout
    clock: Callable[[], float] = time.time
    requests: dict[str, AuthRequest] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    sessions: dict[str, SsoSession] = field(default_factory=dict)
    ended_sessions: set[str] = field(default_factory=set)
    revoked_tokens: set[str] = field(default_factory=set)

    def _sweep(self) -> None:
        now = self.clock()
        for key in [k for k, r in self.requests.items() if now - r.created > self.login_lifetime_s]:
            del self.requests[key]
        for key in [k for k, c in self.codes.items() if now > c.expires + self.code_lifetime_s]:
            del self.codes[key]

    def begin(self, *, client_id: str, redirect_uri: str, state: str, nonce: str, scope: str,
              code_challenge: str, locales: tuple[str, ...]) -> AuthRequest:
        self._sweep()
        request = AuthRequest(secrets.token_urlsafe(24), client_id, redirect_uri, state, nonce, scope,
                              code_challenge, locales, self.clock())
        self.requests[request.id] = request
        return request

    def pending(self, request_id: str) -> AuthRequest | None:
        self._sweep()
        return self.requests.get(request_id)

    def start_session(self, user_id: str) -> SsoSession:
        now = self.clock()
        session = SsoSession(secrets.token_urlsafe(24), user_id, now, now)
        self.sessions[session.id] = session
        return session

    def live_session(self, session_id: str) -> SsoSession | None:
        """The SSO session if it exists, is not ended and was used within the idle timeout."""
        session = self.sessions.get(session_id)
        if session is None or session.ended:
            return None
        if self.clock() - session.last_used > self.session_idle_s:
            self.end_session(session_id)
            return None
        return session

    def issue_code(self, request: AuthRequest, session: SsoSession) -> AuthCode:
        """One-time code for the request (which is consumed), bound to its client, URI and challenge."""
        self.requests.pop(request.id, None)
        now = self.clock()
        session.clients.add(request.client_id)
        session.last_used = now
        code = AuthCode(secrets.token_urlsafe(32), request.client_id, request.redirect_uri,
                        request.code_challenge, request.nonce, request.scope, session.user_id, session.id,
                        int(now), now + self.code_lifetime_s)
        self.codes[code.code] = code
        return code

    def redeem(self, code_value: str, client_id: str, redirect_uri: str, verifier: str) -> AuthCode:
        """Exchange a code once; a second use ends its session (stolen code). Raises SignInError."""
        self._sweep()
        code = self.codes.get(code_value)
        if code is None:
            raise SignInError("invalid_grant", "Code not valid")
        if code.used:
            self.end_session(code.session_id)
            raise SignInError("invalid_grant", "Code used already; its session has been ended")
        code.used = True
        if self.clock() > code.expires:
            raise SignInError("invalid_grant", "Code is expired")
        if code.client_id != client_id:
            raise SignInError("invalid_grant", "Auth error: code issued to another client")
        if code.redirect_uri != redirect_uri:
            raise SignInError("invalid_grant", "Incorrect redirect_uri")
        verify_pkce(verifier, code.code_challenge)
        if self.live_session(code.session_id) is None:
            raise SignInError("invalid_grant", "Session not active")
        return code

    def end_session(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.ended = True
        self.ended_sessions.add(session_id)

    def session_ended(self, session_id: str) -> bool:
        return session_id in self.ended_sessions

    def touch(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.last_used = self.clock()
