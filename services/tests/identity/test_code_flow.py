"""The dev issuer's browser sign-in: authorization code + PKCE (S256 only), login page, SSO, logout,
revocation, driven over real HTTP with a cookie-keeping client as a browser would."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from basira.identity import DEFAULT_REALM_FILE, IssuerApp
from basira.identity.server import start_issuer

from .conftest import client_secret

pytestmark = pytest.mark.integration

CONSOLE = "basira-console"
USER, PASSWORD = "police-operator", "police-operator-dev-password"
REDIRECT = "http://127.0.0.1:43117/auth/callback"  # any port: loopback redirect URIs (RFC 8252 §7.3)


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[IssuerApp]:
    app = await start_issuer(DEFAULT_REALM_FILE, tmp_path)
    yield app
    await app.stop()


@pytest.fixture
async def browser(issuer: IssuerApp) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[issuer.url])
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        yield session


def _auth_params(**overrides: str) -> dict[str, str]:
    params = {"client_id": CONSOLE, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid",
              "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge_method": "S256"}
    params.update(overrides)
    return params


async def _login_page(browser: aiohttp.ClientSession, issuer: IssuerApp, params: dict[str, str]
                      ) -> tuple[int, str, str, aiohttp.ClientResponse]:
    async with browser.get(f"{issuer.issuer}/protocol/openid-connect/auth", params=params,
                           allow_redirects=False) as r:
        html = await r.text()
        action = re.search(r'<form id="kc-form-login" method="post" action="([^"]+)"', html)
        return r.status, html, (action.group(1).replace("&amp;", "&") if action else ""), r


async def _sign_in(browser: aiohttp.ClientSession, issuer: IssuerApp, params: dict[str, str],
                   password: str = PASSWORD) -> dict[str, list[str]]:
    """Show the login page, post the form, return the redirect's query (code, state, iss ...)."""
    status, _, action, _ = await _login_page(browser, issuer, params)
    assert status == 200 and action
    async with browser.post(action, data={"username": USER, "password": password},
                            allow_redirects=False) as r:
        assert r.status == 302, await r.text()
        location = r.headers["Location"]
    assert location.startswith(params["redirect_uri"])
    return parse_qs(urlsplit(location).query)


