"""The realm file and its parsing: what Keycloak will import and what the dev issuer serves."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from basira.common.errors import ConfigError
from basira.identity import DEFAULT_REALM_FILE
from basira.identity.realm import PasswordCredential, load_realm, parse_realm

from .conftest import documented_users, realm_json

AGENCIES = {"police", "gendarmerie", "traffic", "intelligence", "oversight"}
ROLES = {"camera_admin", "operator", "investigator", "analyst", "privacy_officer", "auditor", "device",
         "service"}


def test_realm_file_parses_with_the_roles_and_clients_basira_needs() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    assert realm.name == "basira"
    assert set(realm.roles) == ROLES
    services, cli = realm.clients["basira-services"], realm.clients["basira-cli"]
    assert not services.public and services.service_accounts and services.secret
    assert not services.direct_access_grants
    assert cli.public and cli.direct_access_grants and not cli.service_accounts
    assert realm.access_token_lifespan == 300
    assert realm.min_password_length == 12


def test_both_basira_clients_map_agency_clearance_and_the_basira_audience() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    for client_id in ("basira-services", "basira-cli"):
        audiences = [m.config.get("included.custom.audience") for m in realm.clients[client_id].mappers
                     if m.type == "oidc-audience-mapper"]
        assert audiences == ["basira"]
        attrs = {m.config["claim.name"]: m.config for m in realm.clients[client_id].mappers
                 if m.type == "oidc-usermodel-attribute-mapper"}
        assert attrs["agency"]["user.attribute"] == "agency"
        assert attrs["clearance"]["jsonType.label"] == "int"
        assert all(c["access.token.claim"] == "true" for c in attrs.values())


def test_readme_documents_every_human_user_with_a_password_that_matches_the_hash() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    documented = documented_users()
    humans = {u.username: u for u in realm.users if not u.service_account_client}
    assert set(documented) == set(humans)
    for name, row in documented.items():
        user = humans[name]
        assert user.check_password(row["password"]), name
        assert not user.check_password(row["password"] + "x"), name
        assert user.attribute("agency") == row["agency"]
        assert user.attribute("clearance") == row["clearance"]
        assert set(user.realm_roles) == {r.strip() for r in row["roles"].split(",")}


def test_sample_users_cover_every_agency_and_the_requested_accounts() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    names = {u.username for u in realm.users}
    assert {"police-investigator", "police-operator", "police-operator2", "police-admin",
            "gendarmerie-operator", "gendarmerie-investigator", "traffic-analyst", "traffic-operator",
            "intelligence-analyst", "oversight-auditor", "privacy-officer", "bodycam-01"} <= names
    humans = [u for u in realm.users if not u.service_account_client]
    assert {u.attribute("agency") for u in humans} == AGENCIES
    for user in realm.users:
        assert user.attribute("agency"), user.username
        assert 0 <= int(user.attribute("clearance") or "x") <= 5, user.username
    device = next(u for u in realm.users if u.username == "bodycam-01")
    assert device.realm_roles == ("device",) and device.attribute("agency") == "police"


def test_realm_file_has_no_plaintext_password_and_hashes_in_keycloak_format() -> None:
    for user in realm_json()["users"]:
        for cred in user.get("credentials", []):
            assert "value" not in cred
            secret, data = json.loads(cred["secretData"]), json.loads(cred["credentialData"])
            assert data["algorithm"] == "pbkdf2-sha256" and data["hashIterations"] >= 27500
            assert len(base64.b64decode(secret["value"])) == 64
            assert len(base64.b64decode(secret["salt"])) == 16
    text = DEFAULT_REALM_FILE.read_text(encoding="utf-8")
    assert "dev-password" not in text


def test_user_profile_declares_agency_and_clearance_editable_by_admins_only() -> None:
    # Keycloak 24+ drops undeclared attributes from tokens; users must not raise their own clearance.
    provider = realm_json()["components"]["org.keycloak.userprofile.UserProfileProvider"][0]
    config = json.loads(provider["config"]["kc.user.profile.config"][0])
    attrs = {a["name"]: a for a in config["attributes"]}
    for name in ("agency", "clearance"):
        assert attrs[name]["permissions"]["edit"] == ["admin"]
    assert {"username", "email", "firstName", "lastName"} <= set(attrs)
    assert load_realm(DEFAULT_REALM_FILE).managed_attributes == frozenset({"agency", "clearance"})


def test_password_hash_is_keycloaks_pbkdf2_computed_independently() -> None:
    cred = PasswordCredential.create("correct horse battery staple", iterations=1000)
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=64, salt=cred.salt, iterations=1000)
    assert kdf.derive(b"correct horse battery staple") == cred.hashed
    again = PasswordCredential.from_export(cred.to_export())
    assert again.verify("correct horse battery staple") and not again.verify("Correct horse battery staple")


def test_plaintext_or_unknown_credentials_are_refused() -> None:
    with pytest.raises(ConfigError, match="plaintext"):
        PasswordCredential.from_export({"type": "password", "value": "secret"})
    cred = PasswordCredential.create("x", iterations=10).to_export()
    cred["credentialData"] = json.dumps({"hashIterations": 10, "algorithm": "bcrypt"})
    with pytest.raises(ConfigError, match="bcrypt"):
        PasswordCredential.from_export(cred)


def test_realm_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="no 'realm'"):
        parse_realm({})
    with pytest.raises(ConfigError, match="realm role 'ghost'"):
        parse_realm({"realm": "r", "users": [{"username": "a", "realmRoles": ["ghost"]}]})
    with pytest.raises(ConfigError, match="appears twice"):
        parse_realm({"realm": "r", "users": [{"username": "a"}, {"username": "A"}]})
    with pytest.raises(ConfigError, match="has no secret"):
        parse_realm({"realm": "r", "clients": [{"clientId": "c", "publicClient": False}]})
    with pytest.raises(ConfigError, match="does not exist"):
        load_realm("/nonexistent/realm.json")


def test_composite_roles_expand_and_ids_are_stable() -> None:
    rep = {"realm": "r", "roles": {"realm": [
        {"name": "lead", "composite": True, "composites": {"realm": ["investigator"]}},
        {"name": "investigator"}]}, "users": [{"username": "Ann", "realmRoles": ["lead"]}]}
    first, second = parse_realm(rep), parse_realm(rep)
    assert first.expand_realm_roles(first.users[0].realm_roles) == ["investigator", "lead"]
    assert first.users[0].username == "ann"
    assert first.users[0].id == second.users[0].id
    assert first.roles["lead"].id == second.roles["lead"].id
