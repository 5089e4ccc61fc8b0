"""AuditService: protobuf ⇄ the access-log store (query, signed tree heads, proofs, export)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import grpc

from basira.common import gate
from basira.common.errors import FailedPrecondition
from basira.common.policy_input import context_from_request
from basira.v1 import audit_pb2, audit_pb2_grpc, common_pb2

from .sth import SignedTreeHead, public_key_pem
from .store import AuditStore, LogQuery

DEFAULT_PAGE = 100


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
        query = LogQuery(user=request.user or None, agency=request.agency or None,
                         case_id=request.case_id or None, action=request.action or None,
                         **(_time_bounds(request.time) if request.HasField("time") else {}))
        page = await self.store.query(query, page_size=request.page.page_size or DEFAULT_PAGE,
                                      page_token=request.page.page_token)
        return audit_pb2.QueryAccessLogResponse(
            records=[audit_pb2.LoggedAccess(index=e.index, leaf_hash=e.leaf_hash,
                                            record_json=e.canonical.decode("utf-8")) for e in page.entries],
            page=common_pb2.PageResponse(next_page_token=page.next_page_token))

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
