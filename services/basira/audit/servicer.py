"""AuditService: protobuf ⇄ the access-log store (query, signed tree heads, proofs, export)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import grpc

from basira.common import gate
from basira.common.errors import FailedPrecondition, InvalidInput
from basira.common.policy_input import context_from_request
from basira.v1 import audit_pb2, audit_pb2_grpc, common_pb2

from .sth import SignedTreeHead, public_key_pem
from .store import AuditStore, LogQuery

DEFAULT_PAGE = 100
MAX_PROVED_SNAPSHOTS = 50
MAX_PROVED_RECORDS = 1000


def _tree_head(sth: SignedTreeHead) -> audit_pb2.SignedTreeHead:
    return audit_pb2.SignedTreeHead(tree_size=sth.tree_size, root_hash=sth.root_hash,
                                    timestamp_ms=sth.timestamp, signature=sth.signature, log_id=sth.log_id)


def _time_bounds(rng: common_pb2.TimeRange) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if rng.HasField("start"):
        bounds["time_from"] = rng.start.ToDatetime(tzinfo=UTC)
    if rng.HasField("end"):
        bounds["time_to"] = rng.end.ToDatetime(tzinfo=UTC)
    return bounds


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, store: AuditStore, *, audit_gate: gate.Gate, chunk_bytes: int = 1 << 20) -> None:
        self.store, self.gate, self.chunk_bytes = store, audit_gate, chunk_bytes

    def _public_key_pem(self) -> str:
        signer = self.store.signer
        return public_key_pem(signer.public_key) if signer else ""

    async def QueryAccessLog(self, request: audit_pb2.QueryAccessLogRequest,
                             context: grpc.aio.ServicerContext) -> audit_pb2.QueryAccessLogResponse:
        allowed = {audit_pb2.ACCESS_DECISION_ALLOWED: True,
                   audit_pb2.ACCESS_DECISION_DENIED: False}.get(request.decision)
        query = LogQuery(user=request.user or None, agency=request.agency or None,
                         case_id=request.case_id or None, action=request.action or None,
                         authorization_id=request.authorization_id or None, allowed=allowed,
                         **(_time_bounds(request.time) if request.HasField("time") else {}))
        page = await self.store.query(query, page_size=request.page.page_size or DEFAULT_PAGE,
                                      page_token=request.page.page_token, descending=request.newest_first)
        return audit_pb2.QueryAccessLogResponse(
            records=[audit_pb2.LoggedAccess(index=e.index, leaf_hash=e.leaf_hash,
                                            record_json=e.canonical.decode("utf-8")) for e in page.entries],
            page=common_pb2.PageResponse(next_page_token=page.next_page_token))

    async def ProveAccess(self, request: audit_pb2.ProveAccessRequest,
                          context: grpc.aio.ServicerContext) -> audit_pb2.ProveAccessResponse:
        """The caller's agency's access records about some evidence, each with its inclusion proof
        against the latest signed tree head; giving them out with the evidence is a logged act."""
        ids = sorted({s for s in request.snapshot_ids if s})
        if not ids:
            raise InvalidInput("name the evidence snapshots (snapshot_ids)", field="snapshot_ids")
        if len(ids) > MAX_PROVED_SNAPSHOTS:
            raise InvalidInput(f"at most {MAX_PROVED_SNAPSHOTS} snapshots at a time", field="snapshot_ids")
        subject = gate.current_subject.get()
        assert subject is not None, "the gate sets the subject before any servicer runs"
        await self.gate.authorize_act(
            subject, "evidence.export", {"data_class": "video", "snapshot_ids": ids},
            gate.current_context.get() or context_from_request(request),
            recipients=sorted(set(request.recipients)) or [subject.agency])
        sth = await self.store.latest_tree_head()
        if sth is None:
            raise FailedPrecondition("no tree head has been signed yet; retry in a few seconds")
        page = await self.store.query(LogQuery(agency=subject.agency, snapshot_ids=tuple(ids),
                                               below_index=sth.tree_size), page_size=MAX_PROVED_RECORDS)
        proofs = [await self.store.inclusion_proof(e.index, sth.tree_size) for e in page.entries]
        return audit_pb2.ProveAccessResponse(
            records=[audit_pb2.LoggedAccess(index=e.index, leaf_hash=e.leaf_hash,
                                            record_json=e.canonical.decode("utf-8")) for e in page.entries],
            proofs=[audit_pb2.GetInclusionProofResponse(index=p.index, tree_size=p.tree_size,
                                                        leaf_hash=p.leaf_hash, proof=p.hashes)
                    for p in proofs],
            tree_head=_tree_head(sth), public_key_pem=self._public_key_pem())

    async def GetTreeHead(self, request: audit_pb2.GetTreeHeadRequest,
                          context: grpc.aio.ServicerContext) -> audit_pb2.GetTreeHeadResponse:
        sth = await self.store.tree_head(request.tree_size or None)
        return audit_pb2.GetTreeHeadResponse(tree_head=_tree_head(sth), public_key_pem=self._public_key_pem())

    async def GetInclusionProof(self, request: audit_pb2.GetInclusionProofRequest,
                                context: grpc.aio.ServicerContext) -> audit_pb2.GetInclusionProofResponse:
        proof = await self.store.inclusion_proof(request.index, request.tree_size or None)
        return audit_pb2.GetInclusionProofResponse(index=proof.index, tree_size=proof.tree_size,
                                                   leaf_hash=proof.leaf_hash, proof=proof.hashes)

    async def GetConsistencyProof(self, request: audit_pb2.GetConsistencyProofRequest,
                                  context: grpc.aio.ServicerContext
                                  ) -> audit_pb2.GetConsistencyProofResponse:
        proof = await self.store.consistency_proof(request.first_size, request.second_size or None)
        return audit_pb2.GetConsistencyProofResponse(proof=proof.hashes)

    async def ExportLog(self, request: audit_pb2.ExportLogRequest,
                        context: grpc.aio.ServicerContext) -> AsyncIterator[audit_pb2.ExportLogResponse]:
        """Stream the export file in chunks; the export and its recipients are a logged act."""
        if not request.recipients:
            raise FailedPrecondition("name the export's recipients (who receives the access log)")
        subject = gate.current_subject.get()
        assert subject is not None, "the gate sets the subject before any servicer runs"
        await self.gate.authorize_act(
            subject, "audit.export", {"data_class": "audit", "tree_size": request.tree_size},
            gate.current_context.get() or context_from_request(request),
            recipients=sorted(request.recipients))
        with tempfile.TemporaryFile() as spool:
            await self.store.export(spool, tree_size=request.tree_size or None)
            spool.seek(0)
            while chunk := spool.read(self.chunk_bytes):
                yield audit_pb2.ExportLogResponse(chunk=chunk)
