"""Search test fixtures: a migrated pool on the real PostgreSQL, a gate with a policy stand-in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from basira.common import gate as gate_module
from basira.common.access_record import AccessRecord
from basira.common.auth import Subject
from basira.common.db import migrate, open_pool
from basira.common.gate import Gate
from basira.common.policy_client import Decision
from basira.search.server import MIGRATIONS

AGREEMENTS = {"police": {"medina", "port"}, "traffic": {"ring-road"}}


@dataclass
class StandInPolicy:
    """A small stand-in for the real Rego policy, only for unit tests of the search servicer.

    Unmasking: the agency's agreement must cover the zone, the subject must be an investigator, and
    faces (data class biometric) also need an authorization in the context. `obligations` is added to
    every allowed decision; `deny_all` refuses everything.
    """

    obligations: dict[str, Any] = field(default_factory=dict)
    deny_all: bool = False
    inputs: list[dict[str, Any]] = field(default_factory=list)

    async def decide(self, document: dict[str, Any]) -> Decision:
        self.inputs.append(document)
        subject, resource, context = document["subject"], document["resource"], document["context"]
        reasons: list[str] = []
        if self.deny_all:
            reasons.append("denied by the test")
        if resource.get("zone") and resource["zone"] not in AGREEMENTS.get(subject["agency"], set()):
            reasons.append(f"zone {resource['zone']!r} is outside the agreement")
        if document["action"] == "evidence.unmask":
            if "investigator" not in subject["roles"]:
                reasons.append("only investigators unmask")
            if resource.get("data_class") == "biometric" and "authorization" not in context:
                reasons.append("unmasking faces needs an authorization")
        return Decision(allow=not reasons, deny=reasons,
                        obligations=dict(self.obligations) if not reasons else {}, revision="test")


@dataclass
class ListAudit:
    records: list[AccessRecord] = field(default_factory=list)

    async def append(self, record: AccessRecord) -> None:
        self.records.append(record)


class _NoVerifier:
    async def verify(self, token: str) -> Subject:  # servicers are called directly in these tests
        raise AssertionError("not used")


@pytest.fixture
async def search_pool(postgres_url: str) -> AsyncIterator[Any]:
    pool = await open_pool(postgres_url, max_size=4)
    await migrate(pool, "search", MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
def policy() -> StandInPolicy:
    return StandInPolicy()


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def gate(policy: StandInPolicy, audit: ListAudit) -> Gate:
    return Gate("search", _NoVerifier(), policy, audit)


@contextlib.contextmanager
def calling_as(subject: Subject, obligations: dict[str, Any] | None = None,
               context: dict[str, Any] | None = None) -> Iterator[None]:
    """What the gate interceptor sets before a servicer runs."""
    tokens = (gate_module.current_subject.set(subject),
              gate_module.current_decision.set(Decision(allow=True, deny=[], obligations=obligations or {},
                                                        revision="test")),
              gate_module.current_context.set(context or {"purpose": "theft-investigation"}))
    try:
        yield
    finally:
        gate_module.current_context.reset(tokens[2])
        gate_module.current_decision.reset(tokens[1])
        gate_module.current_subject.reset(tokens[0])


@pytest.fixture
def calling() -> Any:
    return calling_as


@pytest.fixture
def eu_plate(shared_data: Path) -> tuple[bytes, tuple[int, int, int, int], str]:
    """eu1.jpg, its plate box (x, y, w, h) and text from the benchmark's ground truth."""
    fields = (shared_data / "plates" / "eu" / "eu1.txt").read_text().strip().split("\t")
    x, y, w, h = (int(v) for v in fields[1:5])
    return (shared_data / "plates" / "eu" / "eu1.jpg").read_bytes(), (x, y, w, h), fields[5]
