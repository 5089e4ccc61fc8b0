"""A Regal-style check that keeps negations meaning the same on OPA and on regorus.

In OPA, an expression under `not` whose operand is undefined is itself undefined, so the body
stops and the `deny` never fires; regorus evaluates the same `not` to true (OPA issue 7558). Measured
on both engines: `not is_string(x.missing)`, `not v in x.missing`, `not x.missing in s`,
`not data.d[x.missing]`, `not x.missing < 1`, `not count(x.missing) > 0` and `not f(x.missing)`
differ; `not x.missing` and `not x.missing == 1` agree.

So under `not`, every argument of a call, both sides of `in`, both sides of an operator other
than `==`/`=`, and every bracket index must be *total*: a literal, a local variable, a comprehension,
a rule that is always defined (it has a default, or builds a set or object) or a composite of those.
Read a possibly-missing field with `object.get(x, "k", null)` (itself total when its arguments
are), or into a local or a rule with a default first, then negate. A rule named alone as an earlier
statement of the same body counts as defined after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from basira.policy.rules import _head_name

LITERALS = frozenset({"Null", "True", "False", "Number", "String", "RawString"})
COMPREHENSIONS = frozenset({"ArrayCompr", "SetCompr", "ObjectCompr"})
ALWAYS_DEFINED_NAMES = frozenset({"data"})
# Builtins defined whenever their arguments are (the reading this check recommends).
TOTAL_CALLS = frozenset({"object.get"})


@dataclass(frozen=True)
class Finding:
    """One negated expression whose meaning differs between OPA and regorus."""

    module: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}:{self.col}: {self.message}"


def _kind(node: Any) -> tuple[str, dict[str, Any]]:
    kind, body = next(iter(node.items()))
    return kind, body if isinstance(body, dict) else {}


def _where(body: dict[str, Any]) -> tuple[int, int]:
    span = body.get("span") or {}
    return int(span.get("line", 0)), int(span.get("col", 0))


def _text(source: str, body: dict[str, Any]) -> str:
    span = body.get("span") or {}
    encoded = source.encode("utf-8")
    return encoded[int(span.get("start", 0)):int(span.get("end", 0))].decode("utf-8", "replace")


@dataclass(frozen=True)
class _Package:
    """Rule names of one package: those always defined, and the rest (complete rules without default)."""

    total: frozenset[str]
    partial: frozenset[str]


def _package_rules(modules: list[dict[str, Any]]) -> dict[str, _Package]:
    total: dict[str, set[str]] = {}
    maybe: dict[str, set[str]] = {}
    for module in modules:
        ast = module["ast"]
        package = _head_name(ast["package"]["refr"])
        for rule in ast["rules"]:
            kind, body = _kind(rule)
            if kind == "Default":
                total.setdefault(package, set()).add(_head_name(body["refr"]).split(".")[0])
                continue
            head_kind, head = _kind(body["head"])
            name = _head_name(head["refr"]).split(".")[0]
            if head_kind == "Set" or (head_kind == "Compr" and "RefBrack" in head["refr"]):
                total.setdefault(package, set()).add(name)
            elif head_kind != "Func":
                maybe.setdefault(package, set()).add(name)
    return {
        package: _Package(frozenset(total.get(package, set())),
                          frozenset(maybe.get(package, set()) - total.get(package, set())))
        for package in set(total) | set(maybe)
    }


class _Checker:
    def __init__(self, module_id: str, source: str, rules: _Package) -> None:
        self.module_id, self.source, self.rules = module_id, source, rules
        self.findings: list[Finding] = []

    def is_total(self, name: str, asserted: frozenset[str]) -> bool:
        """Is the bare name `name` always defined here (a local, a total rule, or asserted above)?"""
        if name in ALWAYS_DEFINED_NAMES or name in self.rules.total or name in asserted:
            return True
        return name not in self.rules.partial and name != "input"

    def flag(self, where: dict[str, Any], operand: dict[str, Any], role: str) -> None:
        line, col = _where(where)
        self.findings.append(Finding(
            self.module_id, line, col,
            f"`{_text(self.source, where)}`: {role} `{_text(self.source, operand)}` may be "
            "undefined, and OPA then never takes the `not` (regorus does); read it with "
            "object.get(...) into a local or a rule with a default first"))

    def strict(self, where: dict[str, Any], operand: Any, role: str, asserted: frozenset[str]) -> None:
        """`operand`, at a position under `not` where undefined changes the meaning, must be total."""
        kind, body = _kind(operand)
        if kind in LITERALS or kind in COMPREHENSIONS:
            return
        if kind == "Var":
            if not self.is_total(str(body["value"]), asserted):
                self.flag(where, body, role)
        elif kind in ("Array", "Set"):
            for item in body.get("items", []):
                self.strict(where, item, role, asserted)
        elif kind == "Object":
            for key, value in _object_fields(body):
                self.strict(where, key, role, asserted)
                self.strict(where, value, role, asserted)
        elif kind == "Call" and _text(self.source, body["fcn"][next(iter(body["fcn"]))]) in TOTAL_CALLS:
            for param in body.get("params", []):
                self.strict(where, param, role, asserted)
        else:
            self.flag(where, body, role)

    def negated(self, where: dict[str, Any], node: Any, asserted: frozenset[str]) -> None:
        """Check an expression that sits under `not` (`where` is the whole negated literal)."""
        kind, body = _kind(node)
        if kind == "Call":
            for param in body.get("params", []):
                self.strict(where, param, "argument", asserted)
        elif kind == "Membership":
            for side in ("key", "value", "collection"):
                if body.get(side) is not None:
                    self.strict(where, body[side], "operand of `in`", asserted)
        elif (kind == "BoolExpr" and body.get("op") == "Eq") or kind == "AssignExpr":
            for side in ("lhs", "rhs"):
                operand_kind, operand = _kind(body[side])
                if operand_kind == "Call":
                    self.flag(where, operand, "call")
                else:
                    self.negated(where, body[side], asserted)
        elif kind in ("BoolExpr", "ArithExpr", "BinExpr"):
            for side in ("lhs", "rhs"):
                self.strict(where, body[side], f"operand of `{body.get('op', '?')}`", asserted)
        elif kind == "UnaryExpr":
            self.strict(where, body["expr"], "operand", asserted)
        elif kind == "RefBrack":
            self.strict(where, body["index"], "index", asserted)
            self.negated(where, body["refr"], asserted)
        elif kind == "RefDot":
            self.negated(where, body["refr"], asserted)

    def query(self, query: dict[str, Any], asserted: frozenset[str]) -> None:
        """Statements in order: a bare rule name stated positively is defined for those after it."""
        for statement in query.get("stmts", []):
            literal_kind, literal = _kind(statement["literal"])
            if literal_kind == "NotExpr":
                self.negated(literal, literal["expr"], asserted)
            self.walk(statement["literal"], asserted)
            if literal_kind == "Expr":
                expr_kind, expr = _kind(literal["expr"])
                if expr_kind == "Var":
                    asserted = asserted | {str(expr["value"])}

    def walk(self, node: Any, asserted: frozenset[str]) -> None:
        """Find every query below `node` (rule bodies, comprehensions, `every`, `else`)."""
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "query" and isinstance(value, dict) and "stmts" in value:
                    self.query(value, asserted)
                else:
                    self.walk(value, asserted)
        elif isinstance(node, list):
            for item in node:
                self.walk(item, asserted)


def _object_fields(body: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    for field in body.get("fields", []):
        if isinstance(field, list) and len(field) == 3:
            yield field[1], field[2]


def negation_findings(ast_json: str) -> list[Finding]:
    """Every negated expression, in every module of regorus's AST, that OPA would read differently."""
    modules = json.loads(ast_json)
    packages = _package_rules(modules)
    findings: list[Finding] = []
    for module in modules:
        package = _head_name(module["ast"]["package"]["refr"])
        checker = _Checker(module["source"]["file"], module["source"]["contents"], packages[package])
        checker.walk(module["ast"]["rules"], frozenset())
        findings.extend(checker.findings)
    return sorted(findings, key=lambda f: (f.module, f.line, f.col))
