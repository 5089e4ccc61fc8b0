"""The policy service's HTTP edge: the part of OPA's REST API that opa-python-client speaks.

Routes: `GET /health`; `GET /v1/policies`, `GET|PUT|DELETE /v1/policies/{id}`; `GET|POST|PUT|PATCH|
DELETE /v1/data/{path}`; `POST /v1/query`; `GET /metrics` (Prometheus); `GET /bundles/basira.tar.gz`
(OPA's bundle service API: the current revision as a signed bundle, `ETag` / `If-None-Match` -> 304,
and long polling with `Prefer: wait=<seconds>`). Responses and errors have
OPA's shapes (`{"result": ...}`, `{"code": ..., "message": ..., "errors": [...]}`), so a real OPA
can replace this server without the clients noticing. `?provenance=true` adds OPA's provenance with
the policy revision under `bundles.basira.revision`; `?metrics=true` adds evaluation timings.

Writes pass the edit gate (basira.policy.edits) when the service has one: authenticated,
authorised as `policy.edit`, logged; every write is checked by the store (its Rego tests) first.

Evaluation runs on the event loop thread: a regorus engine may only be used on the thread that
made it, and a decision takes well under a millisecond or two. Scale out with more processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from basira.common.errors import (
    BasiraError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from basira.policy.edits import EditGate
from basira.policy.engine import (
    BUNDLE_NAME,
    PolicyEvalError,
    PolicyParseError,
    PolicySet,
    engine_error_text,
)
from basira.policy.store import PatchOp, PolicyStore

log = logging.getLogger("basira.policy")


class ServiceMetrics:
    """Prometheus figures of one server (own registry, so several servers can share a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queries = Counter(
            "basira_policy_queries", "Data API queries answered", ["outcome"], registry=self.registry
        )
        self.eval_seconds = Histogram(
            "basira_policy_eval_seconds",
            "Time to evaluate one query",
            buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25),
            registry=self.registry,
        )


class RevisionWatch:
    """Wakes long polls when the store publishes a revision."""

    def __init__(self, store: PolicyStore) -> None:
        self._changed = asyncio.Event()
        store.on_change(self._notify)

    def _notify(self, revision: str) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wake_all(self, app: web.Application) -> None:
        """On shutdown: answer every long poll now instead of holding the server open."""
        self._notify("")

    async def wait(self, seconds: float) -> None:
        """Return after the next published revision, or after `seconds`."""
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=seconds)


STORE_KEY = web.AppKey("store", PolicyStore)
METRICS_KEY = web.AppKey("metrics", ServiceMetrics)
EDITOR_KEY = web.AppKey("editor", EditGate)
WATCH_KEY = web.AppKey("watch", RevisionWatch)
BUNDLE_PATH = f"/bundles/{BUNDLE_NAME}.tar.gz"
BUNDLE_MEDIA_TYPE = "application/gzip"
LONG_POLL_MEDIA_TYPE = "application/vnd.openpolicyagent.bundles"
MAX_WAIT_S = 60.0


def error_response(
    status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status)


def parse_error_response(error: PolicyParseError) -> web.Response:
    """HTTP 400 in OPA's compile-error shape, the location naming the module, row and column."""
    return error_response(
        400,
        "invalid_parameter",
        "error(s) occurred while compiling module(s)",
        [
            {
                "code": "rego_parse_error",
                "message": error.detail,
                "location": {"file": error.file, "row": error.row, "col": error.col},
            }
        ],
    )


def flag(request: web.Request, name: str) -> bool:
    """OPA's boolean query parameters: present and empty, or `true` (any case)."""
    if name not in request.query:
        return False
    return request.query[name].lower() in ("", "true")


def data_path(request: web.Request) -> tuple[str, ...]:
    raw = request.match_info.get("path", "")
    return tuple(part for part in raw.split("/") if part)


def service_version() -> str:
    try:
        return importlib.metadata.version("basira")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def provenance(store: PolicyStore) -> dict[str, Any]:
    """OPA's provenance object; the policy revision sits where OPA puts a bundle's revision."""
    return {
        "version": f"basira-policy/{service_version()}",
        "build_commit": "",
        "build_timestamp": "",
        "build_hostname": socket.gethostname(),
        "revision": store.revision,
        "bundles": {BUNDLE_NAME: {"revision": store.revision}},
    }


