"""The dev issuer over HTTP, driven by python-keycloak exactly as services and tools will drive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from jwcrypto import jwk
from keycloak import KeycloakAdmin, KeycloakOpenID, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError, KeycloakPostError

from basira.identity import DEFAULT_REALM_FILE, IssuerApp, issuer_in_thread

from .conftest import client_secret

pytestmark = pytest.mark.integration

PASSWORD = "police-investigator-dev-password"


def _cli(app: IssuerApp) -> KeycloakOpenID:
    return KeycloakOpenID(server_url=app.url, realm_name="basira", client_id="basira-cli")


def _admin(app: IssuerApp) -> KeycloakAdmin:
    return KeycloakAdmin(connection=KeycloakOpenIDConnection(
        server_url=app.url, realm_name="basira", client_id="basira-admin",
        client_secret_key=client_secret("basira-admin")))


def _claims(openid: KeycloakOpenID, token: str) -> dict:
    # decode_token with the key: the issuer's signature is checked, no JWKS fetch per call.
    key = openid.public_key()
    pem = f"-----BEGIN PUBLIC KEY-----\n{key}\n-----END PUBLIC KEY-----".encode()
    return openid.decode_token(token, key=jwk.JWK.from_pem(pem), check_claims={"exp": None})


def test_password_grant_returns_keycloak_shaped_tokens(issuer: IssuerApp) -> None:
    openid = _cli(issuer)
    tokens = openid.token("police-investigator", PASSWORD)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300
    assert {"access_token", "refresh_token", "id_token", "refresh_expires_in", "scope"} <= set(tokens)
    claims = _claims(openid, tokens["access_token"])
    assert claims["iss"] == f"{issuer.url}/realms/basira" == issuer.issuer
    assert claims["aud"] == "basira" and claims["azp"] == "basira-cli" and claims["typ"] == "Bearer"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["preferred_username"] == "police-investigator"
    assert claims["realm_access"]["roles"] == ["investigator"]
    assert claims["agency"] == "police" and claims["clearance"] == 2
    assert claims["scope"] == "openid profile email"
    assert issuer.url == f"http://127.0.0.1:{issuer.port}" and issuer.port > 0
    by_email = openid.token("police-investigator@police.basira.example", PASSWORD)
    assert _claims(openid, by_email["access_token"])["sub"] == claims["sub"]


def test_client_credentials_grant_gives_the_service_account_token(issuer: IssuerApp) -> None:
    openid = KeycloakOpenID(server_url=issuer.url, realm_name="basira", client_id="basira-services",
                            client_secret_key=client_secret("basira-services"))
    tokens = openid.token(grant_type="client_credentials")
    assert "refresh_token" not in tokens and tokens["refresh_expires_in"] == 0
    claims = _claims(openid, tokens["access_token"])
    assert claims["preferred_username"] == "service-account-basira-services"
    assert claims["realm_access"]["roles"] == ["service"] and claims["agency"] == "platform"
    assert claims["aud"] == "basira" and claims["azp"] == "basira-services"


def test_refresh_token_grant_and_userinfo(issuer: IssuerApp) -> None:
    openid = _cli(issuer)
    first = openid.token("traffic-analyst", "traffic-analyst-dev-password")
    again = openid.refresh_token(first["refresh_token"])
    assert again["access_token"] != first["access_token"]
    assert again["session_state"] == first["session_state"]
    info = openid.userinfo(again["access_token"])
    assert isinstance(info, dict)
    assert info["preferred_username"] == "traffic-analyst" and info["agency"] == "traffic"
    # A refresh token is not an access token, and an access token is not a refresh token.
    with pytest.raises(KeycloakError):
        openid.userinfo(first["refresh_token"])
    with pytest.raises(KeycloakPostError) as e:
        openid.refresh_token(first["access_token"])
    assert json.loads(e.value.response_body or b"{}")["error"] == "invalid_grant"


@pytest.mark.parametrize(("client_id", "secret", "user", "password", "status", "error"), [
    ("basira-cli", None, "police-investigator", "wrong-password", 401, "invalid_grant"),
    ("basira-cli", None, "nobody-at-all", PASSWORD, 401, "invalid_grant"),
    ("no-such-client", None, "police-investigator", PASSWORD, 401, "invalid_client"),
    ("basira-services", "wrong-secret", None, None, 401, "unauthorized_client"),
    ("basira-services", "<secret>", "police-investigator", PASSWORD, 400, "unauthorized_client"),
])
def test_bad_credentials_get_keycloaks_error_answers(issuer: IssuerApp, client_id: str, secret: str | None,
                                                     user: str | None, password: str | None, status: int,
                                                     error: str) -> None:
    if secret == "<secret>":
        secret = client_secret("basira-services")
    openid = KeycloakOpenID(server_url=issuer.url, realm_name="basira", client_id=client_id,
                            client_secret_key=secret)
    grant = "password" if user else "client_credentials"
    with pytest.raises(KeycloakError) as e:
        openid.token(user or "", password or "", grant_type=grant)
    assert e.value.response_code == status
    body = json.loads(e.value.response_body or b"{}")
    assert body["error"] == error and body["error_description"]
    if status == 401:
        assert isinstance(e.value, KeycloakAuthenticationError)


def test_public_client_cannot_use_client_credentials_and_unknown_grants_fail(issuer: IssuerApp) -> None:
    url = f"{issuer.issuer}/protocol/openid-connect/token"
    r = requests.post(url, data={"client_id": "basira-cli", "grant_type": "client_credentials"}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized_client"
    r = requests.post(url, data={"client_id": "basira-cli", "grant_type": "implicit"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    # HTTP Basic client authentication (client_secret_basic) works too.
    r = requests.post(url, data={"grant_type": "client_credentials"}, timeout=5,
                      auth=("basira-services", client_secret("basira-services")))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"


def test_discovery_certs_realm_and_health(issuer: IssuerApp) -> None:
    openid = _cli(issuer)
    wk = openid.well_known()
    assert wk["issuer"] == issuer.issuer
    assert wk["jwks_uri"] == f"{issuer.issuer}/protocol/openid-connect/certs"
    assert {"password", "client_credentials", "refresh_token"} <= set(wk["grant_types_supported"])
    certs = openid.certs()
    assert [k["kid"] for k in certs["keys"]] == [issuer.kid]
    assert certs["keys"][0]["alg"] == "RS256" and "d" not in certs["keys"][0]
    assert requests.get(f"{issuer.url}/health", timeout=5).json()["status"] == "UP"
    other = f"{issuer.url}/realms/other/protocol/openid-connect/certs"
    assert requests.get(other, timeout=5).status_code == 404


def test_keycloak_admin_manages_users_and_realm_roles(issuer: IssuerApp) -> None:
    admin = _admin(issuer)
    assert len(admin.get_users()) == admin.users_count() == 15
    police = admin.get_users({"q": "agency:police"})
    assert {u["username"] for u in police} >= {"police-investigator", "bodycam-01"}
    assert {r["name"] for r in admin.get_realm_roles()} >= {"investigator", "privacy_officer"}

    uid = admin.create_user({
        "username": "police-investigator3", "enabled": True, "firstName": "Ines", "lastName": "Lahlou",
        "attributes": {"agency": ["police"], "clearance": ["2"]},
        "credentials": [{"type": "password", "value": "investigator3-password", "temporary": False}]})
    assert admin.get_user_id("police-investigator3") == uid
    admin.assign_realm_roles(uid, [admin.get_realm_role("investigator")])
    assert [r["name"] for r in admin.get_realm_roles_of_user(uid)] == ["investigator"]
    assert admin.get_user(uid)["attributes"]["agency"] == ["police"]

    openid = _cli(issuer)
    claims = _claims(openid, openid.token("police-investigator3", "investigator3-password")["access_token"])
    assert claims["realm_access"]["roles"] == ["investigator"] and claims["clearance"] == 2

    admin.set_user_password(uid, "temporary-password", temporary=True)
    with pytest.raises(KeycloakPostError, match="not fully set up"):
        openid.token("police-investigator3", "temporary-password")
    admin.update_user(uid, {"enabled": False})
    admin.delete_realm_roles_of_user(uid, [admin.get_realm_role("investigator")])
    assert admin.get_realm_roles_of_user(uid) == []
    admin.delete_user(uid)
    assert admin.get_user_id("police-investigator3") is None


def test_admin_api_needs_a_realm_management_token(issuer: IssuerApp) -> None:
    url = f"{issuer.url}/admin/realms/basira/users"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer junk"}, timeout=5).status_code == 401
    camera_admin = _cli(issuer).token("police-admin", "police-admin-dev-password")["access_token"]
    r = requests.get(url, headers={"Authorization": f"Bearer {camera_admin}"}, timeout=5)
    assert r.status_code == 403 and "manage-users" in r.json()["error_description"]


def test_key_and_admin_changes_persist_across_restart(tmp_path: Path) -> None:
    with issuer_in_thread(DEFAULT_REALM_FILE, tmp_path) as app:
        kid = app.kid
        _admin(app).create_user({"username": "kept-user", "enabled": True,
                                 "credentials": [{"type": "password", "value": "kept-user-password"}]})
        old_token = _cli(app).token("police-operator", "police-operator-dev-password")["access_token"]
    key_file = tmp_path / "identity" / "signing-key.pem"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    with issuer_in_thread(DEFAULT_REALM_FILE, tmp_path) as app:
        assert app.kid == kid
        openid = _cli(app)
        assert [k["kid"] for k in openid.certs()["keys"]] == [kid]
        assert openid.token("kept-user", "kept-user-password")["access_token"]
        assert _claims(openid, old_token)["preferred_username"] == "police-operator"


def test_token_lifetime_is_configurable(tmp_path: Path) -> None:
    with issuer_in_thread(DEFAULT_REALM_FILE, tmp_path, token_lifetime_s=60) as app:
        tokens = _cli(app).token("police-operator2", "police-operator2-dev-password")
        assert tokens["expires_in"] == 60
        claims = _claims(_cli(app), tokens["access_token"])
        assert claims["exp"] - claims["iat"] == 60


def test_module_entry_point_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    repo = DEFAULT_REALM_FILE.parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo / "services")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "basira.identity", "--realm-file", str(DEFAULT_REALM_FILE),
         "--data-dir", str(tmp_path), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started["event"] == "identity.listening" and started["port"] > 0
        assert requests.get(f"{started['url']}/health", timeout=5).status_code == 200
        assert (tmp_path / "identity" / "signing-key.pem").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert proc.returncode == 0
