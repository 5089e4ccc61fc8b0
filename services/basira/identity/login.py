"""Keycloak's browser endpoints: authorization (code + PKCE S256) with its login page, and logout.

`GET /realms/{realm}/protocol/openid-connect/auth` checks the client and its redirect URI (a bad one
is an error page, never a redirect), then either issues a code at once (the browser still has a live
SSO session and `prompt` is not `login`) or shows the sign-in form. The form posts to
`/realms/{realm}/login-actions/authenticate?session_code=…`, only from the browser that started the
request (cookie `AUTH_SESSION_ID`, so a login form cannot be forged into another browser). Success
starts an SSO session (cookie `BASIRA_SSO`) and redirects with `code`, `state`, `session_state` and
`iss`. `…/logout` ends the session: with `id_token_hint` at once, without it after a confirmation.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from basira.identity import login_page
from basira.identity.oidc import backchannel_logout, state_for
from basira.identity.realm import Client, PasswordCredential
from basira.identity.sessions import AuthRequest, SignInError, SsoSession, check_challenge, redirect_allowed
from basira.identity.state import IssuerState, TokenRejected

AUTH_COOKIE = "AUTH_SESSION_ID"
SSO_COOKIE = "BASIRA_SSO"
STYLESHEET_PATH = "/resources/basira/login.css"
_LOGOUT_SECRET = secrets.token_bytes(32)  # per process: confirmation forms die with the issuer


def _cookie_path(state: IssuerState) -> str:
    return f"/realms/{state.realm.name}/"


def _secure(state: IssuerState) -> bool:
    """Secure cookies on https, and on loopback http (browsers treat it as a secure context)."""
    parts = urlsplit(state.base_url)
    return parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1")


def _set_cookie(state: IssuerState, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(name, value, path=_cookie_path(state), httponly=True, secure=_secure(state),
                        samesite="Lax")


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _page(html: str, *, status: int = 200, form_targets: tuple[str, ...] = ()) -> web.Response:
    """An HTML page with a strict CSP: own stylesheet only, forms (and their redirects) to `form_targets`."""
    form_action = " ".join(("'self'", *form_targets))
    csp = (f"default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; "
           "frame-ancestors 'none'; base-uri 'none'")
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers={
        "Content-Security-Policy": csp, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def _locale(request: web.Request, *choices: str | None) -> str:
    return login_page.negotiate(request.query.get("kc_locale"), *choices,
                                accept_language=request.headers.get("Accept-Language", ""))


def _error_page(request: web.Request, state: IssuerState, message: str, status: int = 400,
                locale: str | None = None) -> web.Response:
    locale = locale or _locale(request, request.query.get("ui_locales"))
    return _page(login_page.message_page(locale=locale, title_key="error_title", message=message,
                                         stylesheet_url=STYLESHEET_PATH), status=status)


def _redirect(uri: str, params: dict[str, str]) -> web.HTTPFound:
    separator = "&" if urlsplit(uri).query else "?"
    return web.HTTPFound(uri + separator + urlencode({k: v for k, v in params.items() if v}),
                         headers={"Cache-Control": "no-store"})


async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(text=login_page.STYLESHEET, content_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})


def _login_form(request: web.Request, state: IssuerState, pending: AuthRequest, *, username: str = "",
                error_key: str = "", locale: str | None = None) -> web.Response:
    locale = locale or _locale(request, *pending.locales)
    action = f"{state.issuer}/login-actions/authenticate?" + urlencode(
        {"session_code": pending.id, "client_id": pending.client_id, "kc_locale": locale})
    links = {code: f"{state.issuer}/login-actions/authenticate?" + urlencode(
        {"session_code": pending.id, "client_id": pending.client_id, "kc_locale": code})
        for code in login_page.LOCALES}
    html = login_page.login_page(locale=locale, realm=state.realm.display_name, action=action,
                                 stylesheet_url=STYLESHEET_PATH, username=username, error_key=error_key,
                                 language_links=links)
    response = _page(html, form_targets=(_origin(pending.redirect_uri),))
    _set_cookie(state, response, AUTH_COOKIE, pending.id)
    return response


def _code_redirect(state: IssuerState, pending: AuthRequest, session: SsoSession) -> web.HTTPFound:
    code = state.signin.issue_code(pending, session)
    found = _redirect(pending.redirect_uri, {"state": pending.state, "session_state": session.id,
                                             "iss": state.issuer, "code": code.code})
    _set_cookie(state, found, SSO_COOKIE, session.id)
    found.del_cookie(AUTH_COOKIE, path=_cookie_path(state))
    return found


async def authorize(request: web.Request) -> web.StreamResponse:
    """The authorization endpoint (GET; OIDC also allows a form POST with the same parameters)."""
    state = state_for(request)
    params = dict(request.query)
    if request.method == "POST":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    client = state.realm.clients.get(params.get("client_id", ""))
    if client is None or not client.enabled:
        return _error_page(request, state, "Client not found.")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri or not redirect_allowed(redirect_uri, client.redirect_uris):
        return _error_page(request, state, "Invalid parameter: redirect_uri")
    back = {"state": params.get("state", ""), "iss": state.issuer}
    try:
        _check_request(client, params)
    except SignInError as e:
        raise _redirect(redirect_uri, {"error": e.error, "error_description": e.description,
                                       **back}) from e
    locales = tuple(v for v in (params.get("kc_locale"), params.get("ui_locales")) if v)
    pending = state.signin.begin(client_id=client.client_id, redirect_uri=redirect_uri,
                                 state=params.get("state", ""), nonce=params.get("nonce", ""),
                                 scope=params.get("scope", "openid"),
                                 code_challenge=params.get("code_challenge", ""), locales=locales)
    prompt = params.get("prompt", "").split()
    session = state.signin.live_session(request.cookies.get(SSO_COOKIE, ""))
    if session is not None and "login" not in prompt:
        user = state.store.get(session.user_id)
        if user is not None and user.enabled:
            raise _code_redirect(state, pending, session)
    if "none" in prompt:
        raise _redirect(redirect_uri, {"error": "login_required",
                                       "error_description": "No active session", **back})
    return _login_form(request, state, pending, username=params.get("login_hint", ""))


def _check_request(client: Client, params: dict[str, str]) -> None:
    if params.get("response_type") != "code":
        raise SignInError("unsupported_response_type", "Only response_type=code is supported")
    if params.get("response_mode", "query") != "query":
        raise SignInError("invalid_request", "Invalid parameter: response_mode (only query)")
    if not client.standard_flow:
        raise SignInError("unauthorized_client", "Client is not allowed to initiate browser login with "
                                                 "given response_type. Standard flow is disabled for "
                                                 "the client.")
    check_challenge(params.get("code_challenge", ""), params.get("code_challenge_method", ""),
                    required=client.pkce_method == "S256")


def _pending_for(request: web.Request, state: IssuerState) -> AuthRequest | None:
    """The authorization request of `session_code`, only for the browser that started it."""
    code = request.query.get("session_code", "")
    pending = state.signin.pending(code)
    if pending is None or not hmac.compare_digest(request.cookies.get(AUTH_COOKIE, ""), code):
        return None
    return pending


async def login_form(request: web.Request) -> web.Response:
    """GET of the login action: show the form again (e.g. in another language)."""
    state = state_for(request)
    pending = _pending_for(request, state)
    if pending is None:
        return _error_page(request, state, login_page.text(_locale(request), "expired"))
    return _login_form(request, state, pending)


def _dummy_hash() -> None:
    PasswordCredential.create("not-a-user")


async def authenticate(request: web.Request) -> web.StreamResponse:
    """POST of the login form: check the password, then start the SSO session and redirect the code."""
    state = state_for(request)
    pending = _pending_for(request, state)
    locale = _locale(request)
    if pending is None:
        return _error_page(request, state, login_page.text(locale, "expired"), locale=locale)
    form = await request.post()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    user = state.store.by_login(username) if username else None
    if user is None or user.service_account_client:
        await asyncio.to_thread(_dummy_hash)  # the same cost whether or not the user exists
        return _login_form(request, state, pending, username=username, error_key="invalid_credentials",
                           locale=locale)
    if not await asyncio.to_thread(user.check_password, password):
        return _login_form(request, state, pending, username=username, error_key="invalid_credentials",
                           locale=locale)
    if not user.enabled:
        return _login_form(request, state, pending, username=username, error_key="account_disabled",
                           locale=locale)
    if user.required_actions:
        return _login_form(request, state, pending, username=username,
                           error_key="account_not_set_up", locale=locale)
    raise _code_redirect(state, pending, state.signin.start_session(user.id))


def _confirmation(session_id: str) -> str:
    return hmac.new(_LOGOUT_SECRET, session_id.encode(), hashlib.sha256).hexdigest()


async def logout(request: web.Request) -> web.StreamResponse:
    """End-session endpoint: RP-initiated logout (GET or form POST) and Keycloak's back-channel POST."""
    state = state_for(request)
    params = dict(request.query)
    if request.method == "POST":
        form = await request.post()
        if form.get("refresh_token"):
            return await backchannel_logout(request, form)
        params.update({k: str(v) for k, v in form.items()})
    locale = _locale(request, params.get("ui_locales"))
    hint = params.get("id_token_hint", "")
    client_id = params.get("client_id", "")
    sid = ""
    if hint:
        try:
            claims = state.verify_own(hint, "ID", allow_expired=True, allow_ended=True)
        except TokenRejected:
            return _error_page(request, state, "Invalid parameter: id_token_hint", locale=locale)
        if client_id and claims.get("aud") != client_id:
            return _error_page(request, state, "Parameter client_id different from the client in "
                                               "id_token_hint", locale=locale)
        client_id, sid = str(claims.get("aud") or ""), str(claims.get("sid") or "")
    target = params.get("post_logout_redirect_uri", "")
    if target:
        client = state.realm.clients.get(client_id)
        if client is None:
            return _error_page(request, state, "Either the parameter client_id or the parameter "
                                               "id_token_hint is required when post_logout_redirect_uri "
                                               "is used.", locale=locale)
        if not redirect_allowed(target, client.post_logout_redirect_uris):
            return _error_page(request, state, "Invalid redirect uri", locale=locale)
    cookie_sid = request.cookies.get(SSO_COOKIE, "")
    if not hint:
        confirmed = params.get("confirm", "")
        if not (request.method == "POST" and cookie_sid
                and hmac.compare_digest(confirmed, _confirmation(cookie_sid))):
            hidden = [(k, params[k]) for k in ("post_logout_redirect_uri", "client_id", "state",
                                               "ui_locales") if params.get(k)]
            hidden.append(("confirm", _confirmation(cookie_sid)))
            html = login_page.logout_confirm_page(
                locale=locale, realm=state.realm.display_name, stylesheet_url=STYLESHEET_PATH,
                action=f"{state.issuer}/protocol/openid-connect/logout", hidden=hidden)
            return _page(html, form_targets=(_origin(target),) if target else ())
        sid = cookie_sid
    if sid:
        state.signin.end_session(sid)
    response: web.StreamResponse
    if target:
        response = _redirect(target, {"state": params.get("state", "")})
    else:
        response = _page(login_page.message_page(
            locale=locale, title_key="sign_out_title", message=login_page.text(locale, "signed_out"),
            stylesheet_url=STYLESHEET_PATH))
    response.del_cookie(SSO_COOKIE, path=_cookie_path(state))
    if isinstance(response, web.HTTPFound):
        raise response
    return response


def routes(base: str) -> list[web.RouteDef]:
    oc = f"{base}/protocol/openid-connect"
    return [
        web.get(f"{oc}/auth", authorize, name="auth"),
        web.post(f"{oc}/auth", authorize, name="auth.post"),
        web.get(f"{base}/login-actions/authenticate", login_form, name="login.form"),
        web.post(f"{base}/login-actions/authenticate", authenticate, name="login"),
        web.get(f"{oc}/logout", logout, name="logout"),
        web.post(f"{oc}/logout", logout, name="logout.post"),
        web.get(STYLESHEET_PATH, stylesheet, name="login.css"),
    ]

