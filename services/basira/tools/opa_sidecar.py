"""An OPA sidecar for tests, made of OPA's own engine: pulls the signed bundle, answers the Data API.

`PYTHONPATH=tools/opa-golib python -m basira.tools.opa_sidecar --bundle-url URL --public-key PEM
--port N`. Like OPA's bundle plugin it downloads `basira.tar.gz`, refuses it unless its signature
verifies, loads modules and data into OPA (v1.20.2, the Go library of `make opa-tool`), keeps the
manifest's revision at `data.system.bundles.basira.manifest`, and answers `POST /v1/data/<path>`
with `{"result": ...}` (no `result` when undefined). It stands in for the `opa` binary, which no
registry here ships, to prove that a service pointed at a sidecar (`BASIRA_POLICY_SOURCE=rest`)
gets the decisions the in-process engine gives. Standard library HTTP: it serves one test.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from basira.common.tls import https_client_context
from basira.policy.bundle import ROOTS, load_public_key, read_bundle
from basira.policy.engine import BUNDLE_NAME
from basira.tools.opa_oracle import Oracle


def load_bundle(oracle: Oracle, bundle_url: str, public_key: Path) -> str:
    """Download, verify and load the bundle into OPA; returns its revision (raises BundleError)."""
    with urllib.request.urlopen(bundle_url, timeout=10, context=https_client_context()) as reply:
        policy_set = read_bundle(reply.read(), load_public_key(public_key))
    data = json.loads(json.dumps(dict(policy_set.data)))
    manifest = {"revision": policy_set.revision, "roots": ROOTS}
    data["system"] = {"bundles": {BUNDLE_NAME: {"manifest": manifest}}}
    oracle.load(dict(policy_set.modules), data)
    return policy_set.revision


def handler_for(oracle: Oracle) -> type[BaseHTTPRequestHandler]:
    class DataApi(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._reply(200, {}) if self.path == "/health" else self._reply(404, {"code": "not_found"})

        def do_POST(self) -> None:
            if not self.path.startswith("/v1/data/"):
                self._reply(404, {"code": "not_found"})
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            path = ".".join(part for part in self.path.split("?")[0][len("/v1/data/"):].split("/") if part)
            answer = oracle.evaluate(path, body.get("input"), "input" in body)
            if "error" in answer:
                self._reply(500, {"code": "internal_error", "message": answer["error"]})
            else:
                self._reply(200, {"result": answer["value"]} if answer["defined"] else {})

    return DataApi


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle-url", required=True)
    parser.add_argument("--public-key", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    oracle = Oracle()
    revision = load_bundle(oracle, args.bundle_url, args.public_key)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(oracle))
    print(json.dumps({"port": server.server_address[1], "revision": revision}), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
