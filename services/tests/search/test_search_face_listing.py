"""Listing face sightings over gRPC, under the repository's real Rego policy and on real PostgreSQL.

Face sightings are biometric: the policy asks for the face search's legal basis (purpose, case id,
authorization) and a role that may search faces; the answer keeps to the authorization's zones, the
face listing's page cap and the face search's time window; images stay masked behind GetEvidence.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from basira.analytics.face_path import FacePath
from basira.common.auth import Subject
from basira.common.service import ServiceHost
from basira.search.config import SearchSettings
from basira.search.events import face_sighting_from_event
from basira.search.server import MIGRATIONS, setup
from basira.search.store import SearchStore
from basira.v1 import common_pb2, search_pb2, search_pb2_grpc
from services.tests.search.conftest import face_event
from services.tests.support.gate_doubles import ListAudit, RegoPolicy, TokenTable
from services.tests.support.service_host import serving

pytestmark = pytest.mark.integration

USERS = {
    "t-amina": Subject(user="amina", agency="police", roles=("investigator",), clearance=2),
    # Cleared for biometrics and allowed to list plate sightings, but no role of hers may search faces.
    "t-salma": Subject(user="salma", agency="police", roles=("analyst",), clearance=2),
    "t-hamza": Subject(user="hamza", agency="traffic", roles=("analyst",), clearance=2),
}


def judicial(**changes: Any) -> common_pb2.AccessContext:
    """A theft case under a court order for the medina zone (the policy's own test fixture, as protobuf)."""
    order = common_pb2.Authorization(id="AUTH-2026-17", issued_by="court", scope_zones=["medina"])
    order.expires.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    access = common_pb2.AccessContext(purpose="theft-investigation", case_id="CASE-2026-0042",
                                      authorization=order)
    for name, value in changes.items():
        if value is None:
            access.ClearField(name)  # type: ignore[arg-type]
        else:
            setattr(access, name, value)
    return access


async def test_face_sightings_are_listed_only_under_a_face_search_legal_basis(
        postgres_url: str, nats_url: str, search_pool: Any, path: FacePath, shared_data: Path) -> None:
    store = SearchStore(search_pool)
    now = datetime.now(UTC)
    photo = (shared_data / "faces" / "pairs" / "img21.jpg").read_bytes()
    template = face_event(path, photo, "cam-medina-01", "medina", now)

    async def sighting(camera: str, zone: str, seen: datetime) -> str:
        event = type(template)()
        event.CopyFrom(template)
        event.id, event.camera_id, event.zone = uuid.uuid4().hex, camera, zone
        event.snapshot_id = f"snap-{uuid.uuid4().hex[:8]}"
        event.captured.FromDatetime(seen)
        assert await store.add_face_sighting(face_sighting_from_event(event))
        return event.id

    recent = [await sighting("cam-medina-01", "medina", now - timedelta(minutes=i)) for i in range(1, 24)]
    too_old = await sighting("cam-medina-01", "medina", now - timedelta(days=40))
    unauthorised_zone = await sighting("cam-port-01", "port", now - timedelta(minutes=5))

    settings = SearchSettings(nats_url=nats_url, database_url=postgres_url, grpc_port=0, grace_period_s=0.5,
                              retention_interval_s=0)
    host = ServiceHost("search", settings, migrations=MIGRATIONS)
    policy, audit = RegoPolicy(), ListAudit()
    async with serving(host, setup, verifier=TokenTable(USERS), policy=policy, audit=audit,
                       pool_size=4) as port, grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)

        async def list_faces(token: str, access: common_pb2.AccessContext, page_token: str = "",
                             scope: search_pb2.SearchScope | None = None) -> search_pb2.ListSightingsResponse:
            return await stub.ListSightings(search_pb2.ListSightingsRequest(
                kind=search_pb2.SIGHTING_KIND_FACE, scope=scope, access=access,
                page=common_pb2.PageRequest(page_size=100, page_token=page_token)),
                metadata=[("authorization", f"Bearer {token}")])

        listed: list[search_pb2.Sighting] = []
        pages, token = 0, ""
        while pages == 0 or token:
            page = await list_faces("t-amina", judicial(), token)
            assert len(page.sightings) <= 20  # the face listing's cap, not the 100 asked for
            listed.extend(page.sightings)
            token, pages = page.page.next_page_token, pages + 1
            assert pages < 100
        ours = [s for s in listed if s.id in {*recent, too_old, unauthorised_zone}]
        # Newest first, only the authorization's zone, only the last 31 days; each a face with its box.
        assert [s.id for s in ours] == recent and pages >= 2
        assert all(s.kind == search_pb2.SIGHTING_KIND_FACE and s.face.width > 0 and s.snapshot_id
                   and not s.HasField("plate") for s in ours)
        assert {s.zone for s in listed} == {"medina"}

        # The listed face's evidence frame is served masked: listing grants no unmasking.
        evidence = await stub.GetEvidence(
            search_pb2.GetEvidenceRequest(snapshot_id=ours[0].snapshot_id, access=judicial()),
            metadata=[("authorization", "Bearer t-amina")])
        assert evidence.faces_masked and evidence.image != photo

        wide = search_pb2.SearchScope()
        wide.time.start.FromDatetime(now - timedelta(days=90))
        with pytest.raises(grpc.aio.AioRpcError) as too_long:
            await list_faces("t-amina", judicial(), scope=wide)
        assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "at most 31 days" in (too_long.value.details() or "")

        refusals = {
            "t-salma": 'do not permit action "search.face", which "search.sightings" of data class '
                       '"biometric" also needs',
            "t-hamza": 'agency "traffic" is not granted data class "biometric"',
        }
        for user, reason in refusals.items():
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await list_faces(user, judicial())
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert reason in (refused.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as no_order:
            await list_faces("t-amina", judicial(authorization=None))
        assert no_order.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert 'action "search.sightings" needs context.authorization' in (no_order.value.details() or "")

    listings = [r for r in audit.records if r.action == "search.sightings"]
    allowed = [r for r in listings if r.status == "OK"]
    assert len(allowed) == pages and sum(r.result_count or 0 for r in allowed) == len(listed)
    assert all(r.resource["data_class"] == "biometric" and r.authorization_id == "AUTH-2026-17"
               and r.obligations["max_results"] == 20 and r.obligations["zones"] == ["medina"]
               for r in allowed)
    assert {r.user for r in listings if not r.allowed} == {"salma", "hamza", "amina"}
