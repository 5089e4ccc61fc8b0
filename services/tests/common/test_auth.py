"""TokenVerifier against the real dev issuer on loopback: what it accepts, what it refuses and why."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jwcrypto import jwk, jws, jwt
from keycloak import KeycloakOpenID

from basira.common.auth import Subject, TokenVerifier, check_claims, parse_header, subject_from_claims
from basira.common.errors import Unauthenticated, Unavailable
from basira.identity import DEFAULT_REALM_FILE, IssuerApp, start_issuer


def _secret(client_id: str) -> str:
    realm = json.loads(DEFAULT_REALM_FILE.read_text(encoding="utf-8"))
    return next(str(c["secret"]) for c in realm["clients"] if c["clientId"] == client_id)


@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[IssuerApp]:
    """The issuer on this test's event loop: a verifier that blocked the loop would hang the test."""
    app = await start_issuer(DEFAULT_REALM_FILE, tmp_path)
    yield app
    await app.stop()


def _verifier(app: IssuerApp, **kwargs: Any) -> TokenVerifier:
    return TokenVerifier(app.url, "basira", "basira", **kwargs)


async def _password_token(app: IssuerApp, user: str, client_id: str = "basira-cli") -> dict[str, Any]:
    openid = KeycloakOpenID(server_url=app.url, realm_name="basira", client_id=client_id)
    return await asyncio.to_thread(openid.token, user, f"{user}-dev-password")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    h, p, s = token.split(".")
    return (json.loads(base64.urlsafe_b64decode(h + "==")), json.loads(base64.urlsafe_b64decode(p + "==")), s)


def _claims_of(app: IssuerApp, user: str = "police-investigator") -> dict[str, Any]:
    return _segments(app.token_for(user))[1]


async def _rejected(verifier: TokenVerifier, token: Any, match: str) -> None:
    with pytest.raises(Unauthenticated, match=match):
        await verifier.verify(token)


# -- accepts -------------------------------------------------------------------------------------


async def test_good_password_token_gives_the_right_subject(issuer: IssuerApp) -> None:
    tokens = await _password_token(issuer, "police-investigator")
    subject = await _verifier(issuer).verify(tokens["access_token"])
    assert subject == Subject(user="police-investigator", agency="police", roles=("investigator",),
                              clearance=2)
    assert subject.to_policy() == {"user": "police-investigator", "agency": "police",
                                   "roles": ["investigator"], "clearance": 2}
    assert await _verifier(issuer).verify(f"Bearer {tokens['access_token']}") == subject


async def test_service_account_token_is_accepted(issuer: IssuerApp) -> None:
    openid = KeycloakOpenID(server_url=issuer.url, realm_name="basira", client_id="basira-services",
                            client_secret_key=_secret("basira-services"))
    tokens = await asyncio.to_thread(openid.token, grant_type="client_credentials")
    subject = await _verifier(issuer).verify(tokens["access_token"])
    assert subject == Subject("service-account-basira-services", "platform", ("service",), 0)


async def test_small_clock_skew_is_tolerated(issuer: IssuerApp) -> None:
    now = int(time.time())
    verifier = _verifier(issuer, leeway_s=30)
    assert await verifier.verify(issuer.token_for("police-operator", exp=now - 10, iat=now - 310))
    assert await verifier.verify(issuer.token_for("police-operator", nbf=now + 10, iat=now + 10))


def test_blocking_variant_for_synchronous_callers(tmp_path: Path) -> None:
    from basira.identity import issuer_in_thread

    with issuer_in_thread(DEFAULT_REALM_FILE, tmp_path) as app:
        subject = _verifier(app).verify_blocking(app.token_for("bodycam-01"))
        assert subject == Subject("bodycam-01", "police", ("device",), 0)


# -- refuses, each with a reason a person can act on -----------------------------------------------


@pytest.mark.parametrize("token", [None, "", "   ", "Bearer ", "bearer   "])
async def test_missing_or_empty_token(issuer: IssuerApp, token: Any) -> None:
    await _rejected(_verifier(issuer), token, "no bearer token")


