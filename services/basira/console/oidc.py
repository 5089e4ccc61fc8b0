"""The console as a confidential OIDC client: code + PKCE (S256), refresh, revocation, logout.

Talks to Keycloak (or the dev issuer) only through the endpoints its discovery document names, so the
same code runs against either. The browser only ever sees the authorization and end-session URLs;
code exchange, refresh, revocation and back-channel logout happen server to server with the client
secret. The ID token is verified here (signature against the issuer's JWKS, `iss`, `aud`, `azp`,
expiry, `nonce`); the access token is verified with the platform's own TokenVerifier, the same
check every service makes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException

from basira.common.auth import keys_from_jwks, parse_header
from basira.common.errors import Unauthenticated, Unavailable

log = logging.getLogger(__name__)

LEEWAY_S = 30.0


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge): 64 random bytes of verifier (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenRefused(Exception):
    """The issuer refused a grant (expired/revoked refresh token, bad code): sign in again."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str
    revocation_endpoint: str

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ProviderMetadata:
        try:
            return cls(issuer=str(doc["issuer"]), authorization_endpoint=str(doc["authorization_endpoint"]),
                       token_endpoint=str(doc["token_endpoint"]), jwks_uri=str(doc["jwks_uri"]),
                       end_session_endpoint=str(doc.get("end_session_endpoint") or ""),
                       revocation_endpoint=str(doc.get("revocation_endpoint") or ""))
        except KeyError as exc:
            raise Unavailable(f"the issuer's discovery document lacks {exc.args[0]}") from exc


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class OidcClient:
    """One confidential client of one realm; share one per console process."""

    def __init__(self, http: aiohttp.ClientSession, *, server_url: str, realm: str, client_id: str,
                 client_secret: str, public_url: str = "", timeout_s: float = 10.0) -> None:
        self.http = http
        self.server_url = server_url.rstrip("/")
        self.public_url = (public_url or server_url).rstrip("/")
        self.realm, self.client_id, self._secret = realm, client_id, client_secret
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._metadata: ProviderMetadata | None = None
        self._keys: dict[str, tuple[jwk.JWK, str | None]] = {}
        self._keys_at = 0.0

    # -- discovery ---------------------------------------------------------------------------------
    async def metadata(self) -> ProviderMetadata:
        if self._metadata is None:
            url = f"{self.server_url}/realms/{self.realm}/.well-known/openid-configuration"
            self._metadata = ProviderMetadata.from_document(await self._get_json(url, "discovery"))
        return self._metadata

    def _backchannel(self, url: str) -> str:
        """An endpoint URL as the console reaches it (the issuer may name its public host)."""
        if self.public_url != self.server_url and url.startswith(self.public_url):
            return self.server_url + url[len(self.public_url):]
        return url

    def _browser(self, url: str) -> str:
        """An endpoint URL as browsers reach it."""
        if self.public_url != self.server_url and url.startswith(self.server_url):
            return self.public_url + url[len(self.server_url):]
        return url

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self.http.get(url, timeout=self.timeout) as response:
                if response.status != 200:
                    raise Unavailable(f"identity issuer {what} at {url} answered HTTP {response.status}")
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise Unavailable(f"identity issuer unreachable ({what} at {url}): {exc!r}") from exc
        if not isinstance(body, dict):
            raise Unavailable(f"identity issuer {what} at {url} is not a JSON object")
        return body

    # -- the browser's side ------------------------------------------------------------------------
    async def authorization_url(self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str,
                                ui_locales: str = "") -> str:
        meta = await self.metadata()
        params = {"client_id": self.client_id, "response_type": "code", "scope": "openid",
                  "redirect_uri": redirect_uri, "state": state, "nonce": nonce,
                  "code_challenge": code_challenge, "code_challenge_method": "S256"}
        if ui_locales:
            params["ui_locales"] = ui_locales
        return f"{self._browser(meta.authorization_endpoint)}?{urlencode(params)}"

    async def end_session_url(self, *, id_token: str, post_logout_redirect_uri: str) -> str:
        meta = await self.metadata()
        if not meta.end_session_endpoint:
            return post_logout_redirect_uri
        params = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        return f"{self._browser(meta.end_session_endpoint)}?{urlencode(params)}"

    # -- server to server --------------------------------------------------------------------------
    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        data = {**form, "client_id": self.client_id, "client_secret": self._secret}
        try:
            async with self.http.post(self._backchannel(url), data=data, timeout=self.timeout) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"identity issuer unreachable at {url}: {exc!r}") from exc
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {"error": "invalid_response", "error_description": text[:200]}
        return status, body if isinstance(body, dict) else {}

    async def _grant(self, form: dict[str, str]) -> dict[str, Any]:
        meta = await self.metadata()
        status, body = await self._post(meta.token_endpoint, form)
        if status == 200 and body.get("access_token"):
            return body
        if status >= 500:
            raise Unavailable(f"identity issuer token endpoint failed (HTTP {status})")
        raise TokenRefused(f"{body.get('error', 'error')}: {body.get('error_description', '')}".strip())

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """The tokens for an authorization code; raises TokenRefused or Unavailable."""
        return await self._grant({"grant_type": "authorization_code", "code": code,
                                  "redirect_uri": redirect_uri, "code_verifier": code_verifier})

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        return await self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, token: str, hint: str) -> bool:
        """RFC 7009 revocation; False (logged) if the issuer has no endpoint or refused."""
        meta = await self.metadata()
        if not meta.revocation_endpoint or not token:
            return False
        status, body = await self._post(meta.revocation_endpoint, {"token": token, "token_type_hint": hint})
        if status != 200:
            log.warning("token revocation refused: %s", body.get("error", status))
        return status == 200

    async def logout(self, refresh_token: str) -> bool:
        """Keycloak's back-channel logout (end the SSO session with the refresh token)."""
        meta = await self.metadata()
        if not meta.end_session_endpoint or not refresh_token:
            return False
        status, body = await self._post(meta.end_session_endpoint, {"refresh_token": refresh_token})
        if status not in (200, 204):
            log.warning("back-channel logout refused: %s", body.get("error", status))
        return status in (200, 204)

    # -- the ID token ------------------------------------------------------------------------------
    async def _key(self, kid: str) -> tuple[jwk.JWK, str | None]:
        if kid not in self._keys and time.monotonic() - self._keys_at > 10.0:
            meta = await self.metadata()
            self._keys = keys_from_jwks(await self._get_json(self._backchannel(meta.jwks_uri), "JWKS"))
            self._keys_at = time.monotonic()
        if kid not in self._keys:
            raise Unauthenticated(f"ID token signed with unknown key {kid!r}")
        return self._keys[kid]

    async def verify_id_token(self, token: str, *, nonce: str, now: float | None = None) -> dict[str, Any]:
        """The ID token's claims after checking signature, issuer, audience, azp, expiry and nonce."""
        header = parse_header(token)
        key, key_alg = await self._key(header["kid"])
        if key_alg is not None and key_alg != header["alg"]:
            raise Unauthenticated("ID token alg does not match the issuer's key")
        try:
            parsed = jwt.JWT(jwt=token, key=key, algs=[header["alg"]], check_claims=False)
            claims = json.loads(parsed.claims)
        except (JWException, ValueError, TypeError) as exc:
            raise Unauthenticated("ID token signature does not verify") from exc
        meta = await self.metadata()
        moment = time.time() if now is None else now
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if claims.get("iss") != meta.issuer:
            raise Unauthenticated(f"ID token from issuer {claims.get('iss')!r}, expected {meta.issuer!r}")
        if self.client_id not in audiences or claims.get("azp", self.client_id) != self.client_id:
            raise Unauthenticated("ID token was issued to another client")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or moment > exp + LEEWAY_S:
            raise Unauthenticated("ID token expired")
        if not hmac.compare_digest(str(claims.get("nonce") or ""), nonce):
            raise Unauthenticated("ID token nonce does not match this sign-in (replayed response?)")
        return dict(claims)
