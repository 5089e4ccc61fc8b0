"""CameraService and FrameIngestService: protobuf ⇄ the camera registry and stream manager, nothing else.

PushFrames accepts frames for a camera of any kind (a fixed camera behind a gateway may push too) as
long as it is registered, not decommissioned, and its stream is not being read from its source_url.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message

from basira.common import gate as gate_module
from basira.common.auth import Subject
from basira.common.errors import FailedPrecondition, InvalidInput
from basira.common.gate import ResourceResolver
from basira.ingest.cameras import (
    CAMERA_ID,
    CameraQuery,
    CameraRecord,
    CameraSpec,
    CameraStore,
    apply_update,
    check_camera_id,
    decode_page_token,
    encode_page_token,
    mask_fields,
    validate_camera,
)
from basira.ingest.config import IngestSettings
from basira.ingest.estate import Condition, is_down, judge
from basira.ingest.health import PowerReport, PowerSource
from basira.ingest.health_state import Granted, HealthState
from basira.ingest.sources import redact_url
from basira.ingest.streams import POWER_SOURCES, PushSession, StreamManager
from basira.v1 import camera_pb2, camera_pb2_grpc

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
CAMERA_METHODS = tuple(f"/basira.v1.CameraService/{name}" for name in (
    "GetCamera", "UpdateCamera", "DecommissionCamera", "StartStream", "StopStream", "ReportCameraStatus"))
PUSH_METHOD = "/basira.v1.FrameIngestService/PushFrames"


def camera_to_proto(record: CameraRecord) -> camera_pb2.Camera:
    """The API view of a camera; passwords in the source URL are never shown (`***`)."""
    message = camera_pb2.Camera(
        id=record.id, name=record.name, kind=record.kind,  # type: ignore[arg-type]
        zone=record.zone, owner_agency=record.owner_agency, source_url=redact_url(record.source_url),
        analysis_fps=record.analysis_fps, loop=record.loop, decommissioned=record.decommissioned,
        stream_state=record.stream_state,  # type: ignore[arg-type]
        site=record.site, power_source=record.power_source,  # type: ignore[arg-type]
        battery_percent=record.battery_percent, power_state=record.power_state)
    if record.latitude is not None and record.longitude is not None:
        message.position.latitude, message.position.longitude = record.latitude, record.longitude
    if record.created is not None:
        message.created.FromDatetime(record.created)
    if record.updated is not None:
        message.updated.FromDatetime(record.updated)
    if record.power_reported is not None:
        message.power_reported.FromDatetime(record.power_reported)
    return message


def spec_from_proto(camera: camera_pb2.Camera) -> CameraSpec:
    has_position = camera.HasField("position")
    return CameraSpec(
        id=camera.id, name=camera.name, kind=int(camera.kind),
        latitude=camera.position.latitude if has_position else None,
        longitude=camera.position.longitude if has_position else None,
        zone=camera.zone, owner_agency=camera.owner_agency, source_url=camera.source_url,
        analysis_fps=camera.analysis_fps, loop=camera.loop, site=camera.site,
        power_source=int(camera.power_source))


def power_report(status: camera_pb2.DeviceStatus) -> PowerReport:
    """A device's status as a power report. battery_percent < 0, or 0 on mains or unknown power, is
    "not reported" (proto3 cannot tell an unset 0 from 0 %)."""
    source = POWER_SOURCES.get(status.power_source, PowerSource.UNKNOWN)
    percent = status.battery_percent
    if percent < 0 or (percent == 0 and source in (PowerSource.MAINS, PowerSource.UNKNOWN)):
        return PowerReport(source, None)
    return PowerReport(source, float(percent))


def _captured(request: camera_pb2.PushFramesRequest) -> float | None:
    ts = request.captured
    if not ts.seconds and not ts.nanos:
        return None
    return float(ts.seconds) + ts.nanos / 1e9


def _obligations() -> dict[str, Any]:
    decision = gate_module.current_decision.get()
    return dict(decision.obligations) if decision is not None else {}


class CameraServicer(camera_pb2_grpc.CameraServiceServicer):
    """Runs behind the gate (policy has allowed the call); `context` may be None in tests."""

    def __init__(self, store: CameraStore, manager: StreamManager, settings: IngestSettings,
                 health: HealthState | None = None) -> None:
        self.store, self.manager, self.settings, self.health = store, manager, settings, health

    def _health(self) -> HealthState:
        if self.health is None:
            raise FailedPrecondition("camera health is not kept by this ingest instance")
        return self.health

    async def ListCameraHealth(self, request: camera_pb2.ListCameraHealthRequest,
                               context: grpc.aio.ServicerContext | None
                               ) -> camera_pb2.ListCameraHealthResponse:
        """Current health of every camera the caller may see, and where to resume the stream."""
        cameras, mark = await self._health().current(Granted.from_obligations(_obligations()),
                                                      [request.zone] if request.zone else [],
                                                      list(request.camera_ids))
        return camera_pb2.ListCameraHealthResponse(cameras=cameras, watermark=mark)

    async def StreamCameraHealth(self, request: camera_pb2.StreamCameraHealthRequest,
                                 context: grpc.aio.ServicerContext | None
                                 ) -> AsyncIterator[camera_pb2.StreamCameraHealthResponse]:
        """Every health change the caller may see after `after_sequence`, live."""
        async for update in self._health().changes(request.after_sequence,
                                                   Granted.from_obligations(_obligations()),
                                                   list(request.zones), list(request.camera_ids)):
            yield camera_pb2.StreamCameraHealthResponse(update=update)

    async def RegisterCamera(self, request: camera_pb2.RegisterCameraRequest,
                             context: grpc.aio.ServicerContext | None) -> camera_pb2.RegisterCameraResponse:
        spec = validate_camera(spec_from_proto(request.camera),
                               default_fps=self.settings.default_analysis_fps)
        record = await self.store.register(spec)
        return camera_pb2.RegisterCameraResponse(camera=camera_to_proto(record))

    async def UpdateCamera(self, request: camera_pb2.UpdateCameraRequest,
                           context: grpc.aio.ServicerContext | None) -> camera_pb2.UpdateCameraResponse:
        camera_id = check_camera_id(request.camera.id)
        fields = mask_fields(list(request.update_mask.paths))
        current = await self.store.get(camera_id)
        if current.decommissioned:
            raise FailedPrecondition(f"camera {camera_id} is decommissioned; it cannot be changed")
        wanted = validate_camera(apply_update(current.spec, spec_from_proto(request.camera), fields),
                                 default_fps=self.settings.default_analysis_fps)
        if wanted == current.spec:
            return camera_pb2.UpdateCameraResponse(camera=camera_to_proto(current))
        record = await self.store.update(camera_id, current.revision, wanted)
        self.manager.wake()  # a running reader picks the change up now, not at its next lease renewal
        return camera_pb2.UpdateCameraResponse(camera=camera_to_proto(record))

    async def GetCamera(self, request: camera_pb2.GetCameraRequest,
                        context: grpc.aio.ServicerContext | None) -> camera_pb2.GetCameraResponse:
        record = await self.store.get(check_camera_id(request.camera_id, "camera_id"))
        return camera_pb2.GetCameraResponse(camera=camera_to_proto(record))

    async def ListCameras(self, request: camera_pb2.ListCamerasRequest,
                          context: grpc.aio.ServicerContext | None) -> camera_pb2.ListCamerasResponse:
        """Filtered, id-ordered pages; rows outside the caller's granted zones/cameras are left out."""
        obligations = _obligations()
        zones = obligations.get("zones")
        query = CameraQuery(
            zone=request.zone, owner_agency=request.owner_agency,
            include_decommissioned=request.include_decommissioned,
            zones=tuple(zones) if isinstance(zones, list) else None,
            cameras=tuple(obligations.get("cameras") or ()))
        size = _page_size(request.page.page_size, obligations)
        after = decode_page_token(request.page.page_token, query)
        rows = await self.store.list_cameras(query, after=after, limit=size + 1)
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = encode_page_token(rows[-1].id, query)
        response = camera_pb2.ListCamerasResponse(cameras=[camera_to_proto(r) for r in rows])
        response.page.next_page_token = token
        return response

    async def DecommissionCamera(self, request: camera_pb2.DecommissionCameraRequest,
                                 context: grpc.aio.ServicerContext | None
                                 ) -> camera_pb2.DecommissionCameraResponse:
        camera_id = check_camera_id(request.camera_id, "camera_id")
        before = await self.store.get(camera_id)
        record = await self.store.decommission(camera_id, request.reason.strip()[:500])
        await self.manager.forget(record, was_wanted=before.stream_wanted and not before.decommissioned)
        return camera_pb2.DecommissionCameraResponse(camera=camera_to_proto(record))

    async def StartStream(self, request: camera_pb2.StartStreamRequest,
                          context: grpc.aio.ServicerContext | None) -> camera_pb2.StartStreamResponse:
        record = await self.manager.start(check_camera_id(request.camera_id, "camera_id"))
        return camera_pb2.StartStreamResponse(camera=camera_to_proto(record))

    async def StopStream(self, request: camera_pb2.StopStreamRequest,
                         context: grpc.aio.ServicerContext | None) -> camera_pb2.StopStreamResponse:
        record = await self.manager.stop(check_camera_id(request.camera_id, "camera_id"))
        return camera_pb2.StopStreamResponse(camera=camera_to_proto(record))


    async def ReportCameraStatus(self, request: camera_pb2.ReportCameraStatusRequest,
                                 context: grpc.aio.ServicerContext | None
                                 ) -> camera_pb2.ReportCameraStatusResponse:
        """A pole controller's or camera's power report: kept, and a `power` health event on change."""
        camera_id = check_camera_id(request.camera_id, "camera_id")
        if not request.HasField("status"):
            raise InvalidInput("status is required: the power source and battery level",
                               field="status")
        current = await self.store.get(camera_id)
        if current.decommissioned:
            raise FailedPrecondition(f"camera {camera_id} is decommissioned")
        record = await self.manager.report_power(camera_id, power_report(request.status), request.status)
        return camera_pb2.ReportCameraStatusResponse(camera=camera_to_proto(record))

    async def ListCamerasDown(self, request: camera_pb2.ListCamerasDownRequest,
                              context: grpc.aio.ServicerContext | None
                              ) -> camera_pb2.ListCamerasDownResponse:
        """Cameras down (and, if asked, at risk) in the zones the caller may see, with why."""
        obligations = _obligations()
        zones = obligations.get("zones")
        query = CameraQuery(zone=request.zone, include_decommissioned=False,
                            zones=tuple(zones) if isinstance(zones, list) else None,
                            cameras=tuple(obligations.get("cameras") or ()))
        size = _page_size(request.page.page_size, obligations)
        after = decode_page_token(request.page.page_token, query)
        rows = await self.store.health_of(query, after=after, limit=size + 1)
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = encode_page_token(rows[-1][0].id, query)
        response = camera_pb2.ListCamerasDownResponse()
        for camera, states in rows:
            conditions = [c for c in (judge(*state) for state in states) if c is not None]
            if not conditions or not (is_down(conditions) or request.include_warnings):
                continue
            entry = response.cameras.add(camera=camera_to_proto(camera))
            for condition in conditions:
                entry.conditions.append(condition_to_proto(condition))
        response.page.next_page_token = token
        return response