def pretty_json(request: web.Request, body: dict[str, Any], status: int = 200) -> web.Response:
    indent = 2 if flag(request, "pretty") else None
    return web.Response(text=json.dumps(body, indent=indent), status=status, content_type="application/json")


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; raises InvalidInput naming the problem."""
    text = await request.text()
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"body contains malformed JSON: {error}") from None


# ---- handlers ----


async def health(request: web.Request) -> web.Response:
    return web.json_response({})


async def list_policies(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    asts = store.compiled.module_asts()
    result = [
        {"id": module_id, "raw": raw, "ast": asts.get(module_id, {})}
        for module_id, raw in sorted(store.modules.items())
    ]
    return pretty_json(request, {"result": result})


async def get_policy(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    module_id = request.match_info["id"]
    raw = store.get_policy(module_id)
    ast = store.compiled.module_asts().get(module_id, {})
    return pretty_json(request, {"result": {"id": module_id, "raw": raw, "ast": ast}})


async def edit(request: web.Request, resource: dict[str, Any], propose: Callable[[], PolicySet]) -> None:
    """Admit (edit gate), build and check the proposed revision, log the act, then serve it."""
    store = request.app[STORE_KEY]
    editor = request.app.get(EDITOR_KEY)
    resource = {**resource, "revision_from": store.revision}
    admission = await editor.admit(request, resource) if editor else None
    try:
        proposed = propose()
        compiled = store.check(proposed)
    except BasiraError as error:
        if editor is not None and admission is not None:
            await editor.refused(admission, request, error.message)
        raise
    if editor is not None and admission is not None:
        await editor.accepted(admission, request, compiled.revision)
    previous = store.revision
    store.publish(proposed, compiled)
    log.info("policy edited (%s %s): revision %s -> %s", request.method, request.path, previous,
             store.revision)


async def put_policy(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    module_id = request.match_info["id"]
    text = await request.text()
    if not text.strip():
        raise InvalidInput("empty module")
    await edit(request, {"policy_module": module_id}, lambda: store.propose_policy(module_id, text))
    return web.json_response({})


async def delete_policy(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    module_id = request.match_info["id"]
    await edit(request, {"policy_module": module_id}, lambda: store.propose_policy_removal(module_id))
    return web.json_response({})


async def query_data(request: web.Request) -> web.Response:
    """GET / POST /v1/data/{path}: the value of `data.<path>` (with `input` for POST)."""
    store = request.app[STORE_KEY]
    metrics = request.app[METRICS_KEY]
    with_input = False
    policy_input: Any = None
    if request.method == "POST":
        body = await read_json(request)
        if body is not None and not isinstance(body, dict):
            raise InvalidInput("body must be a JSON object with an optional `input`")
        if body and "input" in body:
            with_input, policy_input = True, body["input"]
    started = time.perf_counter_ns()
    try:
        result = store.evaluate(data_path(request), policy_input, with_input=with_input)
    except PolicyEvalError:
        metrics.queries.labels("error").inc()
        raise
    elapsed = time.perf_counter_ns() - started
    metrics.eval_seconds.observe(elapsed / 1e9)
    metrics.queries.labels("defined" if result.defined else "undefined").inc()
    response: dict[str, Any] = {"decision_id": str(uuid.uuid4())}
    if result.defined:
        response["result"] = result.value
    if flag(request, "provenance"):
        response["provenance"] = provenance(store)
    if flag(request, "metrics"):
        response["metrics"] = {"timer_rego_query_eval_ns": elapsed}
    return pretty_json(request, response)


async def put_data(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    path = data_path(request)
    if request.headers.get("If-None-Match") == "*" and store.base_data_exists(path):
        return web.Response(status=304)
    value = await read_json(request)
    await edit(request, {"data_path": "/" + "/".join(path)}, lambda: store.propose_data(path, value))
    return web.Response(status=204)


async def patch_data(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    body = await read_json(request)
    if not isinstance(body, list):
        raise InvalidInput("body must be a JSON Patch array")
    path = data_path(request)
    operations = [PatchOp.parse(raw) for raw in body]
    await edit(request, {"data_path": "/" + "/".join(path)}, lambda: store.propose_patch(path, operations))
    return web.Response(status=204)


async def delete_data(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    path = data_path(request)
    await edit(request, {"data_path": "/" + "/".join(path)}, lambda: store.propose_data_removal(path))
    return web.Response(status=204)


def requested_wait(request: web.Request) -> float:
    """Seconds of `Prefer: wait=N` (OPA's long polling), capped; 0 without it."""
    for preference in request.headers.get("Prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                return max(0.0, min(float(value), MAX_WAIT_S))
            except ValueError:
                raise InvalidInput(f"Prefer: wait must be a number of seconds, not {value!r}") from None
    return 0.0


async def get_bundle(request: web.Request) -> web.StreamResponse:
    """The current signed bundle; 304 while the client's ETag is current (after waiting, if asked)."""
    store = request.app[STORE_KEY]
    wait = requested_wait(request)
    media_type = LONG_POLL_MEDIA_TYPE if wait else BUNDLE_MEDIA_TYPE
    known = request.headers.get("If-None-Match")
    if wait and known == store.bundle().etag:
        await request.app[WATCH_KEY].wait(wait)
    bundle = store.bundle()
    if known == bundle.etag:
        return web.Response(status=304, headers={"ETag": bundle.etag, "Content-Type": media_type})
    return web.Response(body=bundle.payload, headers={"ETag": bundle.etag, "Content-Type": media_type})


async def ad_hoc_query(request: web.Request) -> web.Response:
    """POST /v1/query {"query": "...", "input": ...}: OPA's ad-hoc query, answered as bindings."""
    store = request.app[STORE_KEY]
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise InvalidInput("body must be an object with a `query` string")
    engine = store.compiled.new_engine()
    if "input" in body:
        engine.set_input_json(json.dumps(body["input"]))
    try:
        raw = json.loads(engine.eval_query_as_json(body["query"]))
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        raise PolicyEvalError(engine_error_text(error)) from None
    rows = []
    for row in raw.get("result") or []:
        bindings = dict(row.get("bindings") or {})
        if not bindings:
            bindings = {str(i): expr["value"] for i, expr in enumerate(row.get("expressions", []))}
        rows.append(bindings)
    return pretty_json(request, {"result": rows})


async def metrics_page(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def opa_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Typed errors -> OPA's error JSON (400 / 404 / 500); nothing else leaks a stack trace."""
    try:
        return await handler(request)
    except PolicyParseError as error:
        return parse_error_response(error)
    except InvalidInput as error:
        return error_response(400, "invalid_parameter", error.message)
    except Unauthenticated as error:
        return error_response(401, "unauthorized", error.message)
    except PermissionDenied as error:
        return error_response(403, "unauthorized", error.message)
    except Unavailable as error:
        return error_response(503, "unavailable", error.message)
    except NotFound as error:
        return error_response(404, "resource_not_found", f"storage_not_found_error: {error.message}")
    except PolicyEvalError as error:
        log.warning("evaluation failed: %s", error.message)
        return error_response(500, "internal_error", error.message)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "unexpected server error")


def create_app(store: PolicyStore, editor: EditGate | None = None) -> web.Application:
    """The aiohttp application serving `store` (routes in the module docstring); writes pass
    `editor` when given (without one they are open, as on a bare OPA: tests and local tools)."""
    app = web.Application(middlewares=[opa_errors], client_max_size=8 * 1024 * 1024)
    app[STORE_KEY] = store
    app[METRICS_KEY] = ServiceMetrics()
    app[WATCH_KEY] = RevisionWatch(store)
    app.on_shutdown.append(app[WATCH_KEY].wake_all)
    if editor is not None:
        app[EDITOR_KEY] = editor
    app.router.add_get(BUNDLE_PATH, get_bundle)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/v1/policies", list_policies)
    app.router.add_get("/v1/policies/", list_policies)
    app.router.add_get("/v1/policies/{id:.+}", get_policy)
    app.router.add_put("/v1/policies/{id:.+}", put_policy)
    app.router.add_delete("/v1/policies/{id:.+}", delete_policy)
    for route in ("/v1/data", "/v1/data/", "/v1/data/{path:.+}"):
        app.router.add_get(route, query_data)
        app.router.add_post(route, query_data)
        app.router.add_put(route, put_data)
        app.router.add_patch(route, patch_data)
        app.router.add_delete(route, delete_data)
    app.router.add_post("/v1/query", ad_hoc_query)
    return app


async def start_server(store: PolicyStore, host: str, port: int, editor: EditGate | None = None,
                       ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """Serve `store` on host:port (0 picks a free port; HTTPS with an `ssl_context`); returns the
    runner and the bound port."""
    runner = web.AppRunner(create_app(store, editor), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
