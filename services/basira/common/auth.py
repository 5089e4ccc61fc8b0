"""Authentication for every service (DESIGN §3 step 1): bearer token → verified claims → Subject.

The JWKS is fetched through python-keycloak once and cached; it is fetched again only when a token
names an unknown `kid` (rate-limited, so tokens with made-up kids cannot hammer the issuer) or when
the cache is older than `max_jwks_age_s`. The signature is checked by jwcrypto with the one algorithm
the header names (RS256 or ES256 only) and the claims by `check_claims` below, explicitly: never rely on
python-keycloak's `check_claims` (given `aud` alone it silently skips expiry, DESIGN §9).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jwcrypto import jwk
from jwcrypto.common import JWException
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError

from basira.common.errors import Unauthenticated, Unavailable
from basira.common.tls import https_verify

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("RS256", "ES256")
_KEY_TYPE_FOR_ALG = {"RS256": "RSA", "ES256": "EC"}


@dataclass(frozen=True)
class Subject:
    """Who is calling: the user (Keycloak `preferred_username`), their agency, realm roles, clearance."""

    user: str
    agency: str
    roles: tuple[str, ...]
    clearance: int

    def to_policy(self) -> dict[str, Any]:
        """The `subject` object of the policy input (DESIGN §3)."""
        return {"user": self.user, "agency": self.agency, "roles": list(self.roles),
                "clearance": self.clearance}

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _iso(epoch: float) -> str:
    """RFC 3339 for a message; a time no calendar holds (found by fuzzing) is shown as given."""
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return f"{epoch!r} (epoch seconds, out of range)"


def _b64json(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError) as e:
        raise Unauthenticated(f"malformed token: the {what} is not base64url JSON") from e
    if not isinstance(value, dict):
        raise Unauthenticated(f"malformed token: the {what} is not a JSON object")
    return value


def _bare(token: str | None) -> str:
    """The token without surrounding blanks or a `Bearer ` prefix; Unauthenticated if there is none."""
    if not isinstance(token, str) or not token.strip():
        raise Unauthenticated("no bearer token: send `authorization: Bearer <access token>`")
    scheme, _, rest = token.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else token.strip()
    if not token:
        raise Unauthenticated("no bearer token: send `authorization: Bearer <access token>`")
    return token


def parse_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, checked for an allowed `alg` and a `kid`.

    Raises Unauthenticated for anything but three base64url segments, `alg` outside RS256/ES256
    (this is where `none` and HS256 tokens stop) or a missing `kid`.
    """
    parts = token.split(".")
    if len(parts) != 3 or not parts[0]:
        raise Unauthenticated("malformed token: expected a signed JWT (header.payload.signature)")
    header = _b64json(parts[0], "header")
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        raise Unauthenticated(f"token signed with alg {alg!r}; only {', '.join(ALLOWED_ALGORITHMS)} "
                              "are accepted")
    if not parts[1] or not parts[2]:
        raise Unauthenticated("malformed token: empty payload or signature")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise Unauthenticated("token header has no `kid`: cannot tell which issuer key signed it")
    return header