def condition_to_proto(condition: Condition) -> camera_pb2.CameraCondition:
    message = camera_pb2.CameraCondition(kind=condition.kind, state=condition.state, detail=condition.detail,
                                         down=condition.down)
    message.since.FromDatetime(condition.since)
    return message


def _page_size(asked: int, obligations: dict[str, Any]) -> int:
    """The page size: the caller's (0 = default), capped by the service and by policy's max_results."""
    if asked < 0:
        raise InvalidInput(f"page.page_size is {asked}; it must be >= 0 (0 = {DEFAULT_PAGE_SIZE})",
                           field="page.page_size")
    size = min(asked or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    cap = obligations.get("max_results")
    if isinstance(cap, int) and cap > 0:
        size = min(size, cap)
    return size


class FrameIngestServicer(camera_pb2_grpc.FrameIngestServiceServicer):
    """PushFrames: bad or over-rate frames are counted and explained in the reply; the stream goes on."""

    def __init__(self, store: CameraStore, manager: StreamManager) -> None:
        self.store, self.manager = store, manager

    async def PushFrames(self, request_iterator: AsyncIterator[camera_pb2.PushFramesRequest],
                         context: grpc.aio.ServicerContext | None) -> camera_pb2.PushFramesResponse:
        session: PushSession | None = None
        try:
            async for request in request_iterator:
                if session is None:
                    if not request.camera_id:
                        raise InvalidInput("the first PushFramesRequest of a stream must set camera_id",
                                           field="camera_id")
                    camera = await self.store.get(check_camera_id(request.camera_id, "camera_id"))
                    session = await self.manager.open_push(camera)
                elif request.camera_id and request.camera_id != session.camera.id:
                    session.wrong_camera(request.camera_id)
                    continue
                if request.HasField("status"):
                    await session.report_power(power_report(request.status), request.status)
                if request.image:
                    await session.push(request.image, _captured(request))
            if session is None:
                raise InvalidInput("the stream sent no message; the first must name the camera",
                                   field="camera_id")
            await session.finish()
        finally:
            if session is not None:
                await session.close()
        return camera_pb2.PushFramesResponse(
            frames_received=session.received, frames_published=session.stats.published,
            frames_rejected=session.tally.frames, rejections=session.tally.lines())


def camera_resolver(store: CameraStore) -> ResourceResolver:
    """Adds the stored camera's `zone`, `owner_agency` and `cameras` to the policy resource of calls
    naming a camera id, so policy judges the camera as registered, not as the caller describes it.

    For UpdateCamera a zone change also puts both zones in `zones` (the caller needs both) and a
    new owner in `new_owner_agency`. Unknown cameras add nothing (the servicer answers NOT_FOUND
    after policy, so existence does not leak to callers policy refuses).
    """

    async def resolve(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        update = isinstance(request, camera_pb2.UpdateCameraRequest)
        camera_id = request.camera.id if update else getattr(request, "camera_id", "")  # type: ignore[attr-defined]
        if not CAMERA_ID.fullmatch(camera_id or ""):
            return {}
        record = await store.find(camera_id)
        if record is None:
            return {}
        extra: dict[str, Any] = {"zone": record.zone, "owner_agency": record.owner_agency,
                                 "cameras": [record.id]}
        if update:
            assert isinstance(request, camera_pb2.UpdateCameraRequest)
            try:
                fields = mask_fields(list(request.update_mask.paths))
            except InvalidInput:
                return extra  # the servicer explains the bad mask
            new_zone, new_owner = request.camera.zone.strip(), request.camera.owner_agency.strip()
            if "zone" in fields and new_zone and new_zone != record.zone:
                extra["zones"] = sorted({record.zone, new_zone})
            if "owner_agency" in fields and new_owner and new_owner != record.owner_agency:
                extra["new_owner_agency"] = new_owner
        return extra

    return resolve

