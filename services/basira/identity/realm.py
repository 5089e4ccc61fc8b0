"""The realm as the dev issuer understands it: parsed from a Keycloak realm export, nothing invented.

Pure data and functions (no I/O beyond `load_realm` reading one file). Field names follow Keycloak's
RealmRepresentation so that the same JSON file imports into a real Keycloak unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from basira.common.errors import ConfigError

PBKDF2_ALGORITHMS = {"pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512", "pbkdf2": "sha1"}
DEFAULT_HASH_ALGORITHM = "pbkdf2-sha256"
DEFAULT_HASH_ITERATIONS = 27500  # Keycloak's default for pbkdf2-sha256
DERIVED_KEY_BYTES = 64  # Keycloak's default derived key size (512 bits)

# Keycloak's built-in client holding the admin roles; composite realm-admin implies the others.
REALM_MANAGEMENT = "realm-management"
REALM_ADMIN_IMPLIES = ("manage-users", "view-users", "query-users", "view-realm", "manage-realm",
                       "query-groups", "view-clients", "query-clients", "manage-clients")

# Attributes of the user itself, not of the user profile's free part.
_PROFILE_BUILTINS = {"username", "email", "firstName", "lastName"}

# Fixed namespace so that derived ids (users/roles without an `id` in the file) never change.
_ID_NAMESPACE = uuid.UUID("0b7a3c1e-5f0e-4b7e-9a51-6d2c8f4e1a90")


def stable_id(realm: str, kind: str, name: str) -> str:
    """A UUID that depends only on (realm, kind, name): the same user keeps the same `sub` forever."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{realm}/{kind}/{name}"))


@dataclass(frozen=True)
class PasswordCredential:
    """A Keycloak password credential (PBKDF2), as stored in realm exports; never holds the password."""

    algorithm: str
    iterations: int
    salt: bytes
    hashed: bytes
    created_ms: int = 0

    @classmethod
    def create(cls, password: str, *, iterations: int = DEFAULT_HASH_ITERATIONS,
               algorithm: str = DEFAULT_HASH_ALGORITHM) -> PasswordCredential:
        """Hash `password` with a fresh 16-byte salt, the way Keycloak does."""
        salt = secrets.token_bytes(16)
        hashed = _pbkdf2(algorithm, password, salt, iterations, DERIVED_KEY_BYTES)
        return cls(algorithm, iterations, salt, hashed, int(time.time() * 1000))

    def verify(self, password: str) -> bool:
        """True if `password` matches; constant-time comparison. CPU cost: `iterations` HMACs."""
        candidate = _pbkdf2(self.algorithm, password, self.salt, self.iterations, len(self.hashed))
        return hmac.compare_digest(candidate, self.hashed)

    @classmethod
    def from_export(cls, cred: dict[str, Any]) -> PasswordCredential:
        """Parse a CredentialRepresentation (`secretData`/`credentialData` JSON strings).

        Raises ConfigError for a plaintext `value`, a non-password type or an unknown algorithm.
        """
        if cred.get("type", "password") != "password":
            raise ConfigError(f"credential type {cred.get('type')!r} is not supported (only 'password')")
        if "value" in cred and "secretData" not in cred:
            raise ConfigError("plaintext password in the realm file: store it hashed "
                              "(python -m basira.identity --hash-password)")
        try:
            secret = json.loads(cred["secretData"])
            data = json.loads(cred["credentialData"])
            algorithm = str(data.get("algorithm", DEFAULT_HASH_ALGORITHM))
            iterations = int(data["hashIterations"])
            salt = base64.b64decode(secret["salt"])
            hashed = base64.b64decode(secret["value"])
        except (KeyError, ValueError, TypeError) as e:
            raise ConfigError(f"malformed password credential: {e!r}") from e
        if algorithm not in PBKDF2_ALGORITHMS:
            raise ConfigError(f"password hash algorithm {algorithm!r} is not supported; "
                              f"use one of {sorted(PBKDF2_ALGORITHMS)}")
        return cls(algorithm, iterations, salt, hashed, int(cred.get("createdDate", 0)))

    def to_export(self) -> dict[str, Any]:
        """The CredentialRepresentation Keycloak writes in realm exports."""
        return {
            "type": "password",
            "createdDate": self.created_ms,
            "secretData": json.dumps({"value": base64.b64encode(self.hashed).decode(),
                                      "salt": base64.b64encode(self.salt).decode(),
                                      "additionalParameters": {}}, separators=(",", ":")),
            "credentialData": json.dumps({"hashIterations": self.iterations, "algorithm": self.algorithm,
                                          "additionalParameters": {}}, separators=(",", ":")),
        }