@pytest.mark.parametrize("token", ["garbage", "a.b", "a.b.c", "!!!.???.###", "e30.e30.e30",
                                   _b64(b"[1]") + ".e30.sig", "a.b.c.d.e"])
async def test_garbage_token(issuer: IssuerApp, token: str) -> None:
    await _rejected(_verifier(issuer), token, "malformed token|alg None")


async def test_expired_token(issuer: IssuerApp) -> None:
    now = int(time.time())
    token = issuer.token_for("police-investigator", exp=now - 120, iat=now - 420)
    await _rejected(_verifier(issuer, leeway_s=30), token, r"token expired at \d{4}-\d\d-\d\dT")


async def test_token_without_expiry(issuer: IssuerApp) -> None:
    claims = _claims_of(issuer)
    del claims["exp"]
    await _rejected(_verifier(issuer), issuer.state.key.sign(claims), "no expiry")


async def test_not_yet_valid_token(issuer: IssuerApp) -> None:
    now = int(time.time())
    await _rejected(_verifier(issuer), issuer.token_for("police-investigator", nbf=now + 600),
                    "not valid before")
    await _rejected(_verifier(issuer), issuer.token_for("police-investigator", iat=now + 600),
                    "issued in the future")


async def test_wrong_issuer(issuer: IssuerApp) -> None:
    token = issuer.token_for("police-investigator", iss="http://evil.example/realms/basira")
    await _rejected(_verifier(issuer), token, "wrong issuer 'http://evil.example/realms/basira'")
    behind_proxy = TokenVerifier(issuer.url, "basira", "basira", issuer="https://id.example/realms/basira")
    await _rejected(behind_proxy, issuer.token_for("police-investigator"), "trusts 'https://id.example")


async def test_realm_the_issuer_does_not_serve_is_unavailable_not_a_pass(issuer: IssuerApp) -> None:
    with pytest.raises(Unavailable, match="404"):
        await TokenVerifier(issuer.url, "other", "basira").verify(issuer.token_for("police-investigator"))


async def test_wrong_audience(issuer: IssuerApp) -> None:
    # basira-admin tokens are for the admin API (aud realm-management), never for Basira services.
    openid = KeycloakOpenID(server_url=issuer.url, realm_name="basira", client_id="basira-admin",
                            client_secret_key=_secret("basira-admin"))
    admin_token = (await asyncio.to_thread(openid.token, grant_type="client_credentials"))["access_token"]
    await _rejected(_verifier(issuer), admin_token, r"wrong audience \['realm-management'\]")
    await _rejected(_verifier(issuer), issuer.token_for("police-operator", aud=["account"]),
                    "wrong audience")
    await _rejected(TokenVerifier(issuer.url, "basira", "search"), issuer.token_for("police-operator"),
                    "needs 'search'")


async def test_id_and_refresh_tokens_are_not_access_tokens(issuer: IssuerApp) -> None:
    tokens = await _password_token(issuer, "police-investigator")
    await _rejected(_verifier(issuer), tokens["id_token"], "not an access token")
    await _rejected(_verifier(issuer), tokens["refresh_token"], "not an access token")


async def test_tampered_payload(issuer: IssuerApp) -> None:
    header, claims, sig = _segments(issuer.token_for("traffic-analyst"))
    claims.update(agency="intelligence", clearance=5)
    forged = ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), sig])
    await _rejected(_verifier(issuer), forged, "signature does not verify")


async def test_unknown_key(issuer: IssuerApp) -> None:
    attacker = jwk.JWK.generate(kty="RSA", size=2048, kid="attacker-key")
    token = jwt.JWT(header={"alg": "RS256", "kid": "attacker-key", "typ": "JWT"}, claims=_claims_of(issuer))
    token.make_signed_token(attacker)
    await _rejected(_verifier(issuer), token.serialize(), "unknown signing key kid='attacker-key'")


