"""Engine parity: the embedded regorus and a real OPA (v1.20.2) mean the same thing by `policy/`.

Every Rego test passes on both; every input of the decision corpus (the policy's allowed examples,
denied and malformed variants, the authorisation matrix's calls) and inputs generated around them get
the same decision document from both, revision and obligations included. Any difference fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from basira.policy.engine import (
    DECISION_PATH,
    CompiledPolicy,
    PolicyEvalError,
    PolicySet,
    load_policy_dir,
)
from basira.policy.rules import rule_definitions
from services.tests.support.opa import OpaReference

from .corpus import POLICY_DIR, Input, mutated_inputs, parity_corpus

DECISION = ".".join(DECISION_PATH)
GENERATED_EXAMPLES = int(os.environ.get("BASIRA_PARITY_EXAMPLES", "300"))


def load_into_opa(policy_set: PolicySet) -> OpaReference:
    """A real OPA holding the same modules and the same data document (bundle manifest included)."""
    opa = OpaReference()
    opa.load(dict(policy_set.modules), CompiledPolicy(policy_set).data_document())
    return opa


@pytest.fixture(scope="module")
def served() -> CompiledPolicy:
    return CompiledPolicy(load_policy_dir(POLICY_DIR))


@pytest.fixture(scope="module")
def opa(served: CompiledPolicy) -> Iterator[OpaReference]:
    reference = load_into_opa(served.policy_set)
    yield reference
    reference.close()


def embedded(policy: CompiledPolicy, document: Input) -> dict[str, Any]:
    """The embedded engine's answer in the oracle's shape."""
    try:
        result = policy.evaluate(DECISION_PATH, document)
    except PolicyEvalError as error:
        return {"error": error.message}
    return {"defined": True, "value": result.value} if result.defined else {"defined": False}


def same(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Equal answers; two errors count as the same answer (both refuse), their texts differ by engine."""
    if "error" in ours or "error" in theirs:
        return "error" in ours and "error" in theirs
    return ours == theirs


def test_the_reference_is_real_opa(opa: OpaReference) -> None:
    assert opa.version == "0.4.4"  # opa-golib-python-bindings 0.4.4 embeds OPA v1.20.2


def test_every_rego_test_passes_on_both_engines() -> None:
    everything = load_policy_dir(POLICY_DIR, include_tests=True)
    policy = CompiledPolicy(everything)
    names = sorted({(rule.package, rule.name) for rule in
                    rule_definitions(policy.new_engine().get_ast_as_json()) if rule.is_test})
    assert len(names) >= 80
    reference = load_into_opa(everything)
    try:
        failed = {}
        for package, name in names:
            path = f"{package}.{name}"
            ours = policy.evaluate((*package.split("."), name), with_input=False)
            theirs = reference.evaluate(path, with_input=False)
            if not (ours.defined and ours.value is True):
                failed[path] = f"regorus: {ours}"
            if theirs != {"defined": True, "value": True}:
                failed[path] = f"OPA: {theirs}"
    finally:
        reference.close()
    assert failed == {}


def test_corpus_decisions_are_identical(served: CompiledPolicy, opa: OpaReference) -> None:
    corpus = parity_corpus()
    assert len(corpus) > 500
    differences = []
    for document in corpus:
        ours, theirs = embedded(served, document), opa.evaluate(DECISION, document)
        if not same(ours, theirs):
            differences.append({"input": document, "regorus": ours, "opa": theirs})
    assert differences == [], f"{len(differences)} of {len(corpus)} decisions differ; first: {differences[0]}"
    allowed = sum(1 for document in corpus if embedded(served, document).get("value", {}).get("allow"))
    assert 0 < allowed < len(corpus)  # the corpus holds both answers


@settings(max_examples=GENERATED_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(document=mutated_inputs())
def test_generated_decisions_are_identical(served: CompiledPolicy, opa: OpaReference,
                                           document: Input) -> None:
    ours, theirs = embedded(served, document), opa.evaluate(DECISION, document)
    assert same(ours, theirs), f"regorus {ours} != OPA {theirs}"
