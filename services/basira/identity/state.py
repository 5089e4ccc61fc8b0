"""What one running issuer holds (realm, users, keys, URL) and the token operations on it."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jwcrypto import jwk, jwt
from jwcrypto.common import JWException

from basira.identity import keys
from basira.identity.realm import Client, Realm, User
from basira.identity.sessions import SignInRegistry
from basira.identity.store import UserStore
from basira.identity.tokens import (
    access_token_claims,
    granted_scope,
    id_token_claims,
    refresh_token_claims,
)


class TokenRejected(Exception):
    """One of our own tokens (refresh, admin bearer, userinfo bearer) did not verify; says why."""


@dataclass
class IssuerState:
    realm: Realm
    store: UserStore
    data_dir: Path
    key: keys.SigningKey
    token_lifetime_s: int | None = None  # overrides the realm's and clients' lifespans when set
    base_url: str = ""
    retired_keys: list[keys.SigningKey] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    signin: SignInRegistry = field(default_factory=SignInRegistry)

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/realms/{self.realm.name}"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in (self.key, *self.retired_keys)]}

    def rotate_key(self) -> keys.SigningKey:
        """New signing key on disk; the old one stays in the JWKS so tokens it signed stay valid."""
        self.retired_keys.insert(0, self.key)
        self.key = keys.replace_key(self.data_dir)
        return self.key

    def lifetime_for(self, client: Client) -> int:
        if self.token_lifetime_s is not None:
            return self.token_lifetime_s
        if client.access_token_lifespan is not None:
            return client.access_token_lifespan
        return self.realm.access_token_lifespan

    def token_response(self, client: Client, user: User, requested_scope: str, *,
                       with_refresh: bool, session_id: str | None = None, nonce: str = "",
                       auth_time: int | None = None) -> dict[str, Any]:
        """The token endpoint's JSON answer, shaped like Keycloak's (`nonce` goes into the ID token)."""
        now = int(time.time())
        lifetime = self.lifetime_for(client)
        scope = granted_scope(requested_scope)
        sid = session_id or str(uuid.uuid4())
        access = access_token_claims(realm=self.realm, client=client, user=user, issuer=self.issuer,
                                     now=now, lifetime_s=lifetime, scope=scope, session_id=sid)
        out: dict[str, Any] = {"access_token": self.key.sign(access), "expires_in": lifetime}
        if with_refresh:
            refresh_life = self.realm.sso_session_idle_timeout
            out["refresh_expires_in"] = refresh_life
            out["refresh_token"] = self.key.sign(refresh_token_claims(
                client=client, user=user, issuer=self.issuer, now=now, lifetime_s=refresh_life,
                session_id=sid, scope=scope))
        else:
            out["refresh_expires_in"] = 0
        out["token_type"] = "Bearer"
        if "openid" in scope.split():
            id_claims = id_token_claims(client=client, user=user, issuer=self.issuer, now=now,
                                        lifetime_s=lifetime, session_id=sid)
            if nonce:
                id_claims["nonce"] = nonce
            if auth_time is not None:
                id_claims["auth_time"] = auth_time
            out["id_token"] = self.key.sign(id_claims)
        out["not-before-policy"] = 0
        out["session_state"] = sid
        out["scope"] = scope
        return out

    def verify_own(self, token: str, typ: str, *, allow_expired: bool = False,
                   allow_ended: bool = False) -> dict[str, Any]:
        """Claims of a token this issuer signed, of type `typ`, unexpired (unless `allow_expired`),
        whose session was not ended and which was not revoked; raises TokenRejected."""
        keyset = jwk.JWKSet()
        for k in (self.key, *self.retired_keys):
            keyset.add(jwk.JWK(**k.public_jwk()))
        try:
            parsed = jwt.JWT(jwt=token, algs=[keys.ALGORITHM], check_claims=False)
            parsed.validate(keyset)
            claims = jwt.json_decode(parsed.claims)
        except (JWException, ValueError, TypeError) as e:
            raise TokenRejected(f"signature does not verify: {e}") from e
        if not isinstance(claims, dict):
            raise TokenRejected("claims are not a JSON object")
        if claims.get("iss") != self.issuer:
            raise TokenRejected("token from another issuer")
        if claims.get("typ") != typ:
            raise TokenRejected(f"not a {typ} token")
        exp = claims.get("exp")
        if not isinstance(exp, int) or (exp < time.time() and not allow_expired):
            raise TokenRejected("Token is not active")
        if not allow_ended and (str(claims.get("jti")) in self.signin.revoked_tokens
                                or self.signin.session_ended(str(claims.get("sid") or ""))):
            raise TokenRejected("Session not active")
        return claims
