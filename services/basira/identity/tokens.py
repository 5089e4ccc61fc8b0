"""Claims of the tokens the dev issuer mints, shaped like Keycloak's; pure functions of realm + user.

Keycloak behaviour reproduced: `realm_access`/`resource_access` (roles scope), the profile/email claims,
clients named by the user's client roles joined into `aud`, and the client's protocol mappers
(user attribute, audience, hard-coded claim, user property). Unknown mapper types are ignored.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from basira.identity.realm import Client, ProtocolMapper, Realm, User, expand_client_roles

DEFAULT_SCOPES = ("profile", "email")
KNOWN_MAPPERS = frozenset({"oidc-usermodel-attribute-mapper", "oidc-audience-mapper",
                           "oidc-hardcoded-claim-mapper", "oidc-usermodel-property-mapper"})


def granted_scope(requested: str) -> str:
    """The `scope` claim: `openid` if asked for, then the default client scopes (Keycloak's order)."""
    words = requested.split()
    return " ".join((["openid"] if "openid" in words else []) + list(DEFAULT_SCOPES))


def _convert(value: str, json_type: str) -> Any:
    kind = json_type.lower()
    if kind in ("int", "long"):
        return int(value)
    if kind == "boolean":
        return value.strip().lower() == "true"
    if kind == "json":
        return json.loads(value)
    return value


def _set_claim(claims: dict[str, Any], name: str, value: Any) -> None:
    """Set `name`, nesting on dots like Keycloak does (`a.b` → {"a": {"b": ...}})."""
    parts = name.split(".")
    target = claims
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            target[part] = nxt
        target = nxt
    target[parts[-1]] = value


_USER_PROPERTIES = {"username": "username", "email": "email", "firstName": "first_name",
                    "lastName": "last_name"}


def _mapper_value(mapper: ProtocolMapper, user: User) -> Any:
    """The claim value a mapper yields for `user`, or None when it yields nothing."""
    cfg = mapper.config
    json_type = cfg.get("jsonType.label", "String")
    try:
        if mapper.type == "oidc-usermodel-attribute-mapper":
            values = user.attributes.get(cfg.get("user.attribute", ""), [])
            if not values:
                return None
            if cfg.get("multivalued", "false").lower() == "true":
                return [_convert(v, json_type) for v in values]
            return _convert(values[0], json_type)
        if mapper.type == "oidc-hardcoded-claim-mapper":
            return _convert(cfg.get("claim.value", ""), json_type)
        if mapper.type == "oidc-usermodel-property-mapper":
            attr = _USER_PROPERTIES.get(cfg.get("user.attribute", ""))
            return (getattr(user, attr) or None) if attr else None
    except ValueError:
        return None  # Keycloak also drops a claim whose value does not convert
    return None


def mapped_claims(client: Client, user: User, token_kind: str) -> tuple[dict[str, Any], list[str]]:
    """Claims and extra audiences the client's mappers add to a token of `token_kind`."""
    claims: dict[str, Any] = {}
    audiences: list[str] = []
    for mapper in client.mappers:
        if not mapper.adds_to(token_kind):
            continue
        if mapper.type == "oidc-audience-mapper":
            aud = mapper.config.get("included.custom.audience") or mapper.config.get(
                "included.client.audience")
            if aud and aud not in audiences:
                audiences.append(aud)
            continue
        claim = mapper.config.get("claim.name")
        value = _mapper_value(mapper, user)
        if claim and value is not None:
            _set_claim(claims, claim, value)
    return claims, audiences


def profile_claims(user: User) -> dict[str, Any]:
    """What Keycloak's `profile` and `email` scopes put in tokens."""
    claims: dict[str, Any] = {"email_verified": user.email_verified}
    name = " ".join(p for p in (user.first_name, user.last_name) if p)
    if name:
        claims["name"] = name
    claims["preferred_username"] = user.username
    if user.first_name:
        claims["given_name"] = user.first_name
    if user.last_name:
        claims["family_name"] = user.last_name
    if user.email:
        claims["email"] = user.email
    return claims


def _audience(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def access_token_claims(*, realm: Realm, client: Client, user: User, issuer: str, now: int,
                        lifetime_s: int, scope: str, session_id: str | None) -> dict[str, Any]:
    """A Keycloak-shaped access token (`typ` Bearer) for `user` via `client`; times in epoch seconds."""
    client_roles = expand_client_roles(user.client_roles)
    extra, custom_aud = mapped_claims(client, user, "access")
    audiences = [c for c in client_roles if c != client.client_id] + [
        a for a in custom_aud if a not in client_roles]
    claims: dict[str, Any] = {
        "exp": now + lifetime_s,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
    }
    if audiences:
        claims["aud"] = _audience(audiences)
    claims.update({"sub": user.id, "typ": "Bearer", "azp": client.client_id})
    if session_id:
        claims["sid"] = session_id
    claims["acr"] = "1"
    claims["realm_access"] = {"roles": realm.expand_realm_roles(user.realm_roles)}
    if client_roles:
        claims["resource_access"] = {c: {"roles": r} for c, r in client_roles.items()}
    claims["scope"] = scope
    claims.update(profile_claims(user))
    claims.update(extra)
    return claims


def id_token_claims(*, client: Client, user: User, issuer: str, now: int, lifetime_s: int,
                    session_id: str | None) -> dict[str, Any]:
    """The OIDC ID token (`typ` ID, `aud` = the client) Keycloak returns when `openid` is asked for."""
    extra, _ = mapped_claims(client, user, "id")
    claims: dict[str, Any] = {
        "exp": now + lifetime_s, "iat": now, "auth_time": now, "jti": str(uuid.uuid4()),
        "iss": issuer, "aud": client.client_id, "sub": user.id, "typ": "ID", "azp": client.client_id,
    }
    if session_id:
        claims["sid"] = session_id
    claims["acr"] = "1"
    claims.update(profile_claims(user))
    claims.update(extra)
    return claims


def refresh_token_claims(*, client: Client, user: User, issuer: str, now: int, lifetime_s: int,
                         session_id: str, scope: str) -> dict[str, Any]:
    """A refresh token (`typ` Refresh, `aud` = the issuer itself, so no service accepts it)."""
    return {"exp": now + lifetime_s, "iat": now, "jti": str(uuid.uuid4()), "iss": issuer,
            "aud": issuer, "sub": user.id, "typ": "Refresh", "azp": client.client_id,
            "sid": session_id, "scope": scope}


def userinfo_claims(client: Client | None, user: User) -> dict[str, Any]:
    """The userinfo endpoint's answer: `sub`, profile claims and userinfo mappers of the token's client."""
    claims: dict[str, Any] = {"sub": user.id}
    claims.update(profile_claims(user))
    if client is not None:
        extra, _ = mapped_claims(client, user, "userinfo")
        claims.update(extra)
    return claims
