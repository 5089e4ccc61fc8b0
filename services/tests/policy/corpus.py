"""The decision corpus: realistic policy inputs the parity and carry-over tests judge engines on.

- the policy's own `allowed_examples` (one allowed call per action, policy/basira/authz/authz_test.rego);
- the authorisation matrix's calls: every RPC of every contract by every dev user, turned into the
  policy input exactly as the gate builds it (services/tests/gate: scenarios.py, test_gate_matrix.py);
- denied variants of the examples (no authorization id, an expired order, a foreign agency, ...) and
  malformed inputs (wrong types, missing sections);
- `mutated_inputs()`: hypothesis-generated inputs around all of those.

Every input is normalised as the gate's clients do (`normalise_policy_input`: times to UTC RFC 3339).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import strategies as st

from basira.common.auth import Subject
from basira.common.errors import InvalidInput
from basira.common.gate import access_rule
from basira.common.policy_client import normalise_policy_input
from basira.common.policy_input import context_from_request, policy_input, resource_from_request
from basira.policy.engine import CompiledPolicy, load_policy_dir
from services.tests.gate.harness import SERVICE_RESOLVERS, all_methods, full_method
from services.tests.gate.scenarios import REQUESTS, Caller
from services.tests.gate.test_gate_matrix import ACTION_CLASSES, DEV_USERS

REPO = Path(__file__).resolve().parents[3]
POLICY_DIR = REPO / "policy"

Input = dict[str, Any]
T = TypeVar("T")


def _normalised(document: Input) -> Input:
    return normalise_policy_input(document)


@functools.cache
def allowed_examples() -> dict[str, Input]:
    """`data.basira.authz.allowed_examples` of the policy tests: action -> an allowed call."""
    policy = CompiledPolicy(load_policy_dir(POLICY_DIR, include_tests=True))
    result = policy.evaluate(("basira", "authz", "allowed_examples"), with_input=False)
    assert result.defined and isinstance(result.value, dict)
    return {action: _normalised(example) for action, example in sorted(result.value.items())}


def _set(document: Input, path: tuple[str, ...], value: Any) -> Input:
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return changed


def _drop(document: Input, path: tuple[str, ...]) -> Input:
    changed = copy.deepcopy(document)
    node: Any = changed
    for key in path[:-1]:
        node = node.get(key, {}) if isinstance(node, dict) else {}
    if isinstance(node, dict):
        node.pop(path[-1], None)
    return changed


def denied_variants() -> list[Input]:
    """Each allowed example made to fail one safeguard (the reasons the policy must find)."""
    out: list[Input] = []
    for example in allowed_examples().values():
        context = example.get("context", {})
        if "authorization" in context:
            out.append(_drop(example, ("context", "authorization", "id")))
            out.append(_set(example, ("context", "authorization", "expires"), "2026-02-01T00:00:00Z"))
            out.append(_drop(example, ("context", "authorization")))
        if "case_id" in context:
            out.append(_set(example, ("context", "case_id"), "case 42"))
        if "purpose" in context:
            out.append(_set(example, ("context", "purpose"), "curiosity"))
        out.append(_set(example, ("subject", "agency"), "traffic"))
        out.append(_drop(example, ("resource", "data_class")))
        out.append(_drop(example, ("resource", "zone")))
    return [_normalised(document) for document in out]


MALFORMED: tuple[Input, ...] = (
    {},
    {"subject": "amina", "action": 7, "resource": [], "context": "now"},
    {"subject": {"user": 42, "roles": "investigator", "clearance": "top"}, "action": "search.face",
     "resource": {"zone": 3, "cameras": "cam-medina-01", "data_class": ["biometric"]},
     "context": {"time": "2026-03-01T10:00:00Z", "authorization": {"id": 17, "scope": []}}},
    {"subject": {"user": "x", "agency": "police", "roles": ["operator"], "clearance": 2},
     "action": "evidence.view", "resource": {}, "context": {}},
)


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a (pure) resolver to completion, also when the caller is inside an event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _subject(user: Any) -> Subject:
    return Subject(user=user.name, agency=user.agency, roles=tuple(sorted(user.roles)),
                   clearance=user.clearance)


@functools.cache
def matrix_inputs() -> tuple[Input, ...]:
    """Every RPC x every dev user, as the gate's policy input (pure resource resolvers applied)."""
    inputs: list[Input] = []
    for method in all_methods():
        name = full_method(method)
        rule = access_rule(name)
        if rule is None or name not in REQUESTS:
            continue
        for user in DEV_USERS:
            subject = _subject(user)
            request = REQUESTS[name](Caller(user.name, user.agency), set(ACTION_CLASSES[rule.action]))
            first = request[0] if isinstance(request, list) else request
            resource = resource_from_request(first, rule.data_class)
            resolver = SERVICE_RESOLVERS.get(name)
            if resolver is not None:
                resource.update(run_coroutine(resolver(first, subject, resource)))
            context = context_from_request(first, source_ip="127.0.0.1")
            inputs.append(_normalised(policy_input(subject.to_policy(), rule.action, resource, context)))
    return tuple(inputs)


