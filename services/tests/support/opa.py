"""Real OPA (v1.20.2, Go library) in a child process, to judge the embedded engine against.

The tool directory is filled by `make opa-tool` (opa-golib-python-bindings, outside the product's
environment); `basira.tools.opa_oracle` is the child's side of the conversation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
OPA_TOOL_DIR = Path(os.environ.get("BASIRA_OPA_TOOL_DIR", REPO / "tools" / "opa-golib"))


class OpaUnavailable(RuntimeError):
    """The OPA tool directory is missing: `make opa-tool` installs it."""


class OpaReference:
    """A real OPA holding one policy; `evaluate` answers like `CompiledPolicy.evaluate`'s JSON."""

    def __init__(self, tool_dir: Path = OPA_TOOL_DIR) -> None:
        if not (tool_dir / "opa_bindings").is_dir():
            raise OpaUnavailable(f"real OPA is not installed in {tool_dir}: run `make opa-tool`")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tool_dir), str(REPO / "services")])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "basira.tools.opa_oracle"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.version = str(self._ask({"version": True})["version"])

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the OPA process ended (exit {self._process.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def load(self, modules: dict[str, str], data: dict[str, Any]) -> None:
        """Load a policy; raises RuntimeError with OPA's compile errors if OPA refuses it."""
        reply = self._ask({"load": {"modules": modules, "data": data}})
        if "error" in reply:
            raise RuntimeError(f"OPA refuses the policy: {reply['error']}")

    def evaluate(self, path: str, policy_input: Any = None, *, with_input: bool = True) -> dict[str, Any]:
        """`{"defined": bool, "value": ...}` or `{"error": "..."}` for `data.<path>`."""
        request: dict[str, Any] = {"eval": path}
        if with_input:
            request["input"] = policy_input
        return self._ask(request)

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
