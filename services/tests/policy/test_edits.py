"""Policy edits through the API: authenticated, decided by the policy itself, logged, and only
served when the new revision's Rego tests pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from basira.common.auth import Subject
from basira.common.gate import Gate
from basira.policy.api import start_server
from basira.policy.edits import EditGate, StoreAuthorizer
from basira.policy.store import PolicyStore
from services.tests.support.gate_doubles import ListAudit, TokenTable

SUBJECTS = {
    "officer-token": Subject(user="privacy-officer", agency="oversight", roles=("privacy_officer",),
                             clearance=2),
    "investigator-token": Subject(user="police-investigator", agency="police", roles=("investigator",),
                                  clearance=2),
}


@dataclass
class EditedService:
    url: str
    store: PolicyStore
    audit: ListAudit


@pytest.fixture
async def service(policy_dir: Path) -> AsyncIterator[EditedService]:
    store = PolicyStore.from_directory(policy_dir)
    audit = ListAudit()
    gate = Gate("policy", TokenTable(SUBJECTS), StoreAuthorizer(store), audit)
    runner, port = await start_server(store, "127.0.0.1", 0, editor=EditGate(gate))
    try:
        yield EditedService(f"http://127.0.0.1:{port}", store, audit)
    finally:
        await runner.cleanup()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_privacy_officer_edit_is_logged_with_the_revision_it_creates(service: EditedService) -> None:
    before = service.store.revision
    async with aiohttp.ClientSession() as session, session.put(
            f"{service.url}/v1/data/basira/zones/university", json={"name": "University campus"},
            headers=bearer("officer-token")) as response:
        assert response.status == 204
    assert service.store.revision != before
    [record] = service.audit.records
    assert (record.action, record.user, record.allowed, record.policy_revision) == (
        "policy.edit", "privacy-officer", True, before)
    assert record.resource == {"data_path": "/basira/zones/university",
                               "revision_from": before, "revision_to": service.store.revision}


async def test_edit_by_another_role_is_refused_logged_and_changes_nothing(service: EditedService) -> None:
    before = service.store.revision
    async with aiohttp.ClientSession() as session, session.delete(
            f"{service.url}/v1/data/basira/agencies/traffic",
            headers=bearer("investigator-token")) as response:
        assert response.status == 403
        assert "do not permit action \"policy.edit\"" in (await response.json())["message"]
    assert service.store.revision == before
    [record] = service.audit.records
    assert (record.action, record.allowed, record.status) == ("policy.edit", False, "PERMISSION_DENIED")


async def test_edit_without_a_token_is_refused_and_logged(service: EditedService) -> None:
    async with aiohttp.ClientSession() as session, session.put(
            f"{service.url}/v1/data/basira/settings/default_max_results", json=1) as response:
        assert response.status == 401
    assert [(r.user, r.status) for r in service.audit.records] == [("anonymous", "UNAUTHENTICATED")]


async def test_edit_that_breaks_a_rego_test_is_not_served(service: EditedService) -> None:
    """Granting traffic biometric data breaks test_deny_traffic_agency_never_gets_biometric_data."""
    before = service.store.revision
    traffic = dict(service.store.data["basira"]["agencies"]["traffic"])
    traffic["agreement"] = {**traffic["agreement"],
                            "data_classes": [*traffic["agreement"]["data_classes"], "biometric"]}
    async with aiohttp.ClientSession() as session, session.put(
            f"{service.url}/v1/data/basira/agencies/traffic", json=traffic,
            headers=bearer("officer-token")) as response:
        assert response.status == 400
        message = (await response.json())["message"]
    assert "test_deny_traffic_agency_never_gets_biometric_data" in message
    assert service.store.revision == before
    [record] = service.audit.records
    assert (record.allowed, record.status) == (False, "INVALID_ARGUMENT")
    assert "fails its Rego tests" in record.reasons[0]


async def test_module_edit_reintroducing_the_opa_divergence_is_not_served(service: EditedService) -> None:
    module = "basira/authz/legal.rego"
    text = service.store.get_policy(module).replace(
        'not is_string(object.get(authorization, "id", null))', "not is_string(authorization.id)")
    async with aiohttp.ClientSession() as session, session.put(
            f"{service.url}/v1/policies/{module}", data=text, headers=bearer("officer-token")) as response:
        assert response.status == 400
        assert "negation OPA reads differently" in (await response.json())["message"]
