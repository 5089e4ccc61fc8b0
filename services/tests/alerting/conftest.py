"""Alerting test fixtures: migrated pool, JetStream, and a gate whose authorizer is a policy stand-in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from basira.alerting.server import MIGRATIONS
from basira.common.db import migrate, open_pool
from basira.common.gate import Gate
from services.tests.support.gate_doubles import ListAudit, NoVerifier, RecordingPolicy, calling_as
from services.tests.support.jetstream import jetstream_session

SERVICE_ACTS = ("alert.camera_health", "alert.deliver_escalation", "alert.counts", "follow.sighting")


@dataclass
class StandInPolicy(RecordingPolicy):
    """A small stand-in for the real Rego policy, only for unit tests of the alerting module.

    Acts by the alerting service (`match.*`, `alert.camera_health`) are allowed when the subject has
    the service role and the recipient agency's agreement covers the zone; person actions when the
    subject's agency covers the zone; a person's request naming no zone is scoped to the agreement's
    zones by an obligation. ConfirmMatch is refused to the person who confirmed first. Delivering a
    follow's sighting (`follow.sighting`) is also refused once the authorization in the context has
    expired; crowd and congestion alerts (`alert.counts`) are service acts like matches.
    """

    agreements: dict[str, set[str]] = field(default_factory=dict)

    def refusals(self, document: dict[str, Any], obligations: dict[str, Any]) -> list[str]:
        subject, resource, action = document["subject"], document["resource"], document["action"]
        reasons: list[str] = []
        if action.startswith("match.") or action in SERVICE_ACTS:
            if "service" not in subject["roles"]:
                reasons.append(f"{action} is for services")
            agency = resource.get("recipient_agency", "")
        else:
            agency = subject["agency"]
        zones = self.agreements.get(agency, set())
        if "zone" not in resource and not action.startswith("match."):
            obligations.setdefault("zones", sorted(zones))  # no zone asked: scoped to the agreement
        elif resource.get("zone", "") not in zones:
            reasons.append(f"zone {resource.get('zone')!r} is outside agency {agency!r}'s agreement")
        expires = (document["context"].get("authorization") or {}).get("expires", "")
        if action == "follow.sighting" and (not expires or expires <= document["context"]["time"]):
            reasons.append(f"authorization expired at {expires!r}")
        if action == "alert.confirm" and resource.get("first_confirmed_by") == subject["user"]:
            reasons.append("two-person rule: a different person must confirm")
        return reasons


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
    async with jetstream_session(nats_url, "alerting-test") as (_, js):
        yield js


@pytest.fixture
def policy() -> StandInPolicy:
    return StandInPolicy()


@pytest.fixture
def audit() -> ListAudit:
    return ListAudit()


@pytest.fixture
def gate(policy: StandInPolicy, audit: ListAudit) -> Gate:
    return Gate("alerting", NoVerifier(), policy, audit)


@pytest.fixture
def calling() -> Any:
    return calling_as
