"""Rule definitions out of regorus's AST: names, packages and the lines each definition spans."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TEST_PREFIX = "test_"


@dataclass(frozen=True)
class RuleDefinition:
    """One definition (one head + body) of a rule, and the lines it spans in its module."""

    package: str
    name: str
    module: str
    first_line: int
    last_line: int
    is_function: bool = False

    @property
    def is_test(self) -> bool:
        return self.name.startswith(TEST_PREFIX) and not self.is_function

    @property
    def label(self) -> str:
        return f"{self.module}:{self.first_line} data.{self.package}.{self.name}"


def _head_name(refr: dict[str, Any]) -> str:
    """The rule name in a head reference: `x`, `a.b` for dotted heads, `obj` for `obj[k]`."""
    if "Var" in refr:
        return str(refr["Var"]["value"])
    if "RefDot" in refr:
        inner = refr["RefDot"]
        return f"{_head_name(inner['refr'])}.{inner['field'][1]}"
    if "RefBrack" in refr:
        return _head_name(refr["RefBrack"]["refr"])
    raise ValueError(f"unexpected rule head {sorted(refr)}")


def _line_of(source: bytes, offset: int) -> int:
    return source[:offset].count(b"\n") + 1


def rule_definitions(ast_json: str) -> list[RuleDefinition]:
    """Every rule definition of every module, from regorus's AST (`Engine.get_ast_as_json`)."""
    definitions: list[RuleDefinition] = []
    for module in json.loads(ast_json):
        module_id = module["source"]["file"]
        source = module["source"]["contents"].encode("utf-8")
        ast = module["ast"]
        package = _head_name(ast["package"]["refr"])
        for rule in ast["rules"]:
            kind, body = next(iter(rule.items()))
            span = body["span"]
            is_function = False
            if kind == "Default":
                name = _head_name(body["refr"])
            else:
                head_kind, head = next(iter(body["head"].items()))
                name = _head_name(head["refr"])
                is_function = head_kind == "Func"
            definitions.append(
                RuleDefinition(
                    package=package,
                    name=name,
                    module=module_id,
                    first_line=int(span["line"]),
                    last_line=_line_of(source, int(span["end"])),
                    is_function=is_function,
                )
            )
    return definitions


def opa_module_asts(ast_json: str) -> dict[str, dict[str, Any]]:
    """Per module id, the slice of OPA's module AST clients read (package path, rule head names)."""
    packages = {
        module["source"]["file"]: _head_name(module["ast"]["package"]["refr"])
        for module in json.loads(ast_json)
    }
    names: dict[str, list[str]] = {module_id: [] for module_id in packages}
    for rule in rule_definitions(ast_json):
        names[rule.module].append(rule.name)
    asts = {}
    for module_id, package in packages.items():
        path: list[dict[str, str]] = [{"type": "var", "value": "data"}]
        path.extend({"type": "string", "value": part} for part in package.split("."))
        asts[module_id] = {
            "package": {"path": path},
            "rules": [{"head": {"name": name}} for name in names[module_id]],
        }
    return asts