def check_claims(claims: dict[str, Any], *, issuer: str, audience: str, now: float,
                 leeway_s: float) -> None:
    """Check issuer, token type, audience, expiry, not-before and issued-at; raise Unauthenticated.

    Times are epoch seconds; `leeway_s` tolerates clock skew in both directions. `exp` is required.
    """
    iss = claims.get("iss")
    if iss != issuer:
        raise Unauthenticated(f"wrong issuer {iss!r}: this service trusts {issuer!r}")
    typ = claims.get("typ")
    if typ is not None and typ != "Bearer":
        raise Unauthenticated(f"not an access token (typ {typ!r}); send the access_token")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else ([aud] if aud is not None else [])
    if audience not in audiences:
        raise Unauthenticated(f"wrong audience {audiences!r}: this service needs {audience!r} "
                              "(the client needs an audience mapper)")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or not math.isfinite(exp):
        raise Unauthenticated("token has no expiry (`exp` missing or not a number); refusing it")
    if now > exp + leeway_s:
        raise Unauthenticated(f"token expired at {_iso(exp)} (now {_iso(now)}); get a new token")
    nbf = claims.get("nbf")
    if nbf is not None:
        if not isinstance(nbf, int | float) or isinstance(nbf, bool) or not math.isfinite(nbf):
            raise Unauthenticated("token `nbf` is not a number")
        if nbf > now + leeway_s:
            raise Unauthenticated(f"token not valid before {_iso(nbf)} (now {_iso(now)}); "
                                  "check the clocks of issuer and service")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and not isinstance(iat, bool) and iat > now + leeway_s:
        raise Unauthenticated(f"token issued in the future ({_iso(iat)}, now {_iso(now)}); "
                              "check the clocks of issuer and service")


def subject_from_claims(claims: dict[str, Any]) -> Subject:
    """The Subject named by verified claims; raises Unauthenticated if user or agency is missing."""
    user = claims.get("preferred_username")
    if not isinstance(user, str) or not user:
        raise Unauthenticated("token names no user (`preferred_username` missing)")
    agency = claims.get("agency")
    if isinstance(agency, list) and len(agency) == 1:
        agency = agency[0]
    if not isinstance(agency, str) or not agency:
        raise Unauthenticated(f"token of {user!r} carries no `agency` claim: give the user an "
                              "`agency` attribute in the realm")
    raw_roles = (claims.get("realm_access") or {}).get("roles") or []
    if not isinstance(raw_roles, list) or not all(isinstance(r, str) for r in raw_roles):
        raise Unauthenticated("token `realm_access.roles` is not a list of names")
    clearance_raw = claims.get("clearance", 0)
    try:
        if isinstance(clearance_raw, bool):
            raise ValueError
        clearance = int(clearance_raw)
    except (TypeError, ValueError) as e:
        raise Unauthenticated(f"token `clearance` {clearance_raw!r} is not an integer") from e
    if clearance < 0:
        raise Unauthenticated(f"token `clearance` {clearance} is negative")
    return Subject(user=user, agency=agency, roles=tuple(sorted(set(raw_roles))), clearance=clearance)


def keys_from_jwks(jwks: Any) -> dict[str, tuple[jwk.JWK, str | None]]:
    """Signing keys by kid (with their declared alg), skipping encryption keys and other algorithms."""
    out: dict[str, tuple[jwk.JWK, str | None]] = {}
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        raise ValueError("JWKS has no `keys` list")
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("kid") or entry.get("use") == "enc":
            continue
        alg = entry.get("alg")
        if alg is not None and alg not in ALLOWED_ALGORITHMS:
            continue
        try:
            out[str(entry["kid"])] = (jwk.JWK(**entry), alg)
        except (JWException, ValueError, TypeError) as e:
            log.warning("skipping unusable JWKS entry kid=%s: %s", entry.get("kid"), e)
    return out


