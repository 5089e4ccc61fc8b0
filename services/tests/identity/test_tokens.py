"""Token claims built from realm + user + client, shaped like Keycloak's."""

from __future__ import annotations

from basira.identity import DEFAULT_REALM_FILE
from basira.identity.realm import Client, ProtocolMapper, User, load_realm
from basira.identity.tokens import (
    access_token_claims,
    granted_scope,
    id_token_claims,
    mapped_claims,
    refresh_token_claims,
    userinfo_claims,
)

ISS = "http://127.0.0.1:1/realms/basira"


def _user(name: str) -> User:
    return next(u for u in load_realm(DEFAULT_REALM_FILE).users if u.username == name)


def test_access_token_for_an_investigator_has_keycloak_shape_and_basira_claims() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    user = _user("police-investigator")
    claims = access_token_claims(realm=realm, client=realm.clients["basira-cli"], user=user, issuer=ISS,
                                 now=1000, lifetime_s=300, scope="openid profile email", session_id="s1")
    assert claims["iss"] == ISS and claims["sub"] == user.id
    assert claims["aud"] == "basira" and claims["azp"] == "basira-cli" and claims["typ"] == "Bearer"
    assert (claims["iat"], claims["exp"]) == (1000, 1300)
    assert claims["realm_access"] == {"roles": ["investigator"]}
    assert claims["agency"] == "police" and claims["clearance"] == 2
    assert claims["preferred_username"] == "police-investigator"
    assert claims["sid"] == "s1" and claims["jti"]
    assert "resource_access" not in claims


def test_admin_service_account_token_is_for_realm_management_not_basira() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    user = _user("service-account-basira-admin")
    claims = access_token_claims(realm=realm, client=realm.clients["basira-admin"], user=user, issuer=ISS,
                                 now=0, lifetime_s=60, scope="profile email", session_id=None)
    assert claims["aud"] == "realm-management"
    assert "manage-users" in claims["resource_access"]["realm-management"]["roles"]
    assert "sid" not in claims


def test_several_audiences_become_a_list() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    user = _user("service-account-basira-admin")
    claims = access_token_claims(realm=realm, client=realm.clients["basira-cli"], user=user, issuer=ISS,
                                 now=0, lifetime_s=60, scope="", session_id=None)
    assert claims["aud"] == ["realm-management", "basira"]


def test_mapper_types_and_json_types() -> None:
    user = User(id="u", username="ann", first_name="Ann",
                attributes={"clearance": ["3"], "zones": ["a", "b"], "flag": ["true"], "bad": ["x"]})
    mappers = (
        ProtocolMapper("c", "oidc-usermodel-attribute-mapper",
                       {"user.attribute": "clearance", "claim.name": "clearance", "jsonType.label": "int"}),
        ProtocolMapper("z", "oidc-usermodel-attribute-mapper",
                       {"user.attribute": "zones", "claim.name": "basira.zones", "multivalued": "true"}),
        ProtocolMapper("f", "oidc-usermodel-attribute-mapper",
                       {"user.attribute": "flag", "claim.name": "flag", "jsonType.label": "boolean",
                        "access.token.claim": "false", "id.token.claim": "true"}),
        ProtocolMapper("b", "oidc-usermodel-attribute-mapper",
                       {"user.attribute": "bad", "claim.name": "bad", "jsonType.label": "int"}),
        ProtocolMapper("h", "oidc-hardcoded-claim-mapper", {"claim.name": "tier", "claim.value": "gold"}),
        ProtocolMapper("p", "oidc-usermodel-property-mapper",
                       {"user.attribute": "firstName", "claim.name": "first"}),
        ProtocolMapper("a", "oidc-audience-mapper", {"included.client.audience": "search"}),
        ProtocolMapper("x", "some-script-mapper", {"claim.name": "never"}),
    )
    client = Client("c", True, True, None, True, False, mappers)
    access, aud = mapped_claims(client, user, "access")
    assert access == {"clearance": 3, "basira": {"zones": ["a", "b"]}, "tier": "gold", "first": "Ann"}
    assert aud == ["search"]
    id_claims, id_aud = mapped_claims(client, user, "id")
    assert id_claims == {"flag": True} and id_aud == []


def test_id_refresh_and_userinfo_claims() -> None:
    realm = load_realm(DEFAULT_REALM_FILE)
    client, user = realm.clients["basira-cli"], _user("traffic-analyst")
    idt = id_token_claims(client=client, user=user, issuer=ISS, now=5, lifetime_s=10, session_id="s")
    assert (idt["typ"], idt["aud"], idt["agency"]) == ("ID", "basira-cli", "traffic")
    rt = refresh_token_claims(client=client, user=user, issuer=ISS, now=5, lifetime_s=10, session_id="s",
                              scope="openid")
    assert (rt["typ"], rt["aud"], rt["azp"]) == ("Refresh", ISS, "basira-cli")
    info = userinfo_claims(client, user)
    assert info["sub"] == user.id and info["agency"] == "traffic" and info["clearance"] == 1


def test_granted_scope() -> None:
    assert granted_scope("openid") == "openid profile email"
    assert granted_scope("") == "profile email"
