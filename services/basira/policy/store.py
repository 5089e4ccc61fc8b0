"""The policy service's state: modules and data as OPA's REST API edits them, one compiled revision at a time.

Every write builds the next `PolicySet`, compiles it (and runs its Rego tests when the store holds
them), and only then publishes it, so a module that does not parse, data that does not fit or an
edit that breaks a test leaves the served revision untouched. Edits live in memory, as with an OPA
server: the directory the service started from is not rewritten.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwcrypto import jwk

from basira.common.errors import InvalidInput, NotFound
from basira.policy.bundle import Bundle, build_bundle
from basira.policy.engine import CompiledPolicy, Evaluation, PolicySet, is_test_module, load_policy_dir
from basira.policy.testing import TestReport, run_policy_set_tests


@dataclass(frozen=True)
class PatchOp:
    """One JSON Patch (RFC 6902) operation OPA accepts on data: add, remove or replace."""

    op: str
    path: tuple[str, ...]
    value: Any = None

    @staticmethod
    def parse(raw: Any) -> PatchOp:
        """Validate one operation object; raises InvalidInput naming what is wrong."""
        if not isinstance(raw, dict):
            raise InvalidInput("a patch operation must be an object")
        op = raw.get("op")
        if op not in ("add", "remove", "replace"):
            raise InvalidInput(f"patch op must be add, remove or replace, not {op!r}")
        pointer = raw.get("path")
        if not isinstance(pointer, str) or not (pointer == "" or pointer.startswith("/")):
            raise InvalidInput(f"patch path must be a JSON pointer, not {pointer!r}")
        if op != "remove" and "value" not in raw:
            raise InvalidInput(f"patch op {op} needs a value")
        return PatchOp(op=op, path=pointer_segments(pointer), value=raw.get("value"))


def pointer_segments(pointer: str) -> tuple[str, ...]:
    """`/a/b~1c` -> ("a", "b/c") (RFC 6901 unescaping); "" and "/" are the root."""
    if pointer in ("", "/"):
        return ()
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer.lstrip("/").split("/"))


def _container(document: dict[str, Any], path: Sequence[str], create: bool) -> dict[str, Any]:
    node: Any = document
    for depth, key in enumerate(path):
        if not isinstance(node, dict):
            raise NotFound(f"/{'/'.join(path[:depth])}: document is not an object")
        if key not in node:
            if not create:
                raise NotFound(f"/{'/'.join(path[: depth + 1])}: document does not exist")
            node[key] = {}
        node = node[key]
    if not isinstance(node, dict):
        raise InvalidInput(f"/{'/'.join(path)}: document is not an object")
    return node


def write_data(document: dict[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of `document` with `value` at `path` (objects created on the way); root must be an object."""
    if not path:
        if not isinstance(value, dict):
            raise InvalidInput("the root data document must be an object")
        return copy.deepcopy(value)
    updated = copy.deepcopy(document)
    _container(updated, path[:-1], create=True)[path[-1]] = copy.deepcopy(value)
    return updated


def remove_data(document: dict[str, Any], path: Sequence[str]) -> dict[str, Any]:
    """A copy of `document` without `path`; raises NotFound if nothing is there."""
    if not path:
        return {}
    updated = copy.deepcopy(document)
    parent = _container(updated, path[:-1], create=False)
    if path[-1] not in parent:
        raise NotFound(f"/{'/'.join(path)}: document does not exist")
    del parent[path[-1]]
    return updated


def read_data(document: Mapping[str, Any], path: Sequence[str]) -> tuple[bool, Any]:
    node: Any = document
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def apply_patch(
    document: dict[str, Any], base: Sequence[str], operations: Sequence[PatchOp]
) -> dict[str, Any]:
    """Apply operations whose paths are relative to `base`; all or nothing."""
    updated = document
    for operation in operations:
        target = (*base, *operation.path)
        exists, _ = read_data(updated, target)
        if operation.op == "remove":
            updated = remove_data(updated, target)
        elif operation.op == "replace" and not exists:
            raise NotFound(f"/{'/'.join(target)}: document does not exist")
        else:
            updated = write_data(updated, target, operation.value)
    return updated


class PolicyTestsFailed(InvalidInput):
    """A proposed revision whose Rego tests fail (or that OPA would read differently): not served."""

    def __init__(self, report: TestReport) -> None:
        failed = [f"{o.label}: {o.detail}" for o in report.failures]
        failed += [f"negation OPA reads differently: {finding}" for finding in report.negations]
        super().__init__("the edited policy fails its Rego tests; nothing was changed: " + "; ".join(failed))
        self.failed = failed


def served_set(policy_set: PolicySet) -> PolicySet:
    """The part of a policy set that decides: its modules without the `*_test.rego` ones."""
    modules = {k: v for k, v in policy_set.modules.items() if not is_test_module(k)}
    return PolicySet(modules=modules, data=policy_set.data)