async def _exchange(browser: aiohttp.ClientSession, issuer: IssuerApp, code: str, verifier: str | None,
                    redirect_uri: str = REDIRECT, secret: str | None = None) -> tuple[int, dict[str, Any]]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    auth = _basic(CONSOLE, secret if secret is not None else client_secret(CONSOLE))
    async with browser.post(f"{issuer.issuer}/protocol/openid-connect/token", data=form, headers=auth) as r:
        return r.status, await r.json()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_code_flow_with_pkce_gives_the_users_tokens(issuer: IssuerApp,
                                                          browser: aiohttp.ClientSession) -> None:
    verifier = secrets.token_urlsafe(48)
    params = _auth_params(code_challenge=_s256(verifier))
    status, html, action, response = await _login_page(browser, issuer, params)
    assert status == 200 and '<html lang="en" dir="ltr">' in html
    assert 'for="username"' in html and 'autocomplete="current-password"' in html
    csp = response.headers["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:43117" in csp and "default-src 'none'" in csp

    async with browser.post(action, data={"username": USER, "password": "wrong"},
                            allow_redirects=False) as r:
        page = await r.text()
        assert r.status == 200 and 'role="alert"' in page and "Invalid username or password." in page
        assert f'value="{USER}"' in page  # the username is kept, the password is not

    query = await _sign_in(browser, issuer, params)
    assert query["state"] == [params["state"]] and query["iss"] == [issuer.issuer]
    status, tokens = await _exchange(browser, issuer, query["code"][0], verifier)
    assert status == 200, tokens
    access, id_token = _claims(tokens["access_token"]), _claims(tokens["id_token"])
    assert access["preferred_username"] == USER and access["agency"] == "police"
    assert access["aud"] == "basira" and access["azp"] == CONSOLE
    assert "operator" in access["realm_access"]["roles"]
    assert id_token["nonce"] == params["nonce"] and id_token["aud"] == CONSOLE
    assert access["sid"] == id_token["sid"] == query["session_state"][0]

    # A code works once; using it again ends the session it started (a stolen code is worthless).
    status, error = await _exchange(browser, issuer, query["code"][0], verifier)
    assert status == 400 and error["error"] == "invalid_grant"
    async with browser.post(f"{issuer.issuer}/protocol/openid-connect/token",
                            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                            headers=_basic(CONSOLE, client_secret(CONSOLE))) as r:
        assert r.status == 400 and (await r.json())["error"] == "invalid_grant"


@pytest.mark.parametrize(("changes", "error"), [
    ({"code_challenge_method": "plain", "code_challenge": "a" * 43}, "invalid_request"),
    ({"code_challenge_method": ""}, "invalid_request"),  # the console must use PKCE
    ({"response_type": "token", "code_challenge": "a" * 43}, "unsupported_response_type"),
])
async def test_pkce_is_s256_only_and_refusals_go_back_to_the_client(
        issuer: IssuerApp, browser: aiohttp.ClientSession, changes: dict[str, str], error: str) -> None:
    params = _auth_params(**changes)
    async with browser.get(f"{issuer.issuer}/protocol/openid-connect/auth", params=params,
                           allow_redirects=False) as r:
        assert r.status == 302
        query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["error"] == [error] and query["state"] == [params["state"]]
    assert "code" not in query


@pytest.mark.parametrize(("verifier", "secret", "redirect", "error"), [
    ("wrong", None, REDIRECT, "invalid_grant"),
    ("none", None, REDIRECT, "invalid_grant"),
    ("right", "not-the-secret", REDIRECT, "unauthorized_client"),  # a confidential client
    ("right", None, "http://127.0.0.1:9/auth/callback", "invalid_grant"),  # not the request's URI
])
async def test_code_exchange_needs_the_right_verifier_secret_and_redirect(
        issuer: IssuerApp, browser: aiohttp.ClientSession, verifier: str, secret: str | None,
        redirect: str, error: str) -> None:
    right = secrets.token_urlsafe(48)
    query = await _sign_in(browser, issuer, _auth_params(code_challenge=_s256(right)))
    sent = {"wrong": secrets.token_urlsafe(48), "none": None, "right": right}[verifier]
    status, body = await _exchange(browser, issuer, query["code"][0], sent, redirect_uri=redirect,
                                   secret=secret)
    assert status in (400, 401) and body["error"] == error, body


async def test_bad_client_or_redirect_uri_is_an_error_page_never_a_redirect(
        issuer: IssuerApp, browser: aiohttp.ClientSession) -> None:
    for params in (_auth_params(redirect_uri="https://evil.example/auth/callback"),
                   _auth_params(redirect_uri="http://127.0.0.1:5000/other"),
                   _auth_params(client_id="nope"),
                   _auth_params(client_id="basira-cli")):  # no standard flow, no redirect URIs
        async with browser.get(f"{issuer.issuer}/protocol/openid-connect/auth", params=params,
                               allow_redirects=False) as r:
            assert r.status == 400 and "Location" not in r.headers
            assert 'role="status"' in await r.text()


async def test_login_form_only_works_in_the_browser_that_started_it(
        issuer: IssuerApp, browser: aiohttp.ClientSession) -> None:
    _, _, action, _ = await _login_page(browser, issuer, _auth_params(code_challenge=_s256("v" * 43)))
    async with aiohttp.ClientSession() as other, other.post(
            action, data={"username": USER, "password": PASSWORD}, allow_redirects=False) as r:
        assert r.status == 400 and "Location" not in r.headers


async def test_login_page_speaks_arabic_right_to_left_and_french(
        issuer: IssuerApp, browser: aiohttp.ClientSession) -> None:
    _, html, _, _ = await _login_page(browser, issuer, _auth_params(code_challenge=_s256("v" * 43),
                                                                    ui_locales="ar"))
    assert '<html lang="ar" dir="rtl">' in html and "كلمة المرور" in html
    assert 'lang="fr" hreflang="fr"' in html  # the language switcher
    _, html, _, _ = await _login_page(browser, issuer, _auth_params(code_challenge=_s256("v" * 43),
                                                                    kc_locale="fr"))
    assert '<html lang="fr" dir="ltr">' in html and "Mot de passe" in html
    async with browser.get(f"{issuer.url}/resources/basira/login.css") as r:
        css = await r.text()
        assert r.status == 200 and "inline-size" in css and "left" not in css and "right" not in css


async def test_sso_session_signs_in_again_without_the_form_until_logout(
        issuer: IssuerApp, browser: aiohttp.ClientSession) -> None:
    verifier = secrets.token_urlsafe(48)
    query = await _sign_in(browser, issuer, _auth_params(code_challenge=_s256(verifier)))
    _, tokens = await _exchange(browser, issuer, query["code"][0], verifier)
    again = _auth_params(code_challenge=_s256(verifier))
    async with browser.get(f"{issuer.issuer}/protocol/openid-connect/auth", params=again,
                           allow_redirects=False) as r:
        assert r.status == 302 and "code=" in r.headers["Location"]
    status, _, _, _ = await _login_page(browser, issuer, {**again, "prompt": "login"})
    assert status == 200

    # RP-initiated logout with the ID token: back to a registered URI, session ended.
    logout = f"{issuer.issuer}/protocol/openid-connect/logout"
    async with browser.get(logout, params={"id_token_hint": tokens["id_token"],
                                           "post_logout_redirect_uri": "http://evil.example/"},
                           allow_redirects=False) as r:
        assert r.status == 400
    async with browser.get(logout, params={"id_token_hint": tokens["id_token"], "state": "s1",
                                           "post_logout_redirect_uri": "http://127.0.0.1:43117/"},
                           allow_redirects=False) as r:
        assert r.status == 302 and r.headers["Location"] == "http://127.0.0.1:43117/?state=s1"
    async with browser.get(f"{issuer.issuer}/protocol/openid-connect/auth", params=_auth_params(
            code_challenge=_s256(verifier), prompt="none"), allow_redirects=False) as r:
        assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["login_required"]
    async with browser.post(f"{issuer.issuer}/protocol/openid-connect/token",
                            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                            headers=_basic(CONSOLE, client_secret(CONSOLE))) as r:
        assert r.status == 400


async def test_revocation_and_backchannel_logout(issuer: IssuerApp, browser: aiohttp.ClientSession) -> None:
    oc = f"{issuer.issuer}/protocol/openid-connect"
    auth = _basic(CONSOLE, client_secret(CONSOLE))

    async def fresh() -> dict[str, Any]:
        verifier = secrets.token_urlsafe(48)
        query = await _sign_in(browser, issuer, _auth_params(code_challenge=_s256(verifier),
                                                             prompt="login"))
        return (await _exchange(browser, issuer, query["code"][0], verifier))[1]

    tokens = await fresh()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with browser.get(f"{oc}/userinfo", headers=bearer) as r:
        assert r.status == 200
    async with browser.post(f"{oc}/revoke", data={"token": tokens["access_token"]},
                            headers=_basic("basira-admin", client_secret("basira-admin"))) as r:
        assert r.status == 400 and (await r.json())["error"] == "unauthorized_client"  # not its token
    async with browser.post(f"{oc}/revoke", data={"token": tokens["access_token"],
                                                  "token_type_hint": "access_token"}, headers=auth) as r:
        assert r.status == 200
    async with browser.get(f"{oc}/userinfo", headers=bearer) as r:
        assert r.status == 401
    async with browser.post(f"{oc}/revoke", data={"token": tokens["refresh_token"]}, headers=auth) as r:
        assert r.status == 200
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    async with browser.post(f"{oc}/token", data=refresh, headers=auth) as r:
        assert r.status == 400
    async with browser.post(f"{oc}/revoke", data={"token": "not-a-token"}, headers=auth) as r:
        assert r.status == 200  # RFC 7009: unknown tokens are not an error

    tokens = await fresh()
    async with browser.post(f"{oc}/logout", data={"refresh_token": tokens["refresh_token"]},
                            headers=auth) as r:
        assert r.status == 204
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    async with browser.post(f"{oc}/token", data=refresh, headers=auth) as r:
        assert r.status == 400


async def test_discovery_names_the_browser_endpoints(issuer: IssuerApp,
                                                     browser: aiohttp.ClientSession) -> None:
    async with browser.get(f"{issuer.issuer}/.well-known/openid-configuration") as r:
        wk = await r.json()
    oc = f"{issuer.issuer}/protocol/openid-connect"
    assert wk["authorization_endpoint"] == f"{oc}/auth" and wk["end_session_endpoint"] == f"{oc}/logout"
    assert wk["revocation_endpoint"] == f"{oc}/revoke"
    assert wk["code_challenge_methods_supported"] == ["S256"]
    assert "authorization_code" in wk["grant_types_supported"]
