"""The single-page app's files, and the security headers every console response carries.

The SPA is served from its build directory (`web/dist`): hashed `/assets/*` cached for a year,
`index.html` for every other path (client-side routes), all under a strict Content-Security-Policy
with no external origin. Without a build, `/` says which command builds it.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from basira.console.config import WEB_BUILD_COMMAND
from basira.console.context import console_of
from basira.console.problems import Problem

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
IMMUTABLE = "public, max-age=31536000, immutable"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer, errors included, carries the CSP and its companions."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k not in exc.headers})
        raise
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def _inside(root: Path, relative: str) -> Path | None:
    """`root/relative` if it is a file inside `root` (no `..` escape), else None."""
    try:
        candidate = (root / relative.lstrip("/")).resolve()
        base = root.resolve()
    except (OSError, ValueError):
        return None
    if candidate != base and base not in candidate.parents:
        return None
    return candidate if candidate.is_file() else None


async def spa(request: web.Request) -> web.StreamResponse:
    path = request.match_info.get("path", "")
    if path.startswith(("api/", "auth/")) or path in ("api", "auth"):
        raise Problem(404, "not-found", "Not found", f"no console endpoint {request.path}")
    root = console_of(request).settings.static_dir
    index = root / "index.html"
    if not index.is_file():
        return web.Response(status=503, content_type="text/plain", charset="utf-8", text=(
            "The Basira console's web app is not built yet.\n"
            f"Build it with: {WEB_BUILD_COMMAND}\nThen reload this page.\n"))
    found = _inside(root, path) if path else None
    if found is None or found == index.resolve():
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})
    content_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
    return web.FileResponse(found, headers={"Cache-Control": cache, "Content-Type": content_type})


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def routes() -> list[web.RouteDef]:
    return [web.get("/healthz", healthz), web.get("/{path:.*}", spa)]
