"""Real OPA as a reference engine for the parity tests: JSON lines on stdin, answers on stdout.

OPA here is the Go library embedded in `opa-golib-python-bindings` (OPA v1.20.2, a plain ctypes
wrapper), installed by `make opa-tool` into its own directory, never into the product's
environment: run as `PYTHONPATH=tools/opa-golib python -m basira.tools.opa_oracle`. It runs in its
own process so the Go runtime never shares a process with gRPC or the embedded engine.

One JSON object per line in, one per line out:
- `{"load": {"modules": {id: text}, "data": {...}}}` -> `{"ok": true}` or `{"error": "..."}` (a
  module OPA refuses: parse, type, safety or recursion errors);
- `{"eval": "basira.authz.decision", "input": ...}` (`input` optional) -> `{"defined": true,
  "value": ...}`, `{"defined": false}` or `{"error": "..."}`;
- `{"version": true}` -> `{"version": "<opa-golib-python-bindings version>"}`.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from typing import Any, TextIO

BINDINGS = "opa-golib-python-bindings"


class Oracle:
    """One OPA engine holding the policy last loaded."""

    def __init__(self) -> None:
        from opa_bindings import OpaEngine  # only in the tool directory (see the module docstring)

        self._engine_class = OpaEngine
        self._engine: Any = None

    def load(self, modules: dict[str, str], data: dict[str, Any]) -> None:
        if self._engine is not None:
            self._engine.close()
        engine = self._engine_class()
        engine.print_handler = lambda message, location: None
        for module_id in sorted(modules):
            engine.add_policy(module_id, modules[module_id])
        engine.add_data(data)
        engine.eval_query("true")  # compile now, so a module OPA refuses fails the load
        self._engine = engine

    def evaluate(self, path: str, policy_input: Any, with_input: bool) -> dict[str, Any]:
        from opa_bindings import OpaUndefinedError

        if self._engine is None:
            return {"error": "no policy loaded"}
        try:
            value = self._engine.eval_document(path, policy_input if with_input else None)
        except OpaUndefinedError:
            return {"defined": False}
        return {"defined": True, "value": value}


def answer(oracle: Oracle, request: dict[str, Any]) -> dict[str, Any]:
    from opa_bindings import OpaError

    try:
        if "load" in request:
            oracle.load(request["load"]["modules"], request["load"]["data"])
            return {"ok": True}
        if "eval" in request:
            return oracle.evaluate(str(request["eval"]), request.get("input"), "input" in request)
        if "version" in request:
            return {"version": importlib.metadata.version(BINDINGS)}
        return {"error": f"unknown request {sorted(request)}"}
    except OpaError as error:
        return {"error": f"{error.code}: {error.message}"}


def serve(lines: TextIO, out: TextIO) -> None:
    oracle = Oracle()
    for line in lines:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as error:
            reply: dict[str, Any] = {"error": f"malformed request: {error}"}
        else:
            reply = answer(oracle, request)
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
