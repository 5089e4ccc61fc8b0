"""The user store: admin-API changes, Keycloak's rules for them, and persistence across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from basira.common.errors import AlreadyExists, InvalidInput, NotFound
from basira.identity import DEFAULT_REALM_FILE
from basira.identity.realm import load_realm, stable_id
from basira.identity.store import UserStore


def _store(tmp_path: Path) -> UserStore:
    return UserStore(load_realm(DEFAULT_REALM_FILE), tmp_path / "users.json")


def test_create_hashes_password_drops_undeclared_attributes_and_ignores_roles(tmp_path: Path) -> None:
    store = _store(tmp_path)
    user = store.create({"username": "Police-Trainee", "realmRoles": ["investigator"],
                         "attributes": {"agency": ["police"], "clearance": ["1"], "shoe": ["42"]},
                         "credentials": [{"type": "password", "value": "trainee-password",
                                          "temporary": False}]})
    assert user.username == "police-trainee"
    assert user.id == stable_id("basira", "user", "police-trainee")
    assert user.attributes == {"agency": ["police"], "clearance": ["1"]}
    assert user.realm_roles == ()
    assert user.check_password("trainee-password") and not user.required_actions
    with pytest.raises(AlreadyExists):
        store.create({"username": "police-trainee"})


def test_password_policy_and_temporary_passwords(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(InvalidInput, match="minimum length 12"):
        store.create({"username": "x1", "credentials": [{"type": "password", "value": "short"}]})
    user = store.create({"username": "x2"})
    store.set_password(user.id, "temporary-password", temporary=True)
    assert store.get(user.id).required_actions == ("UPDATE_PASSWORD",)  # type: ignore[union-attr]
    store.set_password(user.id, "permanent-password", temporary=False)
    updated = store.get(user.id)
    assert updated is not None and updated.required_actions == ()
    assert updated.check_password("permanent-password") and not updated.check_password("temporary-password")


def test_role_mappings_only_accept_realm_roles(tmp_path: Path) -> None:
    store = _store(tmp_path)
    uid = store.by_username("traffic-analyst").id  # type: ignore[union-attr]
    store.add_realm_roles(uid, ["operator", "analyst"])
    assert store.get(uid).realm_roles == ("analyst", "operator")  # type: ignore[union-attr]
    store.remove_realm_roles(uid, ["analyst"])
    assert store.get(uid).realm_roles == ("operator",)  # type: ignore[union-attr]
    with pytest.raises(NotFound, match="superuser"):
        store.add_realm_roles(uid, ["superuser"])


def test_changes_survive_a_restart_and_realm_users_stay(tmp_path: Path) -> None:
    store = _store(tmp_path)
    new = store.create({"username": "gendarmerie-analyst", "attributes": {"agency": ["gendarmerie"]}})
    store.add_realm_roles(new.id, ["analyst"])
    gone = store.by_username("traffic-operator")
    assert gone is not None
    store.delete(gone.id)
    changed = store.by_username("police-admin")
    assert changed is not None
    store.update(changed.id, {"enabled": False, "attributes": {"agency": ["police"], "clearance": ["3"]}})

    again = _store(tmp_path)
    kept = again.get(new.id)
    assert kept is not None and kept.realm_roles == ("analyst",)
    assert again.by_username("traffic-operator") is None
    admin = again.by_username("police-admin")
    assert admin is not None and not admin.enabled and admin.attribute("clearance") == "3"
    assert again.by_username("police-investigator") is not None
    assert (tmp_path / "users.json").stat().st_mode & 0o077 == 0


def test_usernames_cannot_change_and_unknown_users_are_not_found(tmp_path: Path) -> None:
    store = _store(tmp_path)
    uid = store.by_username("bodycam-01").id  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        store.update(uid, {"username": "bodycam-02"})
    with pytest.raises(NotFound):
        store.delete("no-such-id")
