"""The search wiring over real gRPC: indexer loop, gate interceptor, the GetEvidence resolver."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from basira.common.auth import Subject
from basira.common.nats import publish
from basira.common.service import ServiceHost
from basira.search.config import SearchSettings
from basira.search.server import MIGRATIONS, setup
from basira.v1 import alert_pb2, analytics_pb2, common_pb2, events_pb2, search_pb2, search_pb2_grpc
from services.tests.support.gate_doubles import TokenTable
from services.tests.support.service_host import serving

pytestmark = pytest.mark.integration


async def test_search_and_evidence_over_grpc(postgres_url: str, nats_url: str, policy: Any, audit: Any,
                                             shared_data: Path) -> None:
    settings = SearchSettings(nats_url=nats_url, database_url=postgres_url, grpc_port=0, grace_period_s=0.5)
    host = ServiceHost("search", settings, migrations=MIGRATIONS)
    amina = Subject(user="amina", agency="police", roles=("investigator",), clearance=2)
    async with serving(host, setup, verifier=TokenTable({"t-amina": amina}), policy=policy, audit=audit,
                       pool_size=4) as port:
        fields = (shared_data / "plates" / "eu" / "eu3.txt").read_text().strip().split("\t")
        x, y, w, h = (int(v) for v in fields[1:5])
        snapshot_id, plate = f"snap-{uuid.uuid4().hex[:8]}", fields[5]
        event = events_pb2.PlateDetectionEvent(
            id=uuid.uuid4().hex, camera_id="cam-medina-03", zone="medina", owner_agency="police",
            snapshot_id=snapshot_id, snapshot_jpeg=(shared_data / "plates" / "eu" / "eu3.jpg").read_bytes(),
            plate=analytics_pb2.PlateReading(text=plate, display=plate, confidence=0.9,
                                             box=common_pb2.Box(x=x, y=y, width=w, height=h)))
        event.captured.FromDatetime(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        await publish(host.js, "detections.plate.cam-medina-03", event.SerializeToString(), event.id)

        metadata = [("authorization", "Bearer t-amina")]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            request = search_pb2.SearchPlatesRequest(plate=plate, mode=search_pb2.PLATE_MATCH_MODE_EXACT,
                                                     scope=search_pb2.SearchScope(zone="medina"))
            found: list[search_pb2.Sighting] = []
            for _ in range(100):  # the indexer runs in the background
                found = [s for s in (await stub.SearchPlates(request, metadata=metadata)).sightings
                         if s.snapshot_id == snapshot_id]
                if found:
                    break
                await asyncio.sleep(0.05)
            assert len(found) == 1 and found[0].plate.box.width == w
            evidence = await stub.GetEvidence(search_pb2.GetEvidenceRequest(snapshot_id=snapshot_id),
                                              metadata=metadata)
            assert evidence.plates_masked and evidence.camera_id == "cam-medina-03"
            unmasked = await stub.GetEvidence(search_pb2.GetEvidenceRequest(snapshot_id=snapshot_id,
                                                                            unmask=True), metadata=metadata)
            assert not unmasked.plates_masked and unmasked.image == event.snapshot_jpeg

        # A face match confirmed by two people (alerting's AlertEvent) is held as evidence.
        detection_id, agency = uuid.uuid4().hex, f"t-{uuid.uuid4().hex[:8]}"  # no other test's agency
        confirmed = alert_pb2.Alert(id=uuid.uuid4().hex, kind=alert_pb2.ALERT_KIND_FACE_MATCH,
                                    state=alert_pb2.ALERT_STATE_CONFIRMED, agency=agency,
                                    face_match=alert_pb2.FaceMatch(detection_id=detection_id))
        await publish(host.js, f"alerts.{agency}", events_pb2.AlertEvent(alert=confirmed).SerializeToString(),
                      f"{confirmed.id}:2")
        held: tuple[Any, ...] | None = None
        for _ in range(100):
            async with host.db.connection() as conn:
                held = await (await conn.execute("SELECT alert_id FROM search_face_holds WHERE sighting_id"
                                                 " = %s", (detection_id,))).fetchone()
            if held:
                break
            await asyncio.sleep(0.05)
        assert held == (confirmed.id,)
        view = [i for i in policy.inputs if i["action"] == "evidence.view"]
        assert view and view[0]["resource"]["zone"] == "medina"  # the resolver told policy where it was
        assert view[0]["resource"]["cameras"] == ["cam-medina-03"]
        [unmask] = [r for r in audit.records if r.action == "evidence.unmask"]
        assert unmask.allowed and unmask.resource["data_class"] == "plate"  # eu3 shows no face
