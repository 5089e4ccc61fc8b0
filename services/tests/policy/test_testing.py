"""The Rego test runner: every policy test passes and every rule is covered; failures are caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from basira.policy.engine import parse_modules
from basira.policy.rules import rule_definitions
from basira.policy.testing import format_report, main, run_policy_tests


def test_every_rego_test_passes_and_every_rule_is_covered(policy_dir: Path) -> None:
    report = run_policy_tests(policy_dir)
    failures = [f"{outcome.label}: {outcome.detail} {outcome.prints}" for outcome in report.failures]
    assert failures == []
    uncovered = [entry.rule.label for entry in report.uncovered]
    assert uncovered == []
    assert len(report.outcomes) >= 70
    assert report.ok


def test_every_rego_module_has_a_test_module_beside_it(policy_dir: Path) -> None:
    for module in policy_dir.rglob("*.rego"):
        if not module.name.endswith("_test.rego"):
            assert module.with_name(module.stem + "_test.rego").exists(), module


def test_failing_test_fails_the_run(policy_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tests = policy_copy / "basira" / "authz" / "authz_test.rego"
    tests.write_text(
        tests.read_text() + '\ntest_allow_nobody if {\n\tprint("checking")\n\tallow with input as {}\n}\n'
    )
    report = run_policy_tests(policy_copy)
    assert [outcome.name for outcome in report.failures] == ["test_allow_nobody"]
    assert report.failures[0].detail == "undefined"
    assert main([str(policy_copy)]) == 1
    out = capsys.readouterr().out
    assert "data.basira.authz.test_allow_nobody: FAIL" in out
    assert "| basira/authz/authz_test.rego" in out and "checking" in out


def test_uncovered_rule_fails_the_run(policy_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = policy_copy / "basira" / "authz" / "scope.rego"
    module.write_text(
        module.read_text() + '\ndeny contains msg if {\n\tinput.never\n\tmsg := "never said"\n}\n'
    )
    report = run_policy_tests(policy_copy)
    assert report.failures == []
    [uncovered] = report.uncovered
    assert uncovered.rule.name == "deny"
    assert uncovered.rule.module == "basira/authz/scope.rego"
    assert uncovered.missed_lines  # the message line never ran
    assert not report.ok
    assert main([str(policy_copy)]) == 1
    assert "UNCOVERED basira/authz/scope.rego" in capsys.readouterr().out


def test_selected_subset_does_not_gate_coverage(policy_dir: Path) -> None:
    report = run_policy_tests(policy_dir, run="test_deny_unknown_action$")
    assert [outcome.name for outcome in report.outcomes] == ["test_deny_unknown_action"]
    assert report.uncovered and report.ok
    assert "coverage not enforced" in format_report(report)


def test_policy_that_does_not_load_exits_2(policy_copy: Path) -> None:
    (policy_copy / "broken.rego").write_text("package broken\n\nallow if {\n")
    assert main([str(policy_copy)]) == 2


def test_rule_definitions_from_the_ast() -> None:
    source = (
        "package p.q\n\nimport rego.v1\n\ndefault allow := false\n\nallow if {\n\tinput.a == 1\n}\n\n"
        'deny contains "x" if input.b\n\nobj[k] := 1 if some k in input.c\n\n'
        "f(x) := x + 1\n\ntest_it if f(1) == 2\n"
    )
    engine = parse_modules({"m.rego": source})
    rules = rule_definitions(engine.get_ast_as_json())
    summary = [(r.package, r.name, r.first_line, r.last_line, r.is_function, r.is_test) for r in rules]
    assert summary == [
        ("p.q", "allow", 5, 5, False, False),
        ("p.q", "allow", 7, 9, False, False),
        ("p.q", "deny", 11, 11, False, False),
        ("p.q", "obj", 13, 13, False, False),
        ("p.q", "f", 15, 15, True, False),
        ("p.q", "test_it", 17, 17, False, True),
    ]