class TokenVerifier:
    """Verifies Keycloak access tokens for one service; share one instance per process.

    `server_url` is Keycloak's base URL (what python-keycloak calls `server_url`, e.g.
    `http://127.0.0.1:8180`), `realm` the realm name and `audience` the `aud` value this service
    requires. The expected issuer is `{server_url}/realms/{realm}` unless `issuer` is given (needed
    when Keycloak's public hostname differs from the URL services reach it by).
    """

    def __init__(self, server_url: str, realm: str, audience: str = "basira", *,
                 client_id: str = "basira-services", issuer: str | None = None, leeway_s: float = 30.0,
                 unknown_kid_refresh_s: float = 10.0, failure_backoff_s: float = 1.0,
                 max_jwks_age_s: float = 3600.0, timeout_s: int = 5, verified_cache_size: int = 4096,
                 openid: KeycloakOpenID | None = None, clock: Callable[[], float] = time.time) -> None:
        base = server_url.rstrip("/")
        self.issuer = issuer or f"{base}/realms/{realm}"
        self.audience = audience
        self._openid = openid or KeycloakOpenID(server_url=base + "/", realm_name=realm,
                                                client_id=client_id, timeout=timeout_s,
                                                verify=https_verify())
        self._leeway = leeway_s
        self._unknown_kid_refresh = unknown_kid_refresh_s
        self._failure_backoff = failure_backoff_s
        self._max_age = max_jwks_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[jwk.JWK, str | None]] | None = None
        self._fetched_at = 0.0  # monotonic time of the last successful fetch
        self._attempted_at: float | None = None  # monotonic time of the last fetch attempt
        self._last_error = ""
        self.fetches = 0  # successful JWKS fetches, for metrics and tests
        # Claims of tokens whose signature already verified (by SHA-256 of the token), so a client
        # reusing its token pays tens of µs instead of hundreds; time claims are checked every call.
        # Cleared whenever the JWKS changes, so a key the issuer withdrew stops working at once.
        self._verified: OrderedDict[bytes, tuple[dict[str, Any], Subject]] = OrderedDict()
        self._verified_max = verified_cache_size
        self._verified_lock = threading.Lock()

    # -- public -----------------------------------------------------------------------------------
    async def verify(self, token: str | None) -> Subject:
        """The Subject of a valid access token; Unauthenticated (with the reason) or Unavailable.

        Never blocks the event loop: a JWKS fetch, when needed, runs in a worker thread.
        """
        token = _bare(token)
        known = self._known(token)
        if known is not None:
            return known
        header = parse_header(token)
        key = self._cached_key(header["kid"])
        if key is None:
            key = await asyncio.to_thread(self._fetch_key, header["kid"])
        return self._finish(token, header, key)

    def verify_blocking(self, token: str | None) -> Subject:
        """Same as `verify` for synchronous callers (may block on a JWKS fetch)."""
        token = _bare(token)
        known = self._known(token)
        if known is not None:
            return known
        header = parse_header(token)
        key = self._cached_key(header["kid"]) or self._fetch_key(header["kid"])
        return self._finish(token, header, key)

    async def prefetch(self) -> None:
        """Fetch the JWKS now (at service start) so the first call does not wait; raises Unavailable."""
        def locked() -> None:
            with self._lock:
                self._refresh(True)

        await asyncio.to_thread(locked)

    # -- steps ------------------------------------------------------------------------------------
    def _cached_key(self, kid: str) -> tuple[jwk.JWK, str | None] | None:
        keys = self._keys
        if keys is None or time.monotonic() - self._fetched_at > self._max_age:
            return None
        return keys.get(kid)

    def _fetch_key(self, kid: str) -> tuple[jwk.JWK, str | None]:
        """The key for `kid`, refreshing the JWKS if allowed; Unauthenticated or Unavailable."""
        with self._lock:
            keys = self._keys
            stale = keys is not None and time.monotonic() - self._fetched_at > self._max_age
            if keys is not None and kid in keys and not stale:
                return keys[kid]  # another caller refreshed while we waited
            if self._may_fetch(unknown_kid=keys is not None and not stale):
                self._refresh(False)
            keys = self._keys
            if keys is None:
                raise Unavailable(f"identity issuer {self.issuer} unreachable, no signing keys yet: "
                                  f"{self._last_error}")
            if kid not in keys:
                ago = time.monotonic() - self._fetched_at
                raise Unauthenticated(f"unknown signing key kid={kid!r}: not in the issuer's JWKS "
                                      f"(fetched {ago:.0f}s ago); the token is not from {self.issuer}")
            return keys[kid]

    def _may_fetch(self, unknown_kid: bool) -> bool:
        """Rate limit: after a failure wait `failure_backoff_s`; for unknown kids `unknown_kid_refresh_s`."""
        if self._attempted_at is None:
            return True
        since = time.monotonic() - self._attempted_at
        if self._last_error:
            return since >= self._failure_backoff
        return since >= self._unknown_kid_refresh if unknown_kid else True

    def _refresh(self, raise_on_failure: bool) -> None:
        """Fetch the JWKS (caller holds `_lock`); on failure keep any keys we had, or raise Unavailable."""
        self._attempted_at = time.monotonic()
        try:
            keys = keys_from_jwks(self._openid.certs())
        except (KeycloakError, ValueError, OSError) as e:
            self._last_error = f"{type(e).__name__}: {e}"
            log.warning("JWKS fetch from %s failed: %s", self.issuer, self._last_error)
            if raise_on_failure or self._keys is None:
                raise Unavailable(f"identity issuer {self.issuer} unreachable or failing while fetching "
                                  f"signing keys: {self._last_error}") from e
            return
        self._last_error = ""
        self._keys = keys
        with self._verified_lock:
            self._verified.clear()
        self._fetched_at = time.monotonic()
        self.fetches += 1
        log.info("JWKS from %s: %d signing key(s)", self.issuer, len(keys))

    def _known(self, token: str) -> Subject | None:
        """The Subject of a token whose signature verified before under the current, fresh JWKS,
        after its claims are checked again at this instant (expiry, not-before); None when the
        token is not cached or the JWKS is due for a refresh (the full path then runs). A cached
        token that fails the check (expired) is dropped and refused (Unauthenticated)."""
        if self._keys is None or time.monotonic() - self._fetched_at > self._max_age:
            return None
        digest = hashlib.sha256(token.encode()).digest()
        with self._verified_lock:
            entry = self._verified.get(digest)
            if entry is None:
                return None
            self._verified.move_to_end(digest)
        claims, subject = entry
        try:
            check_claims(claims, issuer=self.issuer, audience=self.audience, now=self._clock(),
                         leeway_s=self._leeway)
        except Unauthenticated:
            with self._verified_lock:
                self._verified.pop(digest, None)
            raise
        return subject

    def _finish(self, token: str, header: dict[str, Any], key: tuple[jwk.JWK, str | None]) -> Subject:
        digest = hashlib.sha256(token.encode()).digest()
        with self._verified_lock:
            entry = self._verified.get(digest)
            if entry is not None:
                self._verified.move_to_end(digest)
        claims = entry[0] if entry is not None else self._verified_claims(token, header, key)
        check_claims(claims, issuer=self.issuer, audience=self.audience, now=self._clock(),
                     leeway_s=self._leeway)
        subject = subject_from_claims(claims)
        if entry is None and self._verified_max > 0:
            # Only tokens that passed every check are kept: a refused one is verified again (and
            # refused again) whenever it is presented.
            with self._verified_lock:
                self._verified[digest] = (claims, subject)
                while len(self._verified) > self._verified_max:
                    self._verified.popitem(last=False)
        return subject

    def _verified_claims(self, token: str, header: dict[str, Any],
                         key: tuple[jwk.JWK, str | None]) -> dict[str, Any]:
        """Signature check through python-keycloak/jwcrypto, claims checks off (done by check_claims)."""
        alg = header["alg"]
        jwk_key, key_alg = key
        if (key_alg is not None and key_alg != alg) or jwk_key.get("kty") != _KEY_TYPE_FOR_ALG[alg]:
            raise Unauthenticated(f"token alg {alg} does not match the issuer key kid={header['kid']!r} "
                                  f"({key_alg or jwk_key.get('kty')})")
        try:
            claims = self._openid.decode_token(token, validate=True, key=jwk_key, algs=[alg],
                                               check_claims=False)
        except (JWException, ValueError, TypeError, KeyError) as e:
            raise Unauthenticated(f"token signature does not verify with issuer key "
                                  f"kid={header['kid']!r}: altered or forged token") from e
        if not isinstance(claims, dict):
            raise Unauthenticated("malformed token: the claims are not a JSON object")
        return claims
