"""The policy service's state: modules and data as OPA's REST API edits them, one compiled revision at a time.

Every write builds the next `PolicySet`, compiles it, and only then publishes it, so a module that
does not parse (or data that does not fit) leaves the served revision untouched. Edits live in
memory, as with an OPA server: the directory the service started from is not rewritten.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from basira.common.errors import InvalidInput, NotFound
from basira.policy.engine import CompiledPolicy, Evaluation, PolicySet


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


class PolicyStore:
    """Modules and data behind the REST API, and the compiled revision that serves them."""

    def __init__(self, policy_set: PolicySet) -> None:
        self._compiled = CompiledPolicy(policy_set)

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
    def data(self) -> Mapping[str, Any]:
        return self._compiled.policy_set.data

    def _publish(self, modules: Mapping[str, str], data: Mapping[str, Any]) -> None:
        self._compiled = CompiledPolicy(PolicySet(modules=dict(modules), data=dict(data)))

    def get_policy(self, module_id: str) -> str:
        """The module's text; raises NotFound."""
        try:
            return self.modules[module_id]
        except KeyError:
            raise NotFound(f"policy id {module_id!r} does not exist") from None

    def put_policy(self, module_id: str, text: str) -> None:
        """Create or replace a module; raises PolicyParseError (nothing changes) if it does not parse."""
        self._publish({**self.modules, module_id: text}, self.data)

    def delete_policy(self, module_id: str) -> None:
        """Remove a module; raises NotFound."""
        self.get_policy(module_id)
        self._publish({k: v for k, v in self.modules.items() if k != module_id}, self.data)

    def put_data(self, path: Sequence[str], value: Any) -> None:
        self._publish(self.modules, write_data(dict(self.data), path, value))

    def delete_data(self, path: Sequence[str]) -> None:
        """Remove the document at `path`; raises NotFound."""
        self._publish(self.modules, remove_data(dict(self.data), path))

    def patch_data(self, path: Sequence[str], operations: Sequence[PatchOp]) -> None:
        self._publish(self.modules, apply_patch(dict(self.data), path, operations))

    def base_data_exists(self, path: Sequence[str]) -> bool:
        return read_data(self.data, path)[0]

    def evaluate(self, path: Sequence[str], policy_input: Any = None, with_input: bool = True) -> Evaluation:
        """`data.<path>` (rules and base data) under the current revision; raises PolicyEvalError."""
        return self._compiled.evaluate(path, policy_input, with_input=with_input)
