"""CSRF defence for every state-changing call: a per-session token and a same-origin check.

Two independent checks, both required for any method but GET/HEAD/OPTIONS: the `X-CSRF-Token`
header equals the session's token (a cross-site page cannot read it: /api/me is same-origin JSON),
and the request comes from the console's own origin (`Origin`, or `Sec-Fetch-Site: same-origin` from
browsers that omit Origin). The SameSite=Strict cookie is a third layer, not relied on alone.
"""

from __future__ import annotations

from collections.abc import Mapping

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_HEADER = "X-CSRF-Token"


def origin_problem(headers: Mapping[str, str], allowed_origin: str) -> str:
    """Why the request's origin is not the console's ('' when it is)."""
    origin = headers.get("Origin")
    if origin is not None:
        if origin.rstrip("/") == allowed_origin:
            return ""
        return f"the request comes from origin {origin!r}, not from the console ({allowed_origin})"
    site = headers.get("Sec-Fetch-Site")
    if site == "same-origin":
        return ""
    return "the request names no Origin (and Sec-Fetch-Site is not same-origin)"


def csrf_problem(method: str, headers: Mapping[str, str], *, allowed_origin: str,
                 token_matches: bool) -> str:
    """Why a request must be refused as a possible cross-site forgery ('' when it may go on).

    `token_matches` is whether the `X-CSRF-Token` header equals the session's token.
    """
    if method.upper() in SAFE_METHODS:
        return ""
    problem = origin_problem(headers, allowed_origin)
    if problem:
        return problem
    if not headers.get(TOKEN_HEADER):
        return f"the {TOKEN_HEADER} header is missing (take csrf_token from GET /api/me)"
    if not token_matches:
        return f"the {TOKEN_HEADER} header does not match this session's token"
    return ""
