"""A decision worker: the embedded engine in a child process of a service, fed over stdin/stdout.

Why a child: a regorus evaluation holds the GIL for its whole half millisecond (its engine may not
leave the thread that made it), so a thread pool frees nothing. A worker process evaluates on the
other core while the service's event loop carries on; the service talks to it over pipes
(basira.common.local_policy.WorkerEvaluator). Nothing leaves the machine, nor the service's
process tree: the worker exits when its parent closes its stdin.

One JSON object per line: `{"id": n, "load": {"modules": {...}, "data": {...}}}` ->
`{"id": n, "loaded": revision}`; `{"id": n, "input": {...}}` -> `{"id": n, "decision": {...}}`;
a failure -> `{"id": n, "error": ...}`.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any, BinaryIO

from basira.common.errors import BasiraError
from basira.policy.engine import CompiledPolicy, PolicySet


def answer(policy: CompiledPolicy | None, request: dict[str, Any]
           ) -> tuple[CompiledPolicy | None, dict[str, Any]]:
    """The new policy (after a load) and the reply to one request (carrying the request's id)."""
    reply: dict[str, Any] = {"id": request.get("id")}
    if "load" in request:
        try:
            load = request["load"]
            loaded = CompiledPolicy(PolicySet(modules=load["modules"], data=load["data"]))
        except BasiraError as error:
            return policy, {**reply, "error": error.message}
        return loaded, {**reply, "loaded": loaded.revision}
    if policy is None:
        reply["error"] = "no policy loaded"
        return policy, reply
    try:
        reply["decision"] = policy.decide(request.get("input") or {})
    except BasiraError as error:
        reply["error"] = error.message
    return policy, reply


def serve(lines: BinaryIO, out: BinaryIO) -> None:
    policy: CompiledPolicy | None = None
    for line in lines:
        try:
            request = json.loads(line)
        except ValueError as error:
            reply: dict[str, Any] = {"error": f"malformed request: {error}"}
        else:
            policy, reply = answer(policy, request)
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the service; it closes our stdin
    serve(sys.stdin.buffer, sys.stdout.buffer)
