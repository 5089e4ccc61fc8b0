"""Run every Rego test of a policy directory on the real engine and report rule coverage.

`python -m basira.policy.testing policy/` (what `make policy-test` runs) discovers every rule named
`test_*` (not functions) in every package, evaluates each with the engine the service uses, prints
PASS/FAIL per test (with the test's `print` output when it fails, or always with `-v`), then a
coverage report from regorus's own line coverage, accumulated over all tests.

A rule definition (each body of a multi-body rule such as `deny contains msg if {...}` counts
separately) is *covered* when regorus reports at least one of its lines as evaluated and none as
never evaluated: every expression of it ran in some test, so for a `deny` body its message was
built at least once. Only rules outside `*_test.rego` modules need to be covered.

Then the OPA-safe negation check (`basira.policy.lint`): no `not` over a possibly-undefined operand,
which OPA and regorus read differently.

Exit status: 0 all tests pass, all rules are covered and no negation is flagged; 1 a test failed, a
rule is uncovered (the coverage gate is skipped when `--run` selects a subset) or a negation is
flagged; 2 the policy does not load.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basira.policy.engine import (
    CompiledPolicy,
    PolicyParseError,
    PolicySet,
    engine_error_text,
    is_test_module,
    load_policy_dir,
    query_for,
)
from basira.policy.lint import Finding, negation_findings
from basira.policy.rules import RuleDefinition, rule_definitions


@dataclass(frozen=True)
class TestOutcome:
    """The result of one test rule: passed, or why not (`undefined`, `false`, or the error)."""

    package: str
    name: str
    module: str
    passed: bool
    detail: str = ""
    prints: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"data.{self.package}.{self.name}"


@dataclass(frozen=True)
class RuleCoverage:
    rule: RuleDefinition
    missed_lines: tuple[int, ...]
    covered: bool


@dataclass(frozen=True)
class TestReport:
    outcomes: list[TestOutcome]
    coverage: list[RuleCoverage] = field(default_factory=list)
    coverage_gated: bool = True
    negations: list[Finding] = field(default_factory=list)

    @property
    def failures(self) -> list[TestOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]

    @property
    def uncovered(self) -> list[RuleCoverage]:
        return [entry for entry in self.coverage if not entry.covered]

    @property
    def ok(self) -> bool:
        gate = not self.uncovered if self.coverage_gated else True
        return bool(self.outcomes) and not self.failures and gate and not self.negations


def measure_coverage(report_json: str, rules: Iterable[RuleDefinition]) -> list[RuleCoverage]:
    """Judge each non-test rule against regorus's coverage report (see the module docstring)."""
    covered_lines: dict[str, set[int]] = {}
    missed_lines: dict[str, set[int]] = {}
    for entry in json.loads(report_json).get("files", []):
        covered_lines[entry["path"]] = set(entry.get("covered", []))
        missed_lines[entry["path"]] = set(entry.get("not_covered", []))
    results = []
    for rule in rules:
        if is_test_module(rule.module):
            continue
        span = set(range(rule.first_line, rule.last_line + 1))
        missed = span & missed_lines.get(rule.module, set())
        hit = span & covered_lines.get(rule.module, set())
        results.append(
            RuleCoverage(rule=rule, missed_lines=tuple(sorted(missed)), covered=bool(hit) and not missed)
        )
    return results


def run_policy_tests(directory: str | Path, run: str | None = None) -> TestReport:
    """Load `directory` with its tests, run the tests (those matching regex `run`), measure coverage.

    Raises PolicyParseError / InvalidInput when the directory does not load.
    """
    return run_policy_set_tests(load_policy_dir(directory, include_tests=True), run=run)


