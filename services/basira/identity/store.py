"""The realm's users: the realm file's users plus admin-API changes, kept in the data dir across restarts.

Changes are an overlay (`<data_dir>/identity/<realm>-users.json`: upserted users and deleted ids) so
that editing the realm file still takes effect for users the admin API never touched.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from basira.common.errors import AlreadyExists, ConfigError, InvalidInput, NotFound
from basira.identity.realm import PasswordCredential, Realm, User, stable_id, user_from_export


class UserStore:
    """Thread-safe user table; every mutation is written to the overlay file before it returns."""

    def __init__(self, realm: Realm, overlay_path: Path | None) -> None:
        self._realm = realm
        self._path = overlay_path
        self._lock = threading.Lock()
        self._upserted: dict[str, dict[str, Any]] = {}
        self._deleted: set[str] = set()
        if overlay_path is not None and overlay_path.exists():
            try:
                state = json.loads(overlay_path.read_text(encoding="utf-8"))
                self._upserted = dict(state.get("upserted", {}))
                self._deleted = set(state.get("deleted", []))
            except (ValueError, AttributeError) as e:
                raise ConfigError(f"user overlay {overlay_path} is unreadable: {e}") from e
        self._users: dict[str, User] = {u.id: u for u in realm.users}
        for uid in self._deleted:
            self._users.pop(uid, None)
        for uid, rep in self._upserted.items():
            self._users[uid] = user_from_export(realm.name, rep)

    # -- reads ------------------------------------------------------------------------------------
    def get(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def by_username(self, username: str) -> User | None:
        name = username.strip().lower()
        return next((u for u in self._users.values() if u.username == name), None)

    def by_login(self, login: str) -> User | None:
        """The user a login name refers to: username first, then e-mail (Keycloak's loginWithEmail)."""
        user = self.by_username(login)
        if user is None and "@" in login:
            name = login.strip().lower()
            user = next((u for u in self._users.values() if u.email.lower() == name), None)
        return user

    def service_account(self, client_id: str) -> User | None:
        return next((u for u in self._users.values() if u.service_account_client == client_id), None)

    def all(self) -> list[User]:
        return sorted(self._users.values(), key=lambda u: u.username)

    # -- writes -----------------------------------------------------------------------------------
    def create(self, rep: dict[str, Any]) -> User:
        """Create a user from an admin-API UserRepresentation.

        Like Keycloak, `realmRoles`/`clientRoles` in the request are ignored (map roles afterwards),
        attributes outside the realm's user profile are dropped, and `credentials` entries of type
        password with a plaintext `value` are hashed. Raises AlreadyExists / InvalidInput.
        """
        username = str(rep.get("username") or "").strip().lower()
        if not username:
            raise InvalidInput("username is required")
        with self._lock:
            if any(u.username == username for u in self._users.values()):
                raise AlreadyExists("User exists with same username")
            creds, required = _credentials(rep.get("credentials") or [], self._realm.min_password_length)
            user = user_from_export(self._realm.name, {
                **{k: v for k, v in rep.items() if k not in ("credentials", "realmRoles", "clientRoles",
                                                              "id", "serviceAccountClientId")},
                "username": username,
                "attributes": self._managed(rep.get("attributes") or {}),
            })
            user = replace(user, id=stable_id(self._realm.name, "user", username), credentials=creds,
                           required_actions=tuple(dict.fromkeys(user.required_actions + required)),
                           created_ms=_now_ms())
            self._put(user)
            return user

    def update(self, user_id: str, rep: dict[str, Any]) -> User:
        """Apply the fields present in a UserRepresentation (Keycloak's PUT semantics)."""
        with self._lock:
            user = self._require(user_id)
            if "username" in rep and str(rep["username"]).strip().lower() != user.username:
                raise InvalidInput("usernames cannot be changed")
            changes: dict[str, Any] = {}
            for key, attr in (("enabled", "enabled"), ("emailVerified", "email_verified")):
                if key in rep:
                    changes[attr] = bool(rep[key])
            for key, attr in (("firstName", "first_name"), ("lastName", "last_name"), ("email", "email")):
                if key in rep:
                    changes[attr] = str(rep[key] or "")
            if "attributes" in rep:
                changes["attributes"] = self._managed(rep["attributes"] or {})
            if "requiredActions" in rep:
                changes["required_actions"] = tuple(rep["requiredActions"] or ())
            updated = replace(user, **changes)
            self._put(updated)
            return updated

    def delete(self, user_id: str) -> None:
        with self._lock:
            self._require(user_id)
            del self._users[user_id]
            self._upserted.pop(user_id, None)
            self._deleted.add(user_id)
            self._save()

    def set_password(self, user_id: str, password: str, temporary: bool) -> None:
        """Replace the password; a temporary one makes the user update it before any login (as Keycloak)."""
        _check_policy(password, self._realm.min_password_length)
        with self._lock:
            user = self._require(user_id)
            actions = tuple(a for a in user.required_actions if a != "UPDATE_PASSWORD")
            if temporary:
                actions += ("UPDATE_PASSWORD",)
            self._put(replace(user, credentials=(PasswordCredential.create(password),),
                              required_actions=actions))

    def add_realm_roles(self, user_id: str, roles: list[str]) -> None:
        with self._lock:
            user = self._require(user_id)
            merged = tuple(dict.fromkeys(user.realm_roles + tuple(self._known_roles(roles))))
            self._put(replace(user, realm_roles=merged))

    def remove_realm_roles(self, user_id: str, roles: list[str]) -> None:
        with self._lock:
            user = self._require(user_id)
            drop = set(self._known_roles(roles))
            self._put(replace(user, realm_roles=tuple(r for r in user.realm_roles if r not in drop)))

    # -- helpers ----------------------------------------------------------------------------------
    def _require(self, user_id: str) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound("User not found")
        return user

    def _known_roles(self, roles: list[str]) -> list[str]:
        for name in roles:
            if name not in self._realm.roles:
                raise NotFound(f"Role not found: {name}")
        return roles

    def _managed(self, attributes: dict[str, Any]) -> dict[str, Any]:
        allowed = self._realm.managed_attributes
        return {k: v for k, v in attributes.items() if allowed is None or k in allowed}

    def _put(self, user: User) -> None:
        self._users[user.id] = user
        self._upserted[user.id] = user.to_export()
        self._deleted.discard(user.id)
        self._save()

    def _save(self) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        data = json.dumps({"upserted": self._upserted, "deleted": sorted(self._deleted)}, indent=1)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data.encode("utf-8"))
        finally:
            os.close(fd)
        os.replace(tmp, self._path)


def _check_policy(password: str, min_length: int) -> None:
    if not password:
        raise InvalidInput("password must not be empty")
    if len(password) < min_length:
        raise InvalidInput(f"Invalid password: minimum length {min_length}.")


def _credentials(reps: list[dict[str, Any]], min_length: int
                 ) -> tuple[tuple[PasswordCredential, ...], tuple[str, ...]]:
    """Hash plaintext password credentials of an admin create request; note temporary ones."""
    creds: list[PasswordCredential] = []
    required: tuple[str, ...] = ()
    for rep in reps:
        if rep.get("type", "password") != "password":
            raise InvalidInput(f"credential type {rep.get('type')!r} is not supported")
        if "value" in rep:
            _check_policy(str(rep["value"]), min_length)
            creds.append(PasswordCredential.create(str(rep["value"])))
            if rep.get("temporary"):
                required = ("UPDATE_PASSWORD",)
        else:
            try:
                creds.append(PasswordCredential.from_export(rep))
            except ConfigError as e:
                raise InvalidInput(str(e)) from e
    return tuple(creds), required


def _now_ms() -> int:
    return int(time.time() * 1000)
