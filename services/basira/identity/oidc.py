"""Keycloak's OpenID Connect endpoints (well-known, token, certs, userinfo, realm info) over aiohttp.

Error bodies and status codes follow Keycloak's, so python-keycloak raises the same exceptions here
as against a real Keycloak (e.g. 401 `{"error": "invalid_grant", ...}` for a wrong password).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization

from basira.identity.realm import Client, PasswordCredential, User
from basira.identity.sessions import SignInError
from basira.identity.state import IssuerState, TokenRejected
from basira.identity.tokens import userinfo_claims

STATE: web.AppKey[IssuerState] = web.AppKey("identity_state", IssuerState)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
BAD_CLIENT = "Invalid client or Invalid client credentials"


class OAuthError(Exception):
    """An RFC 6749 error answer: HTTP status, `error` code and `error_description`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> web.Response:
        return web.json_response({"error": self.error, "error_description": self.description},
                                 status=self.status, headers=_NO_STORE)


def state_for(request: web.Request) -> IssuerState:
    """The issuer state, after checking the URL names our realm (404 like Keycloak otherwise)."""
    state = request.app[STATE]
    if request.match_info.get("realm") != state.realm.name:
        raise web.HTTPNotFound(text='{"error":"Realm does not exist"}', content_type="application/json")
    return state


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "UP", "checks": []})