def run_policy_set_tests(policy_set: PolicySet, run: str | None = None) -> TestReport:
    """The same for a policy set holding its test modules (a revision proposed by an edit)."""
    policy = CompiledPolicy(policy_set)
    engine = policy.new_engine()
    engine.set_enable_coverage(True)
    engine.set_gather_prints(True)
    rules = rule_definitions(engine.get_ast_as_json())
    selected = re.compile(run) if run else None
    seen: set[tuple[str, str]] = set()
    outcomes: list[TestOutcome] = []
    for rule in rules:
        key = (rule.package, rule.name)
        if not rule.is_test or key in seen:
            continue
        seen.add(key)
        if selected and not selected.search(f"data.{rule.package}.{rule.name}"):
            continue
        outcomes.append(_run_one(engine, rule))
    coverage = measure_coverage(engine.get_coverage_report_as_json(), rules)
    return TestReport(outcomes=outcomes, coverage=coverage, coverage_gated=selected is None,
                      negations=negation_findings(engine.get_ast_as_json()))


def _run_one(engine: Any, rule: RuleDefinition) -> TestOutcome:
    started = time.perf_counter()
    detail = ""
    try:
        raw = engine.eval_query_as_json(query_for([*rule.package.split("."), rule.name]))
        results = json.loads(raw).get("result") or []
        if not results:
            detail = "undefined"
        elif results[0]["expressions"][0]["value"] is not True:
            detail = f"value {json.dumps(results[0]['expressions'][0]['value'])}"
    except BaseException as error:  # pyo3 panics derive from BaseException
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        detail = f"error: {engine_error_text(error)}"
    seconds = time.perf_counter() - started
    prints = tuple(engine.take_prints())
    return TestOutcome(rule.package, rule.name, rule.module, not detail, detail, prints, seconds)


def format_report(report: TestReport, verbose: bool = False) -> str:
    """The report as text: one line per test, failures' details, then coverage."""
    lines: list[str] = []
    module = None
    for outcome in sorted(report.outcomes, key=lambda o: (o.module, o.name)):
        if outcome.module != module:
            module = outcome.module
            lines.append(f"{module}:")
        status = "PASS" if outcome.passed else "FAIL"
        lines.append(f"  {outcome.label}: {status} ({outcome.seconds * 1000:.1f}ms)")
        if not outcome.passed:
            lines.append(f"    {outcome.detail}")
        if verbose or not outcome.passed:
            lines.extend(f"    | {text}" for text in outcome.prints)
    lines.append("-" * 80)
    passed = len(report.outcomes) - len(report.failures)
    lines.append(f"PASS: {passed}/{len(report.outcomes)}")
    if report.failures:
        lines.append(f"FAIL: {len(report.failures)}/{len(report.outcomes)}")
    lines.append("")
    lines.append("Coverage (a rule definition is covered when every line of it was evaluated):")
    per_module: dict[str, list[RuleCoverage]] = {}
    for entry in report.coverage:
        per_module.setdefault(entry.rule.module, []).append(entry)
    for module_id in sorted(per_module):
        entries = per_module[module_id]
        done = sum(entry.covered for entry in entries)
        lines.append(f"  {module_id}: {done}/{len(entries)} rules")
    total = len(report.coverage)
    done = total - len(report.uncovered)
    lines.append(f"  total: {done}/{total} rules ({100.0 * done / total if total else 0.0:.1f}%)")
    for entry in report.uncovered:
        missed = ", ".join(map(str, entry.missed_lines)) or "none evaluated"
        lines.append(f"  UNCOVERED {entry.rule.label} (lines never evaluated: {missed})")
    if not report.coverage_gated:
        lines.append("  (coverage not enforced: --run selected a subset of the tests)")
    lines.append("")
    lines.append(f"Negations OPA reads differently (basira.policy.lint): {len(report.negations)}")
    lines.extend(f"  {finding}" for finding in report.negations)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m basira.policy.testing", description=__doc__.splitlines()[0]
    )
    parser.add_argument("directory", nargs="?", default="policy", help="policy directory (default: policy)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every test's print output")
    parser.add_argument("--run", help="only run tests whose data.<package>.<name> matches this regex")
    args = parser.parse_args(argv)
    try:
        report = run_policy_tests(args.directory, run=args.run)
    except (PolicyParseError, FileNotFoundError, ValueError) as error:
        print(f"policy does not load: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        print(f"policy does not load: {error}", file=sys.stderr)
        return 2
    print(format_report(report, verbose=args.verbose))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
