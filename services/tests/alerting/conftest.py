"""Alerting test fixtures: migrated pool, JetStream, and a gate whose authorizer is a policy stand-in."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from basira.alerting.server import MIGRATIONS
from basira.common import gate as gate_module
from basira.common.access_record import AccessRecord
from basira.common.auth import Subject
from basira.common.db import migrate, open_pool
from basira.common.gate import Gate
from basira.common.nats import connect, ensure_streams
from basira.common.policy_client import Decision


@dataclass
class StandInPolicy:
    """A small stand-in for the real Rego policy, only for unit tests of the alerting module.

    Acts by the alerting service (`match.*`, `alert.camera_health`) are allowed when the subject has
    the service role and the recipient agency's agreement covers the zone; person actions when the
    subject's agency covers the zone; a person's request naming no zone is scoped to the agreement's
    zones by an obligation. ConfirmMatch is refused to the person who confirmed first.
    """

    agreements: dict[str, set[str]] = field(default_factory=dict)
    obligations: dict[str, Any] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)

    async def decide(self, document: dict[str, Any]) -> Decision:
        self.inputs.append(document)
        subject, resource, action = document["subject"], document["resource"], document["action"]
        reasons: list[str] = []
        if action.startswith("match.") or action == "alert.camera_health":
            if "service" not in subject["roles"]:
                reasons.append(f"{action} is for services")
            agency = resource.get("recipient_agency", "")
        else:
            agency = subject["agency"]
        obligations = dict(self.obligations)
        zones = self.agreements.get(agency, set())
        if "zone" not in resource and not action.startswith("match."):
            obligations.setdefault("zones", sorted(zones))  # no zone asked: scoped to the agreement
        elif resource.get("zone", "") not in zones:
            reasons.append(f"zone {resource.get('zone')!r} is outside agency {agency!r}'s agreement")
        if action == "alert.confirm" and resource.get("first_confirmed_by") == subject["user"]:
            reasons.append("two-person rule: a different person must confirm")
        return Decision(allow=not reasons, deny=reasons, obligations=obligations if not reasons else {},
                        revision="test")


@dataclass
class ListAudit:
    records: list[AccessRecord] = field(default_factory=list)

    async def append(self, record: AccessRecord) -> None:
        self.records.append(record)


class _NoVerifier:
    async def verify(self, token: str) -> Subject:  # servicers are called directly in these tests
        raise AssertionError("not used")


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def alert_pool(postgres_url: str) -> AsyncIterator[Any]:
    pool = await open_pool(postgres_url, max_size=6)
    await migrate(pool, "alerting", MIGRATIONS)
    yield pool
    await pool.close()


@pytest.fixture
async def jetstream(nats_url: str) -> AsyncIterator[Any]:
    nc, js = await connect(nats_url, "alerting-test")
    await ensure_streams(js)
    yield js
    await nc.close()


@pytest.fixture
def policy() -> StandInPolicy:
    return StandInPolicy()


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def gate(policy: StandInPolicy, audit: ListAudit) -> Gate:
    return Gate("alerting", _NoVerifier(), policy, audit)


@contextlib.contextmanager
def calling_as(subject: Subject, obligations: dict[str, Any] | None = None) -> Iterator[None]:
    """What the gate interceptor sets before a servicer runs (tasks created inside inherit it)."""
    tokens = (gate_module.current_subject.set(subject),
              gate_module.current_decision.set(Decision(allow=True, deny=[], obligations=obligations or {},
                                                        revision="test")),
              gate_module.current_context.set({}))
    try:
        yield
    finally:
        gate_module.current_context.reset(tokens[2])
        gate_module.current_decision.reset(tokens[1])
        gate_module.current_subject.reset(tokens[0])


@pytest.fixture
def calling() -> Any:
    return calling_as