def _pbkdf2(algorithm: str, password: str, salt: bytes, iterations: int, length: int) -> bytes:
    digest = PBKDF2_ALGORITHMS.get(algorithm)
    if digest is None:
        raise ValueError(f"unsupported password hash algorithm {algorithm!r}")
    return hashlib.pbkdf2_hmac(digest, password.encode("utf-8"), salt, iterations, length)


@dataclass(frozen=True)
class ProtocolMapper:
    """One OIDC protocol mapper of a client: `type` is Keycloak's `protocolMapper` id."""

    name: str
    type: str
    config: dict[str, str]

    def adds_to(self, token_kind: str) -> bool:
        """Does this mapper write into `token_kind` ("access", "id" or "userinfo")?"""
        key = {"access": "access.token.claim", "id": "id.token.claim",
               "userinfo": "userinfo.token.claim"}[token_kind]
        default = "true" if token_kind == "access" else "false"
        return str(self.config.get(key, default)).lower() == "true"


@dataclass(frozen=True)
class Client:
    client_id: str
    enabled: bool
    public: bool
    secret: str | None
    direct_access_grants: bool
    service_accounts: bool
    mappers: tuple[ProtocolMapper, ...]
    access_token_lifespan: int | None = None
    standard_flow: bool = False  # authorization code flow (Keycloak's standardFlowEnabled)
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    pkce_method: str = ""  # "S256" when the client must use PKCE (attribute pkce.code.challenge.method)


@dataclass(frozen=True)
class Role:
    name: str
    id: str
    description: str = ""
    composites: tuple[str, ...] = ()

    def to_representation(self, realm_id: str) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description,
                "composite": bool(self.composites), "clientRole": False, "containerId": realm_id}


@dataclass(frozen=True)
class User:
    """A realm user (or a client's service account): what the issuer needs to mint its tokens."""

    id: str
    username: str
    enabled: bool = True
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    email_verified: bool = False
    attributes: dict[str, list[str]] = field(default_factory=dict)
    realm_roles: tuple[str, ...] = ()
    client_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    credentials: tuple[PasswordCredential, ...] = ()
    required_actions: tuple[str, ...] = ()
    service_account_client: str | None = None
    created_ms: int = 0

    def attribute(self, name: str) -> str | None:
        values = self.attributes.get(name) or []
        return values[0] if values else None

    def check_password(self, password: str) -> bool:
        return any(c.verify(password) for c in self.credentials)

    def to_representation(self) -> dict[str, Any]:
        """The admin API's UserRepresentation (never includes credentials)."""
        rep: dict[str, Any] = {
            "id": self.id, "username": self.username, "enabled": self.enabled,
            "emailVerified": self.email_verified, "createdTimestamp": self.created_ms,
            "totp": False, "disableableCredentialTypes": [],
            "requiredActions": list(self.required_actions), "notBefore": 0,
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "access": {"manage": True},
        }
        for key, value in (("firstName", self.first_name), ("lastName", self.last_name),
                           ("email", self.email)):
            if value:
                rep[key] = value
        if self.service_account_client:
            rep["serviceAccountClientId"] = self.service_account_client
        return rep

    def to_export(self) -> dict[str, Any]:
        """The user as a realm export holds it (hashed credentials and role mappings included)."""
        rep = self.to_representation()
        for key in ("access", "disableableCredentialTypes", "totp", "notBefore"):
            rep.pop(key)
        rep["credentials"] = [c.to_export() for c in self.credentials]
        rep["realmRoles"] = list(self.realm_roles)
        if self.client_roles:
            rep["clientRoles"] = {k: list(v) for k, v in self.client_roles.items()}
        return rep


