"""No carry-over: an engine reused for many decisions answers each as a fresh engine would.

`CompiledPolicy` keeps one engine per thread and gives it a new input per decision (hobofan-regorus
0.2.5 leaked state between such evaluations: an engine that had just judged a court-ordered face
search lifted the masking of an operator's evidence view). Two checks, each against the decision of
an engine made for that input alone:
- every ordered pair (a, b) of the corpus on an engine that judged nothing before a;
- one long-lived engine (the production path, `CompiledPolicy.decide`) walking a sequence in which
  every ordered pair appears back to back (an Eulerian circuit of the complete graph with loops).
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from basira.policy.engine import DECISION_PATH, CompiledPolicy, load_policy_dir, query_for

from .corpus import POLICY_DIR, Input, carry_over_corpus


def every_ordered_pair(n: int) -> list[int]:
    """Node sequence walking each edge (i, j), i == j included, of the complete digraph once."""
    remaining = {node: list(range(n)) for node in range(n)}
    stack, walk = [0], []
    while stack:
        node = stack[-1]
        if remaining[node]:
            stack.append(remaining[node].pop())
        else:
            walk.append(stack.pop())
    return walk[::-1]


def decide_on(engine: Any, document: Input) -> Any:
    engine.set_input_json(json.dumps(document))
    results = json.loads(engine.eval_query_as_json(query_for(DECISION_PATH))).get("result") or []
    return results[0]["expressions"][0]["value"] if results else None


def fresh_decision(policy: CompiledPolicy, document: Input) -> Any:
    """The decision of an engine that has never evaluated anything else."""
    return decide_on(policy.new_engine(), document)


def describe(differing: dict[tuple[int, int], Any], fresh: list[Any], corpus: tuple[Input, ...]) -> str:
    unmasked = [(a, b) for (a, b), decision in differing.items()
                if fresh[b]["obligations"]["mask_faces"] and not decision["obligations"]["mask_faces"]]
    first = unmasked[0] if unmasked else next(iter(differing))
    before = corpus[first[0]].get("action") if first[0] is not None else None
    return (f"{len(differing)} second decisions differ from a fresh engine's, {len(unmasked)} of them "
            f"unmask faces a fresh engine masks; e.g. {corpus[first[1]].get('action')!r} right after "
            f"{before!r}")


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return CompiledPolicy(load_policy_dir(POLICY_DIR))


@pytest.fixture(scope="module")
def fresh(policy: CompiledPolicy) -> list[Any]:
    return [fresh_decision(policy, document) for document in carry_over_corpus()]


def test_walk_covers_every_ordered_pair_once() -> None:
    walk = every_ordered_pair(7)
    pairs = list(itertools.pairwise(walk))
    assert len(pairs) == 49 and set(pairs) == {(a, b) for a in range(7) for b in range(7)}


def test_every_ordered_pair_decides_as_a_fresh_engine(policy: CompiledPolicy, fresh: list[Any]) -> None:
    corpus = carry_over_corpus()
    assert len(corpus) >= 70
    assert any(not decision["obligations"]["mask_faces"] for decision in fresh)  # unmasking is in it
    prototype = policy.new_engine()
    differing: dict[tuple[int, int], Any] = {}
    for first in range(len(corpus)):
        for second in range(len(corpus)):
            engine = prototype.clone()
            decide_on(engine, corpus[first])
            decision = decide_on(engine, corpus[second])
            if decision != fresh[second]:
                differing[(first, second)] = decision
    assert not differing, describe(differing, fresh, corpus)


def test_long_lived_engine_decides_every_ordered_pair_as_a_fresh_one(policy: CompiledPolicy,
                                                                     fresh: list[Any]) -> None:
    corpus = carry_over_corpus()
    walk = every_ordered_pair(len(corpus))
    differing: dict[tuple[int, int], Any] = {}
    for previous, current in zip([None, *walk], walk, strict=False):
        decision = policy.decide(corpus[current])
        if decision != fresh[current]:
            differing[(previous, current)] = decision  # type: ignore[index]
    assert not differing, describe(differing, fresh, corpus)


def test_engines_of_several_threads_decide_as_fresh_ones(policy: CompiledPolicy, fresh: list[Any]) -> None:
    corpus = carry_over_corpus()
    order = [i for _ in range(3) for i in range(len(corpus))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        decisions = list(pool.map(lambda i: policy.decide(corpus[i]), order))
    assert [d == fresh[i] for d, i in zip(decisions, order, strict=True)] == [True] * len(order)