class PolicyStore:
    """Modules (and their tests) and data behind the REST API; the compiled revision that serves them.

    Every edit goes through `propose_*` (the next policy set, nothing changed yet), `check` (compiled,
    and when the store holds test modules, every Rego test passes and no negation reads differently
    on OPA; else PolicyParseError / PolicyTestsFailed) and `publish`. Listeners registered with
    `on_change` hear of each new revision (the bundle server wakes its long polls). With a signing
    key, `bundle()` is the current revision as a signed OPA bundle, built once per revision.
    """

    def __init__(self, policy_set: PolicySet, signing_key: jwk.JWK | None = None) -> None:
        self._all = policy_set
        self._compiled = CompiledPolicy(served_set(policy_set))
        self._signing_key = signing_key
        self._bundle: Bundle | None = None
        self._listeners: list[Callable[[str], None]] = []

    @classmethod
    def from_directory(cls, directory: str | Path, signing_key: jwk.JWK | None = None) -> PolicyStore:
        """The policy directory with its tests: every edit must keep them passing."""
        return cls(load_policy_dir(directory, include_tests=True), signing_key)

    @property
    def compiled(self) -> CompiledPolicy:
        return self._compiled

    @property
    def revision(self) -> str:
        return self._compiled.revision

    @property
    def modules(self) -> Mapping[str, str]:
        return self._compiled.policy_set.modules

    @property
    def test_modules(self) -> Mapping[str, str]:
        return {k: v for k, v in self._all.modules.items() if is_test_module(k)}

    @property
    def data(self) -> Mapping[str, Any]:
        return self._compiled.policy_set.data

    def on_change(self, listener: Callable[[str], None]) -> None:
        """Call `listener(revision)` after each published revision."""
        self._listeners.append(listener)

    def bundle(self) -> Bundle:
        """The current revision as a signed bundle; raises NotFound when the store has no signing key."""
        if self._signing_key is None:
            raise NotFound("this policy service serves no bundles (started without a signing key)")
        if self._bundle is None or self._bundle.revision != self.revision:
            self._bundle = build_bundle(self._compiled.policy_set, self._signing_key)
        return self._bundle

    # ---- proposing, checking and publishing a revision ----

    def propose_policy(self, module_id: str, text: str) -> PolicySet:
        return PolicySet(modules={**self._all.modules, module_id: text}, data=self._all.data)

    def propose_policy_removal(self, module_id: str) -> PolicySet:
        """Raises NotFound."""
        if module_id not in self._all.modules:
            raise NotFound(f"policy id {module_id!r} does not exist")
        modules = {k: v for k, v in self._all.modules.items() if k != module_id}
        return PolicySet(modules=modules, data=self._all.data)

    def propose_data(self, path: Sequence[str], value: Any) -> PolicySet:
        return PolicySet(modules=self._all.modules, data=write_data(dict(self.data), path, value))

    def propose_data_removal(self, path: Sequence[str]) -> PolicySet:
        """Raises NotFound."""
        return PolicySet(modules=self._all.modules, data=remove_data(dict(self.data), path))

    def propose_patch(self, path: Sequence[str], operations: Sequence[PatchOp]) -> PolicySet:
        return PolicySet(modules=self._all.modules, data=apply_patch(dict(self.data), path, operations))

    def check(self, proposed: PolicySet) -> CompiledPolicy:
        """Compile `proposed`; with test modules, run them (raises PolicyParseError, PolicyTestsFailed)."""
        compiled = CompiledPolicy(served_set(proposed))
        if any(is_test_module(module_id) for module_id in proposed.modules):
            report = run_policy_set_tests(proposed)
            if report.failures or report.negations:
                raise PolicyTestsFailed(report)
        return compiled

    def publish(self, proposed: PolicySet, compiled: CompiledPolicy) -> None:
        """Serve a checked revision and tell the listeners."""
        self._all, self._compiled = proposed, compiled
        for listener in self._listeners:
            listener(compiled.revision)

    def _apply(self, proposed: PolicySet) -> None:
        self.publish(proposed, self.check(proposed))

    # ---- the REST API's edits, checked and published at once ----

    def get_policy(self, module_id: str) -> str:
        """The module's text; raises NotFound."""
        try:
            return self._all.modules[module_id]
        except KeyError:
            raise NotFound(f"policy id {module_id!r} does not exist") from None

    def put_policy(self, module_id: str, text: str) -> None:
        """Create or replace a module; raises PolicyParseError / PolicyTestsFailed (nothing changes)."""
        self._apply(self.propose_policy(module_id, text))

    def delete_policy(self, module_id: str) -> None:
        """Remove a module; raises NotFound."""
        self._apply(self.propose_policy_removal(module_id))

    def put_data(self, path: Sequence[str], value: Any) -> None:
        self._apply(self.propose_data(path, value))

    def delete_data(self, path: Sequence[str]) -> None:
        """Remove the document at `path`; raises NotFound."""
        self._apply(self.propose_data_removal(path))

    def patch_data(self, path: Sequence[str], operations: Sequence[PatchOp]) -> None:
        self._apply(self.propose_patch(path, operations))

    def base_data_exists(self, path: Sequence[str]) -> bool:
        return read_data(self.data, path)[0]

    def evaluate(self, path: Sequence[str], policy_input: Any = None, with_input: bool = True) -> Evaluation:
        """`data.<path>` (rules and base data) under the current revision; raises PolicyEvalError."""
        return self._compiled.evaluate(path, policy_input, with_input=with_input)
