"""Server-side sessions: the browser holds only an opaque id; tokens never leave this process.

A session id is 256 random bits, sent once in the `__Host-basira-session` cookie; the store keys
sessions by SHA-256 of the id, so a dump of the store gives no usable cookie. Sessions end when idle
for `idle_s`, when the issuer's refresh token expires, or on logout. Pending sign-ins (PKCE verifier,
state, nonce, return path) are held the same way under the `__Host-basira-login` cookie.
Pure data with an injected clock; one store per console process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SESSION_COOKIE = "__Host-basira-session"
LOGIN_COOKIE = "__Host-basira-login"


def _key(raw_id: str) -> bytes:
    return hashlib.sha256(raw_id.encode()).digest()


@dataclass
class Tokens:
    """What the issuer's token endpoint gave for one user (times are epoch seconds)."""

    access_token: str
    refresh_token: str
    id_token: str
    access_expires_at: float
    refresh_expires_at: float  # 0 when the issuer gave no refresh expiry

    @classmethod
    def from_response(cls, body: dict[str, Any], now: float, *, id_token: str = "") -> Tokens:
        refresh_in = float(body.get("refresh_expires_in") or 0)
        return cls(access_token=str(body["access_token"]), refresh_token=str(body.get("refresh_token") or ""),
                   id_token=str(body.get("id_token") or id_token),
                   access_expires_at=now + float(body.get("expires_in") or 0),
                   refresh_expires_at=now + refresh_in if refresh_in > 0 else 0.0)


@dataclass
class Session:
    """One signed-in person: who (from the ID token), their tokens, the CSRF token of the session."""

    user: str
    name: str
    agency: str
    roles: tuple[str, ...]
    clearance: int
    tokens: Tokens
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # set at logout: live streams stop
    refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def csrf_matches(self, presented: str) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.csrf_token.encode())


@dataclass
class PendingLogin:
    """A sign-in between the redirect to the issuer and the callback."""

    state: str
    nonce: str
    code_verifier: str
    return_to: str
    created: float


class SessionStore:
    """Sessions and pending sign-ins by hashed id; bounded, idle-expiring."""

    def __init__(self, *, idle_s: float, login_timeout_s: float = 600.0, max_sessions: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.idle_s, self.login_timeout_s, self.max_sessions = idle_s, login_timeout_s, max_sessions
        self.clock = clock
        self._sessions: OrderedDict[bytes, Session] = OrderedDict()
        self._logins: OrderedDict[bytes, PendingLogin] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    # -- sessions -----------------------------------------------------------------------------
    def create(self, session: Session) -> str:
        """Store `session`; returns the raw id for the cookie (the only copy outside this store)."""
        raw = secrets.token_urlsafe(32)
        session.created = session.last_used = self.clock()
        self._sessions[_key(raw)] = session
        while len(self._sessions) > self.max_sessions:
            _, dropped = self._sessions.popitem(last=False)
            dropped.ended.set()
        return raw

    def get(self, raw_id: str | None) -> Session | None:
        """The live session for a cookie value (touching it), or None if unknown, idle or expired."""
        if not raw_id:
            return None
        key = _key(raw_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self.clock()
        refresh_end = session.tokens.refresh_expires_at
        if now - session.last_used > self.idle_s or (refresh_end and now >= refresh_end):
            self.drop(raw_id)
            return None
        session.last_used = now
        self._sessions.move_to_end(key)
        return session

    def drop(self, raw_id: str) -> Session | None:
        """Forget a session (logout, expiry); its live streams are told to stop."""
        session = self._sessions.pop(_key(raw_id), None)
        if session is not None:
            session.ended.set()
        return session

    def expires_at(self, session: Session) -> float:
        """When the session ends if left idle (epoch seconds)."""
        idle_end = session.last_used + self.idle_s
        refresh_end = session.tokens.refresh_expires_at
        return min(idle_end, refresh_end) if refresh_end else idle_end

    # -- pending sign-ins ---------------------------------------------------------------------
    def begin_login(self, login: PendingLogin) -> str:
        raw = secrets.token_urlsafe(32)
        self._logins[_key(raw)] = login
        cutoff = self.clock() - self.login_timeout_s
        while self._logins and next(iter(self._logins.values())).created < cutoff:
            self._logins.popitem(last=False)
        while len(self._logins) > self.max_sessions:
            self._logins.popitem(last=False)
        return raw

    def finish_login(self, raw_id: str | None) -> PendingLogin | None:
        """The pending sign-in of this browser, removed (a callback can be used once), if not stale."""
        if not raw_id:
            return None
        login = self._logins.pop(_key(raw_id), None)
        if login is None or self.clock() - login.created > self.login_timeout_s:
            return None
        return login