def _key(document: Input) -> str:
    return json.dumps(document, sort_keys=True)


def unique(documents: list[Input]) -> list[Input]:
    seen: dict[str, Input] = {}
    for document in documents:
        seen.setdefault(_key(document), document)
    return list(seen.values())


@functools.cache
def parity_corpus() -> tuple[Input, ...]:
    """Everything above, without repeats."""
    return tuple(unique([*allowed_examples().values(), *denied_variants(), *map(copy.deepcopy, MALFORMED),
                         *matrix_inputs()]))


@functools.cache
def carry_over_corpus() -> tuple[Input, ...]:
    """A smaller set for the all-ordered-pairs tests (about 80 inputs, 6,400 pairs): the examples,
    some denied variants, the malformed inputs, and matrix calls by users of four agencies."""
    examples = list(allowed_examples().values())
    denied = denied_variants()
    users = {"police-investigator", "police-operator", "traffic-analyst", "oversight-auditor"}
    matrix = [document for document in matrix_inputs() if document["subject"]["user"] in users]
    return tuple(unique([*examples, *denied[::12], *map(copy.deepcopy, MALFORMED), *matrix[::7]]))


# ---- inputs generated around the corpus --------------------------------------------------------

TIMES = ("2026-03-01T10:00:00Z", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z",
         "2026-03-20T00:00:00.000001Z", "2030-01-01T00:00:00Z", "2000-01-01T00:00:00Z")
SCALARS: tuple[Any, ...] = (None, True, False, 0, 1, 2, 3, -1, 2.5, "", "x", "medina", "police",
                            "biometric", "plate", "court", "investigator", "CASE-2026-0042")
SWAPPABLE = ("subject", "action", "resource", "context")


def _paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every object key path in `node` (list items are left whole)."""
    if not isinstance(node, dict):
        return []
    out = []
    for key, value in node.items():
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


def _values() -> st.SearchStrategy[Any]:
    scalars = st.sampled_from(SCALARS) | st.sampled_from(TIMES) | st.text(max_size=6)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.sampled_from(["id", "zones", "cameras", "x"]), inner,
                                          max_size=2), max_leaves=4)


@st.composite
def _mutation(draw: st.DrawFn, document: Input) -> Input:
    corpus = parity_corpus()
    paths = _paths(document)
    kind = draw(st.sampled_from(["drop", "set", "swap", "time", "borrow"]))
    if kind == "drop" and paths:
        return _drop(document, draw(st.sampled_from(paths)))
    if kind == "set" and paths:
        return _set(document, draw(st.sampled_from(paths)), draw(_values()))
    if kind == "swap":
        other = draw(st.sampled_from(corpus))
        section = draw(st.sampled_from(SWAPPABLE))
        return _set(document, (section,), copy.deepcopy(other.get(section)))
    if kind == "time":
        where = draw(st.sampled_from([("context", "time"), ("context", "authorization", "expires"),
                                      ("resource", "entry_expires"), ("resource", "time_to"),
                                      ("context", "urgent", "declared_at")]))
        return _set(document, where, draw(st.sampled_from(TIMES)))
    # borrow: a value from the same place in another input (a realistic but mismatched field)
    other = draw(st.sampled_from(corpus))
    shared = [path for path in _paths(other) if path[:-1] in {p for p in paths} | {()}]
    if not shared:
        return document
    path = draw(st.sampled_from(shared))
    node: Any = other
    for key in path:
        node = node[key]
    return _set(document, path, copy.deepcopy(node))


@st.composite
def mutated_inputs(draw: st.DrawFn) -> Input:
    """A corpus input with one to three mutations; only inputs the gate's clients would send
    (times that normalise) are kept."""
    document = copy.deepcopy(draw(st.sampled_from(parity_corpus())))
    for _ in range(draw(st.integers(1, 3))):
        document = draw(_mutation(document))
    try:
        return _normalised(document)
    except (InvalidInput, AttributeError, TypeError):
        # a time that is not RFC 3339 (or a section that is not an object where a time sits): the
        # client refuses it before any engine sees it
        from hypothesis import reject

        reject()
        raise AssertionError("unreachable") from None