async def test_other_key_claiming_the_issuers_kid(issuer: IssuerApp) -> None:
    attacker = jwk.JWK.generate(kty="RSA", size=2048)
    token = jwt.JWT(header={"alg": "RS256", "kid": issuer.kid}, claims=_claims_of(issuer))
    token.make_signed_token(attacker)
    await _rejected(_verifier(issuer), token.serialize(), "signature does not verify")


async def test_alg_none(issuer: IssuerApp) -> None:
    header = _b64(json.dumps({"alg": "none", "kid": issuer.kid, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims_of(issuer)).encode())
    await _rejected(_verifier(issuer), f"{header}.{payload}.", "alg 'none'")
    await _rejected(_verifier(issuer), f"{header}.{payload}.c2ln", "alg 'none'")


async def test_hs256_signed_with_the_public_key_as_secret(issuer: IssuerApp) -> None:
    pem = issuer.state.key.private.export_to_pem(private_key=False, password=None)
    secret = jwk.JWK(kty="oct", k=_b64(pem))
    for kid in (issuer.kid, "hmac"):
        signed = jws.JWS(json.dumps(_claims_of(issuer)).encode())
        signed.allowed_algs = ["HS256"]
        signed.add_signature(secret, alg="HS256", protected={"alg": "HS256", "kid": kid, "typ": "JWT"})
        await _rejected(_verifier(issuer), signed.serialize(compact=True), "alg 'HS256'")


async def test_user_without_agency_is_refused(issuer: IssuerApp) -> None:
    claims = _claims_of(issuer)
    del claims["agency"]
    await _rejected(_verifier(issuer), issuer.state.key.sign(claims), "no `agency` claim")


# -- JWKS caching, refresh and outages ---------------------------------------------------------------


async def test_jwks_is_fetched_once_and_cached(issuer: IssuerApp) -> None:
    verifier = _verifier(issuer)
    tokens = [issuer.token_for(u) for u in ("police-operator", "traffic-analyst", "oversight-auditor")]
    for _ in range(5):
        for token in tokens:
            await verifier.verify(token)
    await asyncio.gather(*(verifier.verify(t) for t in tokens * 10))
    assert issuer.hits["certs"] == 1 and verifier.fetches == 1


async def test_unknown_kids_cannot_hammer_the_issuer(issuer: IssuerApp) -> None:
    verifier = _verifier(issuer, unknown_kid_refresh_s=60)
    await verifier.verify(issuer.token_for("police-operator"))
    claims = _claims_of(issuer)
    for i in range(25):
        forged = jwk.JWK.generate(kty="EC", crv="P-256")
        token = jwt.JWT(header={"alg": "ES256", "kid": f"made-up-{i}"}, claims=claims)
        token.make_signed_token(forged)
        await _rejected(verifier, token.serialize(), "unknown signing key")
    assert issuer.hits["certs"] == 1


async def test_key_rotation_is_picked_up_on_an_unknown_kid(issuer: IssuerApp) -> None:
    verifier = _verifier(issuer, unknown_kid_refresh_s=0.5)
    old_token = issuer.token_for("police-operator")
    await verifier.verify(old_token)
    old_kid = issuer.kid
    new_kid = issuer.rotate_key()
    assert new_kid != old_kid
    new_token = issuer.token_for("police-operator2")
    assert _segments(new_token)[0]["kid"] == new_kid
    # Within the rate-limit window the new kid is refused without asking the issuer again ...
    await _rejected(verifier, new_token, "unknown signing key")
    assert issuer.hits["certs"] == 1
    # ... after it, one fetch learns the new key; tokens of the retired key stay valid.
    await asyncio.sleep(0.6)
    assert (await verifier.verify(new_token)).user == "police-operator2"
    assert (await verifier.verify(old_token)).user == "police-operator"
    assert issuer.hits["certs"] == 2


async def test_stale_jwks_is_refreshed_and_used_when_the_issuer_is_down(issuer: IssuerApp) -> None:
    verifier = _verifier(issuer, max_jwks_age_s=0.2, failure_backoff_s=0.0)
    token = issuer.token_for("police-admin")
    await verifier.verify(token)
    await asyncio.sleep(0.3)
    await verifier.verify(token)
    assert issuer.hits["certs"] == 2
    await issuer.stop()
    await asyncio.sleep(0.3)
    assert (await verifier.verify(token)).user == "police-admin"  # keeps the keys it had


async def test_a_withdrawn_key_stops_working_despite_cached_verifications(issuer: IssuerApp) -> None:
    verifier = _verifier(issuer, max_jwks_age_s=0.2)
    token = issuer.token_for("police-investigator")
    for _ in range(3):
        await verifier.verify(token)
    issuer.rotate_key()
    issuer.state.retired_keys.clear()  # the issuer withdraws the old key (e.g. it leaked)
    await asyncio.sleep(0.3)
    await _rejected(verifier, token, "unknown signing key")


async def test_a_cached_token_is_refused_once_it_expires(issuer: IssuerApp) -> None:
    now = [time.time()]
    verifier = _verifier(issuer, leeway_s=5, clock=lambda: now[0])
    token = issuer.token_for("police-operator", exp=int(now[0]) + 60)
    for _ in range(3):  # the first call verifies the signature, the next ones reuse its claims
        assert (await verifier.verify(token)).user == "police-operator"
    now[0] += 66  # past exp + leeway
    await _rejected(verifier, token, "expired")
    await _rejected(verifier, token, "expired")  # dropped from the cache, refused again in full


async def test_a_cached_token_is_refused_before_its_not_before(issuer: IssuerApp) -> None:
    now = [time.time()]
    verifier = _verifier(issuer, leeway_s=5, clock=lambda: now[0])
    token = issuer.token_for("police-operator", nbf=int(now[0]) - 1)
    assert (await verifier.verify(token)).user == "police-operator"
    now[0] -= 60  # a clock set back: the cached claims are checked again, at this instant
    await _rejected(verifier, token, "not valid before")


async def test_a_refused_token_is_not_remembered_as_verified(issuer: IssuerApp) -> None:
    verifier = _verifier(issuer)
    token = issuer.token_for("police-operator", aud="someone-else")
    for _ in range(2):
        await _rejected(verifier, token, "wrong audience")
    assert (await verifier.verify(issuer.token_for("police-operator"))).user == "police-operator"


def test_blocking_variant_shares_the_verified_cache_and_its_expiry(tmp_path: Path) -> None:
    async def run() -> None:
        app = await start_issuer(DEFAULT_REALM_FILE, tmp_path)
        try:
            token = app.token_for("traffic-analyst", exp=int(time.time()) + 30)
            now = [time.time()]  # after issuing: with no leeway, a clock behind `iat` refuses the token
            verifier = _verifier(app, leeway_s=0, clock=lambda: now[0])
            assert (await asyncio.to_thread(verifier.verify_blocking, token)).user == "traffic-analyst"
            assert (await verifier.verify(token)).user == "traffic-analyst"
            now[0] += 31
            with pytest.raises(Unauthenticated, match="expired"):
                await asyncio.to_thread(verifier.verify_blocking, token)
        finally:
            await app.stop()

    asyncio.run(run())


async def test_issuer_unreachable_when_keys_are_needed(issuer: IssuerApp) -> None:
    token = issuer.token_for("police-investigator")
    url = issuer.url
    await issuer.stop()
    verifier = TokenVerifier(url, "basira", "basira", timeout_s=2, failure_backoff_s=30)
    with pytest.raises(Unavailable, match="unreachable"):
        await verifier.verify(token)
    with pytest.raises(Unavailable, match="unreachable"):  # backoff: answered without a new attempt
        await verifier.verify(token)
    with pytest.raises(Unavailable):
        await verifier.prefetch()


async def test_prefetch_loads_keys_before_the_first_call(issuer: IssuerApp) -> None:
    verifier = _verifier(issuer)
    await verifier.prefetch()
    assert issuer.hits["certs"] == 1
    await verifier.verify(issuer.token_for("privacy-officer"))
    assert issuer.hits["certs"] == 1


async def test_es256_keys_are_accepted_and_must_match_the_alg(issuer: IssuerApp,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    ec = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec-1")
    jwks = {"keys": [{**ec.export_public(as_dict=True), "alg": "ES256", "use": "sig"},
                     *issuer.state.jwks()["keys"]]}
    verifier = _verifier(issuer)
    monkeypatch.setattr(verifier._openid, "certs", lambda: jwks)
    claims = _claims_of(issuer)
    token = jwt.JWT(header={"alg": "ES256", "kid": "ec-1"}, claims=claims)
    token.make_signed_token(ec)
    assert (await verifier.verify(token.serialize())).user == "police-investigator"
    # An RS256 header naming the EC key is refused before any signature maths.
    header = _b64(json.dumps({"alg": "RS256", "kid": "ec-1"}).encode())
    mixed = f"{header}.{_b64(json.dumps(claims).encode())}.c2ln"
    await _rejected(verifier, mixed, "does not match the issuer key")


# -- pure checks -------------------------------------------------------------------------------------


ISS = "http://id.example/realms/basira"


def _good(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {"iss": ISS, "aud": "basira", "typ": "Bearer", "exp": 1000, "iat": 700}
    claims.update(changes)
    return claims


def test_check_claims_boundaries() -> None:
    check_claims(_good(), issuer=ISS, audience="basira", now=1030, leeway_s=30)
    check_claims(_good(aud=["account", "basira"]), issuer=ISS, audience="basira", now=900, leeway_s=0)
    with pytest.raises(Unauthenticated, match="expired"):
        check_claims(_good(), issuer=ISS, audience="basira", now=1031, leeway_s=30)
    with pytest.raises(Unauthenticated, match="wrong audience"):
        check_claims(_good(aud=None), issuer=ISS, audience="basira", now=900, leeway_s=0)
    with pytest.raises(Unauthenticated, match="no expiry"):
        check_claims(_good(exp="1000"), issuer=ISS, audience="basira", now=900, leeway_s=0)
    with pytest.raises(Unauthenticated, match="no expiry"):
        check_claims(_good(exp=True), issuer=ISS, audience="basira", now=0, leeway_s=0)
    with pytest.raises(Unauthenticated, match="nbf"):
        check_claims(_good(nbf="soon"), issuer=ISS, audience="basira", now=900, leeway_s=0)


def test_subject_from_claims_rules() -> None:
    base = {"preferred_username": "ann", "agency": "police", "realm_access": {"roles": ["b", "a", "a"]},
            "clearance": "3"}
    assert subject_from_claims(base) == Subject("ann", "police", ("a", "b"), 3)
    assert subject_from_claims({**base, "agency": ["police"], "clearance": 1}).agency == "police"
    assert subject_from_claims({k: v for k, v in base.items() if k != "clearance"}).clearance == 0
    for bad, match in (({"preferred_username": ""}, "names no user"),
                       ({"agency": ["police", "traffic"]}, "agency"),
                       ({"clearance": "high"}, "not an integer"),
                       ({"clearance": True}, "not an integer"),
                       ({"clearance": -1}, "negative"),
                       ({"realm_access": {"roles": "investigator"}}, "not a list")):
        with pytest.raises(Unauthenticated, match=match):
            subject_from_claims({**base, **bad})


def test_parse_header_allows_only_rs256_and_es256_with_a_kid() -> None:
    def tok(header: dict[str, Any]) -> str:
        return f"{_b64(json.dumps(header).encode())}.e30.c2ln"

    assert parse_header(tok({"alg": "RS256", "kid": "k"}))["kid"] == "k"
    assert parse_header(tok({"alg": "ES256", "kid": "k"}))["alg"] == "ES256"
    for alg in ("none", "HS256", "HS512", "PS256", "RS512", None):
        with pytest.raises(Unauthenticated, match="alg"):
            parse_header(tok({"alg": alg, "kid": "k"}))
    with pytest.raises(Unauthenticated, match="kid"):
        parse_header(tok({"alg": "RS256"}))
