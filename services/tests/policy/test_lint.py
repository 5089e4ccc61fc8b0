"""The OPA-safe negation check: it flags the negations OPA and regorus read differently, only those.

Each probe below is a one-line rule body over an input `{"a": {}}`; the check's verdict on it is
compared with what both real engines answer, so the rule is grounded in measured behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from basira.policy.engine import CompiledPolicy, PolicySet, load_policy_dir, parse_modules
from basira.policy.lint import negation_findings
from basira.policy.testing import main
from services.tests.support.opa import OpaReference

# name -> (rule body, flagged by the check)
PROBES: dict[str, tuple[str, bool]] = {
    "builtin_over_missing_field": ("not is_string(input.missing)", True),
    "builtin_over_nested_missing": ("not is_string(input.a.id)", True),
    "index_by_missing_field": ("not data.d.x[input.missing]", True),
    "in_missing_collection": ('not "a" in input.missing', True),
    "missing_member_in": ('not input.missing in {"a"}', True),
    "function_over_missing_field": ("not f(input.missing)", True),
    "builtin_over_undefined_rule": ("not is_string(undefined_rule)", True),
    "not_equal_missing": ("not input.missing != 1", True),
    "less_than_missing": ("not input.missing < 1", True),
    "arithmetic_over_missing": ("not input.missing + 1 > 2", True),
    "count_of_missing": ("not count(input.missing) > 0", True),
    "function_result_in": ('not g(1) in {"a"}', True),
    "function_result_equal": ("not 1 == g(5)", True),
    "bare_missing_field": ("not input.missing", False),
    "nested_missing_field": ("not input.a.b", False),
    "missing_equal": ("not input.missing == 1", False),
    "undefined_rule_equal": ("not undefined_rule == 1", False),
    "object_get_over_missing_object": ('not is_string(object.get(input.missing, "id", null))', True),
    "object_get_of_missing": ('not is_string(object.get(defaulted_object, "id", null))', False),
    "local_variable": ("v := object.get(input, \"missing\", null); not is_string(v)", False),
    "defaulted_rule": ("not is_string(defaulted)", False),
    "partial_set_rule": ("not 1 in members", False),
    "rule_stated_before": ("undefined_rule; not is_string(undefined_rule)", False),
    "comprehension_collection": ("not 1 in [x | some x in input.missing]", False),
}

PRELUDE = """package t
import rego.v1
f(v) if v == 1
g(v) := 1 if v == 2
undefined_rule := 1 if input.nothing
default defaulted := "x"
defaulted := input.nothing
default defaulted_object := {}
defaulted_object := input.nothing
members contains 2
"""


def probe_module() -> str:
    return PRELUDE + "".join(f"{name} if {{ {body} }}\n" for name, (body, _) in PROBES.items())


def flagged_probes(module: str) -> set[str]:
    lines = {line_number: line for line_number, line in enumerate(module.splitlines(), start=1)}
    findings = negation_findings(parse_modules({"t.rego": module}).get_ast_as_json())
    return {lines[finding.line].split(" if ")[0] for finding in findings}


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[CompiledPolicy, OpaReference]]:
    policy_set = PolicySet(modules={"t.rego": probe_module()}, data={"d": {"x": {"y": 1}}})
    opa = OpaReference()
    opa.load(dict(policy_set.modules), dict(policy_set.data))
    yield CompiledPolicy(policy_set), opa
    opa.close()


def test_policy_has_no_negation_opa_reads_differently(policy_dir: Path) -> None:
    everything = load_policy_dir(policy_dir, include_tests=True)
    findings = negation_findings(parse_modules(everything.modules).get_ast_as_json())
    assert [str(finding) for finding in findings] == []


def test_check_flags_exactly_the_probes_it_should() -> None:
    assert flagged_probes(probe_module()) == {name for name, (_, flagged) in PROBES.items() if flagged}


def test_flagged_probes_are_exactly_where_the_engines_disagree(
        engines: tuple[CompiledPolicy, OpaReference]) -> None:
    policy, opa = engines
    disagree = set()
    for name in PROBES:
        ours = policy.evaluate(("t", name), {"a": {}}).defined
        theirs = opa.evaluate(f"t.{name}", {"a": {}}).get("defined")
        if ours != theirs:
            disagree.add(name)
    assert disagree == {name for name, (_, flagged) in PROBES.items() if flagged}


def test_old_policy_text_is_flagged(policy_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    legal = policy_copy / "basira" / "authz" / "legal.rego"
    fixed = '\tnot is_string(object.get(authorization, "id", null))'
    assert fixed in legal.read_text()
    legal.write_text(legal.read_text().replace(fixed, "\tnot is_string(authorization.id)"))
    everything = load_policy_dir(policy_copy, include_tests=True)
    findings = negation_findings(parse_modules(everything.modules).get_ast_as_json())
    assert [(f.module, "authorization.id" in f.message) for f in findings] == [
        ("basira/authz/legal.rego", True)]
    assert main([str(policy_copy)]) == 1
    assert "not is_string(authorization.id)" in capsys.readouterr().out


def test_findings_name_the_place_and_the_fix() -> None:
    module = PRELUDE + "r if { not is_string(input.a.id) }\n"
    [finding] = negation_findings(parse_modules({"t.rego": module}).get_ast_as_json())
    assert (finding.module, finding.line) == ("t.rego", module.count("\n"))
    assert "`input.a.id` may be undefined" in str(finding) and "object.get" in str(finding)
    assert json.dumps(str(finding))  # plain text