def user_from_export(realm: str, rep: dict[str, Any]) -> User:
    """Parse a UserRepresentation from a realm export (or an admin API create request)."""
    username = str(rep.get("username", "")).strip().lower()
    if not username:
        raise ConfigError("a user has no username")
    attributes: dict[str, list[str]] = {}
    for key, value in (rep.get("attributes") or {}).items():
        values = value if isinstance(value, list) else [value]
        attributes[str(key)] = [str(v) for v in values]
    creds = tuple(PasswordCredential.from_export(c) for c in rep.get("credentials") or [])
    return User(
        id=str(rep.get("id") or stable_id(realm, "user", username)),
        username=username,
        enabled=bool(rep.get("enabled", True)),
        first_name=str(rep.get("firstName") or ""),
        last_name=str(rep.get("lastName") or ""),
        email=str(rep.get("email") or ""),
        email_verified=bool(rep.get("emailVerified", False)),
        attributes=attributes,
        realm_roles=tuple(rep.get("realmRoles") or ()),
        client_roles={str(k): tuple(v) for k, v in (rep.get("clientRoles") or {}).items()},
        credentials=creds,
        required_actions=tuple(rep.get("requiredActions") or ()),
        service_account_client=rep.get("serviceAccountClientId"),
        created_ms=int(rep.get("createdTimestamp") or 0),
    )


@dataclass(frozen=True)
class Realm:
    """Everything the issuer reads from the realm file; users live in the `UserStore` after loading."""

    name: str
    id: str
    enabled: bool
    access_token_lifespan: int
    sso_session_idle_timeout: int
    roles: dict[str, Role]
    clients: dict[str, Client]
    users: tuple[User, ...]
    managed_attributes: frozenset[str] | None  # None: no declarative user profile, keep every attribute
    min_password_length: int = 0  # from passwordPolicy "length(N)"; other policies are not emulated
    display_name: str = ""
    access_code_lifespan: int = 60  # seconds an authorization code stays valid

    def expand_realm_roles(self, names: tuple[str, ...] | list[str]) -> list[str]:
        """The user's realm roles plus everything their composite roles contain, sorted."""
        seen: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            role = self.roles.get(name)
            if role:
                todo.extend(role.composites)
        return sorted(seen)

    def with_users(self, users: tuple[User, ...]) -> Realm:
        return replace(self, users=users)


def expand_client_roles(client_roles: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Client roles with Keycloak's realm-management composite `realm-admin` expanded."""
    out: dict[str, list[str]] = {}
    for client, roles in client_roles.items():
        expanded = set(roles)
        if client == REALM_MANAGEMENT and "realm-admin" in expanded:
            expanded.update(REALM_ADMIN_IMPLIES)
        if expanded:
            out[client] = sorted(expanded)
    return out


def _client_from_export(rep: dict[str, Any]) -> Client:
    client_id = str(rep.get("clientId") or "")
    if not client_id:
        raise ConfigError("a client has no clientId")
    public = bool(rep.get("publicClient", False))
    secret = rep.get("secret")
    if not public and not rep.get("bearerOnly", False) and not secret:
        raise ConfigError(f"confidential client {client_id!r} has no secret")
    mappers = tuple(
        ProtocolMapper(str(m.get("name", "")), str(m.get("protocolMapper", "")),
                       {str(k): str(v) for k, v in (m.get("config") or {}).items()})
        for m in rep.get("protocolMappers") or []
        if m.get("protocol", "openid-connect") == "openid-connect"
    )
    attributes = rep.get("attributes") or {}
    lifespan = attributes.get("access.token.lifespan")
    redirect_uris = tuple(str(u) for u in rep.get("redirectUris") or ())
    pkce_method = str(attributes.get("pkce.code.challenge.method") or "")
    if pkce_method not in ("", "S256"):
        raise ConfigError(f"client {client_id!r}: pkce.code.challenge.method {pkce_method!r} is not "
                          "supported; only S256 (plain PKCE is refused)")
    return Client(
        client_id=client_id,
        enabled=bool(rep.get("enabled", True)),
        public=public,
        secret=str(secret) if secret else None,
        direct_access_grants=bool(rep.get("directAccessGrantsEnabled", False)),
        service_accounts=bool(rep.get("serviceAccountsEnabled", False)),
        mappers=mappers,
        access_token_lifespan=int(lifespan) if lifespan not in (None, "") else None,
        standard_flow=bool(rep.get("standardFlowEnabled", True)),
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=_post_logout_uris(attributes, redirect_uris),
        pkce_method=pkce_method,
    )


def _post_logout_uris(attributes: dict[str, Any], redirect_uris: tuple[str, ...]) -> tuple[str, ...]:
    """Keycloak's `post.logout.redirect.uris` attribute: `##`-separated; `+` means the redirect URIs."""
    uris: list[str] = []
    for value in str(attributes.get("post.logout.redirect.uris") or "").split("##"):
        value = value.strip()
        if value == "+":
            uris.extend(redirect_uris)
        elif value:
            uris.append(value)
    return tuple(uris)


def _managed_attributes(rep: dict[str, Any]) -> frozenset[str] | None:
    """Attribute names declared in the realm's declarative user profile (Keycloak 24+), if any."""
    providers = (rep.get("components") or {}).get("org.keycloak.userprofile.UserProfileProvider") or []
    for provider in providers:
        raw = (provider.get("config") or {}).get("kc.user.profile.config")
        if not raw:
            continue
        text = raw[0] if isinstance(raw, list) else raw
        try:
            config = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"user profile config is not JSON: {e}") from e
        if config.get("unmanagedAttributePolicy") == "ENABLED":
            return None
        return frozenset(a["name"] for a in config.get("attributes", []) if "name" in a) - _PROFILE_BUILTINS
    return None


