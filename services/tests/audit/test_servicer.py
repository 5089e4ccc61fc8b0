"""AuditService for the console: the log browser's filters and order, and the evidence export's proofs
(every record proved against the signed tree head, the export itself a logged act)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from basira.audit import merkle
from basira.audit.servicer import AuditServicer
from basira.audit.store import AuditStore
from basira.common.access_record import AccessRecord
from basira.common.auth import Subject
from basira.common.errors import InvalidInput
from basira.common.gate import Gate
from basira.v1 import audit_pb2, common_pb2
from services.tests.support.gate_doubles import ListAudit, NoVerifier, RecordingPolicy, calling_as

pytestmark = pytest.mark.integration

AUDITOR = Subject(user="youssef", agency="oversight", roles=("auditor",), clearance=2)
INVESTIGATOR = Subject(user="amina", agency="police", roles=("investigator",), clearance=2)


@pytest.fixture
async def servicer(store: AuditStore,
                   make_record: Callable[..., AccessRecord]) -> tuple[AuditServicer, ListAudit]:
    records = [make_record(i) for i in range(12)]
    records += [make_record(100, action="evidence.unmask", agency="police", allowed=True,
                            resource={"snapshot_id": "snap-1", "zone": "medina"}),
                make_record(101, action="evidence.view", agency="police", allowed=True,
                            resource={"snapshot_id": "snap-1"}),
                make_record(102, action="evidence.view", agency="customs", allowed=True,
                            resource={"snapshot_id": "snap-1"}),
                make_record(103, action="evidence.view", agency="police", allowed=True,
                            resource={"snapshot_id": "snap-2"}),
                make_record(104, authorization_id="AUTH-99", agency="police")]
    await store.append_batch(records, sign=True)
    acts = ListAudit()
    return AuditServicer(store, audit_gate=Gate("audit", NoVerifier(), RecordingPolicy(), acts)), acts


async def test_log_browser_filters_by_authorization_and_decision_newest_first(
        servicer: tuple[AuditServicer, ListAudit]) -> None:
    service, _ = servicer
    with calling_as(AUDITOR):
        auth = await service.QueryAccessLog(  # type: ignore[arg-type]
            audit_pb2.QueryAccessLogRequest(authorization_id="AUTH-99"), None)
        denied = await service.QueryAccessLog(audit_pb2.QueryAccessLogRequest(  # type: ignore[arg-type]
            decision=audit_pb2.ACCESS_DECISION_DENIED, newest_first=True,
            page=common_pb2.PageRequest(page_size=2)), None)
        rest = await service.QueryAccessLog(audit_pb2.QueryAccessLogRequest(  # type: ignore[arg-type]
            decision=audit_pb2.ACCESS_DECISION_DENIED, newest_first=True,
            page=common_pb2.PageRequest(page_size=2, page_token=denied.page.next_page_token)), None)
    assert [r.index for r in auth.records] == [16]
    indices = [r.index for r in denied.records] + [r.index for r in rest.records]
    assert indices == [16, 8, 4, 0]  # make_record denies every 4th i; newest first across pages
    assert all('"allowed":false' in r.record_json for r in [*denied.records, *rest.records])


async def test_prove_access_gives_own_agency_records_with_inclusion_proofs(
        servicer: tuple[AuditServicer, ListAudit], store: AuditStore) -> None:
    service, acts = servicer
    request = audit_pb2.ProveAccessRequest(snapshot_ids=["snap-1"], recipients=["public-prosecutor"],
                                           access=common_pb2.AccessContext(purpose="theft-investigation",
                                                                           case_id="CASE-2026-0042"))
    with calling_as(INVESTIGATOR):
        proof = await service.ProveAccess(request, None)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await service.ProveAccess(audit_pb2.ProveAccessRequest(), None)  # type: ignore[arg-type]
    assert [r.index for r in proof.records] == [12, 13]  # police's records about snap-1, not customs'
    head = proof.tree_head
    for record, inclusion in zip(proof.records, proof.proofs, strict=True):
        assert merkle.leaf_hash(record.record_json.encode()) == record.leaf_hash == inclusion.leaf_hash
        assert merkle.root_from_inclusion_proof(record.leaf_hash, record.index, head.tree_size,
                                                list(inclusion.proof)) == head.root_hash
    assert proof.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    [act] = [r for r in acts.records if r.action == "evidence.export"]
    assert act.allowed and act.recipients == ["public-prosecutor"] and act.case_id == "CASE-2026-0042"
    assert act.resource["snapshot_ids"] == ["snap-1"]
