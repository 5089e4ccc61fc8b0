"""A person at the web console, without a browser: real sign-in through the issuer's login form,
cookies kept like a browser keeps them, the console's HTTP API and its server-sent events.

For the console's API tests; the browser tests drive chromium instead.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from basira.common.tls import https_verification
from basira.runtime.supervisor import Platform

FORM_ACTION = re.compile(r'<form id="kc-form-login" method="post" action="([^"]+)"')


@dataclass
class SignIn:
    """What one sign-in went through: the redirect to the issuer and the callback URL."""

    authorization_url: str
    callback_url: str
    session_cookie_header: str


@dataclass
class ConsoleUser:
    """One browser profile: its own cookie jar, signed in as one person."""

    platform: Platform
    http: aiohttp.ClientSession = field(init=False)
    csrf_token: str = ""
    me: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Browsers treat http://127.0.0.1 as a secure context: Secure cookies work there.
        secure = [self.url, self.platform.endpoints["identity"]]
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=secure)
        self.http = aiohttp.ClientSession(cookie_jar=jar,  # the issuer is HTTPS with the platform's CA
                                          connector=aiohttp.TCPConnector(ssl=https_verification()))

    @property
    def url(self) -> str:
        return self.platform.endpoints["console"]

    async def close(self) -> None:
        await self.http.close()

    async def __aenter__(self) -> ConsoleUser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start_sign_in(self, return_to: str = "/") -> str:
        """GET /auth/login; returns the issuer URL it redirects to (not followed)."""
        async with self.http.get(f"{self.url}/auth/login", params={"return_to": return_to},
                                 allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            return r.headers["Location"]

    async def post_login_form(self, authorization_url: str, user: str, password: str) -> str:
        """Show the issuer's login page, post it; returns the callback URL the issuer redirects to.

        A browser still signed in at the issuer (SSO session) is sent back at once, without the form.
        """
        async with self.http.get(authorization_url, allow_redirects=False) as r:
            page = await r.text()
            if r.status == 302:
                return r.headers["Location"]
            assert r.status == 200, page
        action = FORM_ACTION.search(page)
        assert action, "no login form on the issuer's page"
        form = {"username": user, "password": password}
        async with self.http.post(html.unescape(action.group(1)), data=form, allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            return r.headers["Location"]

    async def sign_in(self, user: str, password: str | None = None) -> SignIn:
        """The whole sign-in, as a browser does it; then /api/me for the CSRF token."""
        authorization_url = await self.start_sign_in()
        callback = await self.post_login_form(authorization_url, user, password or f"{user}-dev-password")
        async with self.http.get(callback, allow_redirects=False) as r:
            body = await r.text()
            assert r.status == 200, body
            cookie_header = ";".join(r.headers.getall("Set-Cookie", []))
        status, me, _ = await self.call("GET", "/api/me")
        assert status == 200, me
        self.me, self.csrf_token = me, me["csrf_token"]
        return SignIn(authorization_url, callback, cookie_header)

    async def call(self, method: str, path: str, *, json_body: Any = None, data: Any = None,
                   headers: dict[str, str] | None = None, csrf: bool = True, origin: str | None = "same"
                   ) -> tuple[int, Any, Any]:
        """(status, parsed body — JSON when JSON, else bytes, headers) of one console call."""
        sent = dict(headers or {})
        if method not in ("GET", "HEAD"):
            if csrf and self.csrf_token:
                sent.setdefault("X-CSRF-Token", self.csrf_token)
            if origin == "same":
                sent.setdefault("Origin", self.url)
            elif origin is not None:
                sent.setdefault("Origin", origin)
        async with self.http.request(method, f"{self.url}{path}", json=json_body, data=data, headers=sent,
                                     allow_redirects=False) as r:
            raw = await r.read()
            kind = r.headers.get("Content-Type", "")
            body: Any = json.loads(raw) if "json" in kind and raw else raw
            return r.status, body, r.headers

    async def events(self, path: str, *,
                     last_event_id: str | None = None) -> AsyncGenerator[dict[str, Any], None]:
        """Server-sent events of `path` as {id, event, data} until the server closes the stream."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        async with self.http.get(f"{self.url}{path}", headers=headers,
                                 timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as r:
            assert r.status == 200, await r.text()
            assert r.headers["Content-Type"].startswith("text/event-stream")
            current: dict[str, Any] = {}
            async for raw in r.content:
                line = raw.decode("utf-8").rstrip("\n")
                if not line:
                    if "data" in current:
                        current["data"] = json.loads(current["data"])
                        yield current
                    current = {}
                elif line.startswith(":") or line.startswith("retry:"):
                    continue
                else:
                    key, _, value = line.partition(":")
                    current[key] = value[1:] if value.startswith(" ") else value


def callback_query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)