async def well_known(request: web.Request) -> web.Response:
    state = state_for(request)
    iss = state.issuer
    oidc = f"{iss}/protocol/openid-connect"
    return web.json_response({
        "issuer": iss,
        "authorization_endpoint": f"{oidc}/auth",
        "token_endpoint": f"{oidc}/token",
        "jwks_uri": f"{oidc}/certs",
        "userinfo_endpoint": f"{oidc}/userinfo",
        "end_session_endpoint": f"{oidc}/logout",
        "revocation_endpoint": f"{oidc}/revoke",
        "grant_types_supported": ["authorization_code", "password", "client_credentials",
                                  "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "ui_locales_supported": ["en", "fr", "ar"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": ["aud", "sub", "iss", "auth_time", "name", "given_name", "family_name",
                             "preferred_username", "email", "acr", "agency", "clearance"],
    })


async def realm_info(request: web.Request) -> web.Response:
    """`/realms/{realm}`: the realm's public key (base64 DER), as python-keycloak's public_key() reads."""
    state = state_for(request)
    pem = state.key.private.export_to_pem(private_key=False, password=None)
    der = serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return web.json_response({
        "realm": state.realm.name,
        "public_key": base64.b64encode(der).decode(),
        "token-service": f"{state.issuer}/protocol/openid-connect",
        "account-service": f"{state.issuer}/account",
        "tokens-not-before": 0,
    })


async def certs(request: web.Request) -> web.Response:
    state = state_for(request)
    return web.json_response(state.jwks())


def _client_credentials(request: web.Request, form: Any) -> tuple[str, str | None]:
    """(client_id, secret) from HTTP Basic or the form (client_secret_basic / client_secret_post)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise OAuthError(401, "invalid_client", BAD_CLIENT) from e
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return str(form.get("client_id") or ""), (str(form["client_secret"]) if form.get("client_secret")
                                               else None)


def authenticate_client(state: IssuerState, client_id: str, secret: str | None) -> Client:
    client = state.realm.clients.get(client_id)
    if client is None or not client.enabled:
        raise OAuthError(401, "invalid_client", BAD_CLIENT)
    if not client.public and (secret is None or client.secret is None
                              or not _equal(secret, client.secret)):
        raise OAuthError(401, "unauthorized_client", BAD_CLIENT)
    return client


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


async def _password_grant(state: IssuerState, client: Client, form: Any) -> dict[str, Any]:
    if not client.direct_access_grants:
        raise OAuthError(400, "unauthorized_client", "Client not allowed for direct access grants")
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    if not username:
        raise OAuthError(401, "invalid_request", "Missing parameter: username")
    user = state.store.by_login(username)
    if user is None or user.service_account_client:
        # Same cost as a real check so that response time does not reveal which usernames exist.
        await asyncio.to_thread(_dummy_hash)
        raise OAuthError(401, "invalid_grant", "Invalid user credentials")
    if not await asyncio.to_thread(user.check_password, password):
        raise OAuthError(401, "invalid_grant", "Invalid user credentials")
    _check_usable(user)
    return state.token_response(client, user, str(form.get("scope") or ""), with_refresh=True)


def _dummy_hash() -> None:
    PasswordCredential.create("not-a-user")


def _check_usable(user: User) -> None:
    if not user.enabled:
        raise OAuthError(400, "invalid_grant", "Account disabled")
    if user.required_actions:
        raise OAuthError(400, "invalid_grant", "Account is not fully set up")


def _client_credentials_grant(state: IssuerState, client: Client, form: Any) -> dict[str, Any]:
    if client.public:
        raise OAuthError(401, "unauthorized_client",
                         "Public client not allowed to retrieve service account")
    if not client.service_accounts:
        raise OAuthError(401, "unauthorized_client", "Client not enabled to retrieve service account")
    user = state.store.service_account(client.client_id)
    if user is None or not user.enabled:
        raise OAuthError(400, "invalid_grant", "Service account user not found or disabled")
    return state.token_response(client, user, str(form.get("scope") or ""), with_refresh=False)


def _authorization_code_grant(state: IssuerState, client: Client, form: Any) -> dict[str, Any]:
    """Code + PKCE: the code is single-use, bound to this client, redirect URI and S256 challenge."""
    code = str(form.get("code") or "")
    if not code:
        raise OAuthError(400, "invalid_request", "Missing parameter: code")
    try:
        issued = state.signin.redeem(code, client.client_id, str(form.get("redirect_uri") or ""),
                                     str(form.get("code_verifier") or ""))
    except SignInError as e:
        raise OAuthError(400, e.error, e.description) from e
    user = state.store.get(issued.user_id)
    if user is None:
        raise OAuthError(400, "invalid_grant", "User not found")
    _check_usable(user)
    return state.token_response(client, user, issued.scope, with_refresh=True,
                                session_id=issued.session_id, nonce=issued.nonce,
                                auth_time=issued.auth_time)


def _refresh_grant(state: IssuerState, client: Client, form: Any) -> dict[str, Any]:
    token = str(form.get("refresh_token") or "")
    if not token:
        raise OAuthError(400, "invalid_request", "Missing parameter: refresh_token")
    try:
        claims = state.verify_own(token, "Refresh")
    except TokenRejected as e:
        raise OAuthError(400, "invalid_grant", f"Invalid refresh token: {e}") from e
    if claims.get("azp") != client.client_id:
        raise OAuthError(400, "invalid_grant",
                         "Invalid refresh token. Token client and authorized client don't match")
    user = state.store.get(str(claims.get("sub")))
    if user is None:
        raise OAuthError(400, "invalid_grant", "User not found")
    _check_usable(user)
    sid = str(claims.get("sid") or "")
    state.signin.touch(sid)
    return state.token_response(client, user, str(claims.get("scope") or ""), with_refresh=True,
                                session_id=sid or None)


async def token(request: web.Request) -> web.Response:
    state = state_for(request)
    form = await request.post()
    try:
        client = authenticate_client(state, *_client_credentials(request, form))
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "Missing form parameter: grant_type")
        if grant == "authorization_code":
            body = _authorization_code_grant(state, client, form)
        elif grant == "password":
            body = await _password_grant(state, client, form)
        elif grant == "client_credentials":
            body = _client_credentials_grant(state, client, form)
        elif grant == "refresh_token":
            body = _refresh_grant(state, client, form)
        else:
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
    except OAuthError as e:
        return e.response()
    return web.json_response(body, headers=_NO_STORE)


async def revoke(request: web.Request) -> web.Response:
    """RFC 7009 token revocation, as Keycloak does it: a refresh token ends its session (every token
    of it stops refreshing and userinfo refuses them); an access token is refused by userinfo. An
    unknown, expired or malformed token is answered 200 too (RFC 7009 §2.2)."""
    state = state_for(request)
    form = await request.post()
    try:
        client = authenticate_client(state, *_client_credentials(request, form))
        raw = str(form.get("token") or "")
        if not raw:
            raise OAuthError(400, "invalid_request", "Missing parameter: token")
        claims = None
        for typ in ("Refresh", "Bearer", "ID"):
            try:
                claims = state.verify_own(raw, typ, allow_expired=True, allow_ended=True)
                break
            except TokenRejected:
                continue
        if claims is not None:
            if claims.get("azp") != client.client_id:
                raise OAuthError(400, "unauthorized_client", "Unmatching clients")
            if claims.get("typ") == "Refresh" and claims.get("sid"):
                state.signin.end_session(str(claims["sid"]))
            else:
                state.signin.revoked_tokens.add(str(claims.get("jti")))
    except OAuthError as e:
        return e.response()
    return web.Response(status=200, headers=_NO_STORE)


async def backchannel_logout(request: web.Request, form: Any) -> web.Response:
    """POST logout with `refresh_token` and client credentials (Keycloak's legacy form): 204."""
    state = state_for(request)
    try:
        client = authenticate_client(state, *_client_credentials(request, form))
        try:
            claims = state.verify_own(str(form.get("refresh_token") or ""), "Refresh", allow_ended=True)
        except TokenRejected as e:
            raise OAuthError(400, "invalid_grant", f"Invalid refresh token: {e}") from e
        if claims.get("azp") != client.client_id:
            raise OAuthError(400, "invalid_grant", "Invalid refresh token: Unmatching clients")
    except OAuthError as e:
        return e.response()
    state.signin.end_session(str(claims.get("sid") or ""))
    return web.Response(status=204, headers=_NO_STORE)


def bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def userinfo(request: web.Request) -> web.Response:
    state = state_for(request)
    raw = bearer(request)
    if raw is None and request.method == "POST":
        raw = str((await request.post()).get("access_token") or "") or None
    failed = web.json_response(
        {"error": "invalid_token", "error_description": "Token verification failed"}, status=401,
        headers={"WWW-Authenticate": f'Bearer realm="{state.realm.name}", error="invalid_token"'})
    if raw is None:
        return failed
    try:
        claims = state.verify_own(raw, "Bearer")
    except TokenRejected:
        return failed
    user = state.store.get(str(claims.get("sub")))
    if user is None or not user.enabled:
        return failed
    return web.json_response(userinfo_claims(state.realm.clients.get(str(claims.get("azp"))), user))
