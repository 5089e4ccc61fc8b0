"""Stand-ins for the gate's verifier, policy and audit sink, and the per-call state its interceptor sets."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basira.common import gate as gate_module
from basira.common.access_record import AccessRecord
from basira.common.auth import Subject
from basira.common.errors import Unauthenticated
from basira.common.policy_client import Decision, normalise_policy_input, parse_decision
from basira.policy.engine import CompiledPolicy, load_policy_dir

POLICY_DIR = Path(__file__).resolve().parents[3] / "policy"


@dataclass
class RecordingPolicy:
    """A policy stand-in that records every input; a service's tests subclass it with their own rules.

    `refusals` says why a document is refused (empty: allowed). `obligations` is added to every
    allowed decision; `refusals` may add more to the copy it is given.
    """

    obligations: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    async def decide(self, document: dict[str, Any]) -> Decision:
        self.inputs.append(document)
        obligations = dict(self.obligations)
        reasons = self.refusals(document, obligations)
        return Decision(allow=not reasons, deny=reasons, obligations=obligations if not reasons else {},
                        revision="test")

    def refusals(self, document: dict[str, Any], obligations: dict[str, Any]) -> list[str]:
        return []


class RegoPolicy:
    """The repository's real Rego policy, evaluated in-process (as a service's embedded engine does);
    records every input like the stand-ins, so a test can serve a service under the real rules."""

    def __init__(self, directory: Path = POLICY_DIR) -> None:
        self.engine = CompiledPolicy(load_policy_dir(directory))
        self.inputs: list[dict[str, Any]] = []

    async def decide(self, document: dict[str, Any]) -> Decision:
        self.inputs.append(document)
        return parse_decision(self.engine.decide(normalise_policy_input(document)))


@dataclass
class ListAudit:
    """An audit sink keeping the records in a list, for tests to read."""

    records: list[AccessRecord] = field(default_factory=list)

    async def append(self, record: AccessRecord) -> None:
        self.records.append(record)


class NoVerifier:
    """The verifier of a gate whose servicers are called directly: authentication never happens."""

    async def verify(self, token: str) -> Subject:
        raise AssertionError("not used")


class TokenTable:
    """Stand-in verifier: the bearer token is a key into a table of subjects."""

    def __init__(self, subjects: dict[str, Subject]) -> None:
        self.subjects = subjects

    async def verify(self, token: str) -> Subject:
        if token not in self.subjects:
            raise Unauthenticated("unknown test token")
        return self.subjects[token]


@contextlib.contextmanager
def calling_as(subject: Subject, obligations: dict[str, Any] | None = None,
               context: dict[str, Any] | None = None) -> Iterator[None]:
    """What the gate interceptor sets before a servicer runs (tasks created inside inherit it).

    `context` is the call's policy context (purpose, case_id…); none given: an empty one.
    """
    tokens = (gate_module.current_subject.set(subject),
              gate_module.current_decision.set(Decision(allow=True, deny=[], obligations=obligations or {},
                                                        revision="test")),
              gate_module.current_context.set({} if context is None else context))
    try:
        yield
    finally:
        gate_module.current_context.reset(tokens[2])
        gate_module.current_decision.reset(tokens[1])
        gate_module.current_subject.reset(tokens[0])