def parse_realm(rep: dict[str, Any]) -> Realm:
    """Build a Realm from a parsed realm export; raises ConfigError naming what is wrong."""
    name = rep.get("realm")
    if not isinstance(name, str) or not name:
        raise ConfigError("realm file has no 'realm' name")
    roles: dict[str, Role] = {}
    for r in (rep.get("roles") or {}).get("realm") or []:
        role_name = str(r["name"])
        composites = tuple((r.get("composites") or {}).get("realm") or ()) if r.get("composite") else ()
        roles[role_name] = Role(role_name, str(r.get("id") or stable_id(name, "role", role_name)),
                                str(r.get("description") or ""), composites)
    clients = {c.client_id: c for c in (_client_from_export(c) for c in rep.get("clients") or [])}
    users = tuple(user_from_export(name, u) for u in rep.get("users") or [])
    seen: set[str] = set()
    for user in users:
        if user.username in seen:
            raise ConfigError(f"user {user.username!r} appears twice in the realm file")
        seen.add(user.username)
        for role in user.realm_roles:
            if role not in roles:
                raise ConfigError(f"user {user.username!r} has realm role {role!r} that the realm lacks")
        if user.service_account_client and user.service_account_client not in clients:
            raise ConfigError(f"service account {user.username!r} names unknown client "
                              f"{user.service_account_client!r}")
    return Realm(
        name=name,
        id=str(rep.get("id") or name),
        enabled=bool(rep.get("enabled", True)),
        access_token_lifespan=int(rep.get("accessTokenLifespan", 300)),
        sso_session_idle_timeout=int(rep.get("ssoSessionIdleTimeout", 1800)),
        roles=roles,
        clients=clients,
        users=users,
        managed_attributes=_managed_attributes(rep),
        min_password_length=_min_length(str(rep.get("passwordPolicy") or "")),
        display_name=str(rep.get("displayName") or name),
        access_code_lifespan=int(rep.get("accessCodeLifespan", 60)),
    )


def _min_length(policy: str) -> int:
    """N from a Keycloak password policy string such as `length(12) and digits(1)`."""
    match = re.search(r"\blength\((\d+)\)", policy)
    return int(match.group(1)) if match else 0


def load_realm(path: str | Path) -> Realm:
    """Read and parse a realm export file; raises ConfigError if it is missing or malformed."""
    p = Path(path)
    try:
        rep = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"realm file {p} does not exist") from e
    except ValueError as e:
        raise ConfigError(f"realm file {p} is not valid JSON: {e}") from e
    if not isinstance(rep, dict):
        raise ConfigError(f"realm file {p} must hold one realm object")
    return parse_realm(rep)
