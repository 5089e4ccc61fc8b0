"""SearchService: protobuf ⇄ search domain (store queries, fuzzy ranking, masking), nothing else."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import grpc
from google.protobuf.message import Message
from nats.js import JetStreamContext

from basira.common import gate as gate_module
from basira.common.auth import Subject
from basira.common.errors import FailedPrecondition, InvalidInput, NotFound, Unauthenticated
from basira.common.gate import Gate
from basira.common.plate_text import PlateTextError, normalize_plate
from basira.common.timestamps import to_datetime
from basira.search.config import SearchSettings
from basira.search.domain import (
    KIND_FACE,
    KIND_PLATE,
    GrantedScope,
    PageCursor,
    Rect,
    SightingFilter,
    SightingRow,
    collapse_visits,
    decode_page_token,
    encode_page_token,
    page_size,
    query_fingerprint,
)
from basira.search.face_query import FaceQuery, bounded_window, window_days
from basira.search.masking import find_faces_in_jpeg, render_evidence
from basira.search.plate_index import plan_fuzzy, rank_candidates
from basira.search.previews import latest_preview, plate_rects
from basira.search.store import SearchStore
from basira.search.trajectory import SpeedLimits, legs, passages
from basira.v1 import analytics_pb2, common_pb2, search_pb2, search_pb2_grpc

NO_FACE_TO_FOLLOW = "sighting {} is a face without an indexed embedding; its person cannot be followed"
UNMASK_ACTION = "evidence.unmask"


def _obligations() -> dict[str, Any]:
    decision = gate_module.current_decision.get()
    return dict(decision.obligations) if decision is not None else {}


def _subject() -> Subject:
    subject = gate_module.current_subject.get()
    if subject is None:
        raise Unauthenticated("no authenticated subject for this call")
    return subject


_when = to_datetime


def _time_range(rng: common_pb2.TimeRange, field: str) -> tuple[datetime | None, datetime | None]:
    start, end = _when(rng.start), _when(rng.end)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("time.end must be after time.start", field=field)
    return start, end


def _filter(scope: search_pb2.SearchScope, granted: GrantedScope) -> SightingFilter:
    start, end = _time_range(scope.time, "scope.time")
    return SightingFilter(time_from=start, time_to=end, cameras=tuple(sorted(set(scope.camera_ids))),
                          zone=scope.zone, granted=granted)


def _box(rect: Rect | None) -> common_pb2.Box | None:
    return common_pb2.Box(x=rect.x, y=rect.y, width=rect.width, height=rect.height) if rect else None


def sighting_to_proto(row: SightingRow) -> search_pb2.Sighting:
    message = search_pb2.Sighting(
        id=row.id, kind=cast(search_pb2.SightingKind, row.kind), camera_id=row.camera_id, zone=row.zone,
        distance=row.distance,
        snapshot_id=row.snapshot_id,
    )
    if row.kind == KIND_FACE:
        if row.box is not None:
            message.face.CopyFrom(common_pb2.Box(x=row.box.x, y=row.box.y, width=row.box.width,
                                                 height=row.box.height))
    else:
        message.plate.CopyFrom(analytics_pb2.PlateReading(
            text=row.plate_key, display=row.plate_display, country=row.plate_country,
            confidence=row.confidence, box=_box(row.box)))
    message.seen.FromDatetime(row.seen)
    if row.latitude is not None and row.longitude is not None:
        message.position.latitude, message.position.longitude = row.latitude, row.longitude
    return message


def trajectory_response(visits: list[SightingRow], limits: SpeedLimits, passage_gap_s: float
                        ) -> search_pb2.GetTrajectoryResponse:
    """Time-ordered visits with each move judged for speed, and grouped into passages."""
    response = search_pb2.GetTrajectoryResponse(sightings=[sighting_to_proto(r) for r in visits],
                                                max_speed_kmh=limits.max_kmh)
    for move in legs(visits, limits):
        response.legs.add(from_index=move.from_index, to_index=move.to_index, distance_m=move.distance_m,
                          seconds=move.seconds, speed_kmh=move.speed_kmh, implausible=move.implausible,
                          reason=move.reason)
    for span in passages(visits, passage_gap_s):
        passage = response.passages.add(first_index=span.first_index, last_index=span.last_index,
                                         camera_ids=list(span.camera_ids))
        passage.start.FromDatetime(span.start)
        passage.end.FromDatetime(span.end)
    return response


def _fingerprint(method: str, scope: Message, granted: GrantedScope, *parts: Any) -> str:
    return query_fingerprint(method, scope.SerializeToString(deterministic=True).hex(),
                             granted.zones, granted.cameras, *parts)


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    """Runs behind the gate: the subject, decision and context are in gate's contextvars."""

    def __init__(self, store: SearchStore, gate: Gate, settings: SearchSettings,
                 js: JetStreamContext | None = None) -> None:
        self.store, self.gate, self.settings, self.js = store, gate, settings, js
        self.faces = FaceQuery(settings.face_engine, settings.face_quality)

    async def GetCameraPreview(self, request: search_pb2.GetCameraPreviewRequest,
                               context: grpc.aio.ServicerContext | None
                               ) -> search_pb2.GetCameraPreviewResponse:
        """The camera's latest analysed frame, faces and plates masked unless policy says otherwise."""
        if not request.camera_id:
            raise InvalidInput("camera_id is required", field="camera_id")
        obligations = _obligations()
        event = await latest_preview(self.js, request.camera_id) if self.js is not None else None
        granted = GrantedScope.from_obligations(obligations)
        if event is None or not granted.allows(event.zone, event.camera_id):
            raise NotFound(f"no recent frame of camera {request.camera_id!r}")
        mask_faces = bool(obligations.get("mask_faces", True))
        mask_plates = bool(obligations.get("mask_plates", True))
        faces = (await asyncio.to_thread(find_faces_in_jpeg, event.jpeg,
                                         min_size_px=self.settings.face_min_size_px)) if mask_faces else []
        shown = await asyncio.to_thread(render_evidence, event.jpeg, plate_rects(event), faces,
                                        mask_faces=mask_faces, mask_plates=mask_plates,
                                        quality=self.settings.evidence_jpeg_quality)
        return search_pb2.GetCameraPreviewResponse(image=shown.jpeg, faces_masked=shown.faces_masked,
                                                   plates_masked=shown.plates_masked,
                                                   camera_id=event.camera_id, captured=event.captured)

    def _page_size(self, page: common_pb2.PageRequest, obligations: dict[str, Any]) -> int:
        return page_size(page.page_size, default=self.settings.default_page_size,
                         maximum=self.settings.max_page_size,
                         obligation_max=obligations.get("max_results"))

    async def _page(self, flt: SightingFilter, page: common_pb2.PageRequest, size: int, fingerprint: str,
                    *, faces: bool = False, **query: Any) -> tuple[list[SightingRow], str]:
        cursor = decode_page_token(page.page_token, fingerprint)
        if faces:
            rows = await self.store.list_face_sightings(flt, limit=size + 1, cursor=cursor)
        else:
            rows = await self.store.list_sightings(flt, limit=size + 1, cursor=cursor, **query)
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            token = encode_page_token(PageCursor(rows[-1].seen, rows[-1].id), fingerprint)
        return rows, token

    async def SearchPlates(self, request: search_pb2.SearchPlatesRequest,
                           context: grpc.aio.ServicerContext | None) -> search_pb2.SearchPlatesResponse:
        try:
            key = normalize_plate(request.plate)
        except PlateTextError as exc:
            raise InvalidInput(exc.message, field="plate") from exc
        obligations = _obligations()
        granted = GrantedScope.from_obligations(obligations)
        flt = _filter(request.scope, granted)
        size = self._page_size(request.page, obligations)
        fuzzy = request.mode == search_pb2.PLATE_MATCH_MODE_FUZZY
        if fuzzy:
            max_distance = request.max_distance or self.settings.default_fuzzy_distance
            if not 0 <= max_distance <= self.settings.max_fuzzy_distance:
                raise InvalidInput(f"max_distance must be within [0, {self.settings.max_fuzzy_distance}]",
                                   field="max_distance")
            plan = plan_fuzzy(key, max_distance)
            candidates = await self.store.fuzzy_candidates(plan, limit=self.settings.max_fuzzy_candidates)
            distances = rank_candidates(key, candidates, max_distance)
        else:
            max_distance = 0.0
            distances = {key: 0.0}
        fingerprint = _fingerprint("plates", request.scope, granted, key, fuzzy, max_distance)
        rows, token = await self._page(flt, request.page, size, fingerprint,
                                       plate_keys=sorted(distances), distances=distances)
        return search_pb2.SearchPlatesResponse(sightings=[sighting_to_proto(r) for r in rows],
                                               page=common_pb2.PageResponse(next_page_token=token))

    async def SearchFaces(self, request: search_pb2.SearchFacesRequest,
                          context: grpc.aio.ServicerContext | None) -> search_pb2.SearchFacesResponse:
        """Top-k face sightings nearest the image's face, where and when policy lets the caller look.

        Policy has required the purpose, case id and authorization, and granted zones/cameras and a
        result limit (obligations), and the longest window it may cover (`max_window_days`, never
        beyond `face_search_max_window_days`).
        """
        obligations = _obligations()
        granted = GrantedScope.from_obligations(obligations)
        flt = bounded_window(_filter(request.scope, granted), datetime.now(UTC),
                             window_days(obligations, self.settings.face_search_max_window_days))
        size = self._page_size(request.page, obligations)
        if request.page.page_token:
            raise InvalidInput("face search returns one page of the nearest faces; ask a larger page_size",
                               field="page.page_token")
        embedding, threshold = await asyncio.to_thread(self.faces.embed, request.image)
        max_distance = request.max_distance or threshold
        if not 0 < max_distance <= 1:
            raise InvalidInput(f"max_distance must be within (0, 1], got {max_distance}",
                               field="max_distance")
        rows = await self.store.search_faces(embedding.model, embedding.vector, flt,
                                             max_distance=max_distance, limit=size,
                                             ef_search=self.settings.face_search_ef)
        return search_pb2.SearchFacesResponse(sightings=[sighting_to_proto(r) for r in rows])

    async def ListSightings(self, request: search_pb2.ListSightingsRequest,
                            context: grpc.aio.ServicerContext | None) -> search_pb2.ListSightingsResponse:
        """Sightings newest first, where policy lets the caller look, a page at a time.

        Face sightings (kind FACE) are biometric to policy (`sightings_resolver`: purpose, case id and
        authorization, a role that may search faces, a smaller page); their window is bounded like a
        face search's. Images stay behind GetEvidence, masked unless an unmasking is authorised.
        """
        faces = request.kind == KIND_FACE
        obligations = _obligations()
        granted = GrantedScope.from_obligations(obligations)
        flt = _filter(request.scope, granted)
        if faces:
            flt = bounded_window(flt, datetime.now(UTC),
                                 window_days(obligations, self.settings.face_search_max_window_days))
        size = self._page_size(request.page, obligations)
        fingerprint = _fingerprint("face-sightings" if faces else "sightings", request.scope, granted)
        rows, token = await self._page(flt, request.page, size, fingerprint, faces=faces)
        return search_pb2.ListSightingsResponse(sightings=[sighting_to_proto(r) for r in rows],
                                                page=common_pb2.PageResponse(next_page_token=token))

    async def GetTrajectory(self, request: search_pb2.GetTrajectoryRequest,
                            context: grpc.aio.ServicerContext | None) -> search_pb2.GetTrajectoryResponse:
        granted = GrantedScope.from_obligations(_obligations())
        flt = _filter(request.scope, granted)
        if request.plate:
            try:
                key = normalize_plate(request.plate)
            except PlateTextError as exc:
                raise InvalidInput(exc.message, field="plate") from exc
        elif request.sighting_id and (face := await self.store.face_sighting(request.sighting_id)):
            return await self._face_trajectory(*face, flt, granted)
        elif request.sighting_id:
            start = await self.store.sighting(request.sighting_id)
            if start is None or not granted.allows(start.zone, start.camera_id):
                raise NotFound(f"no sighting {request.sighting_id!r}")
            if start.kind == KIND_FACE:
                raise FailedPrecondition(NO_FACE_TO_FOLLOW.format(start.id))
            key = start.plate_key
        else:
            raise InvalidInput("give a plate or a sighting_id to follow", field="plate")
        rows = await self.store.plate_trajectory(key, flt, limit=self.settings.trajectory_max_sightings)
        return trajectory_response(collapse_visits(rows), self.speed_limits(KIND_PLATE),
                                   self.settings.passage_gap_s)

    async def _face_trajectory(self, start: SightingRow, model: str, vector: list[float], flt: SightingFilter,
                               granted: GrantedScope) -> search_pb2.GetTrajectoryResponse:
        """The person of a face sighting across cameras: their sightings within the match distance."""
        if not granted.allows(start.zone, start.camera_id):
            raise NotFound(f"no sighting {start.id!r}")
        engine_model, threshold = await asyncio.to_thread(self.faces.engine_model)
        if model != engine_model:
            raise FailedPrecondition(f"sighting {start.id} was embedded by face model {model}, not the "
                                     f"configured {engine_model}; its person cannot be followed")
        flt = bounded_window(flt, datetime.now(UTC),
                             window_days(_obligations(), self.settings.face_search_max_window_days))
        rows = await self.store.search_faces(model, vector, flt, max_distance=threshold,
                                             limit=self.settings.trajectory_max_sightings,
                                             ef_search=max(self.settings.face_search_ef, 400))
        rows.sort(key=lambda r: (r.seen, r.id))
        return trajectory_response(collapse_visits(rows), self.speed_limits(KIND_FACE),
                                   self.settings.passage_gap_s)

    def speed_limits(self, kind: int) -> SpeedLimits:
        """Vehicles for plates, people for faces (configuration)."""
        s = self.settings
        top = s.max_person_speed_kmh if kind == KIND_FACE else s.max_vehicle_speed_kmh
        return SpeedLimits(max_kmh=top, min_distance_m=s.trajectory_min_distance_m)

    async def GetEvidence(self, request: search_pb2.GetEvidenceRequest,
                          context: grpc.aio.ServicerContext | None) -> search_pb2.GetEvidenceResponse:
        if not request.snapshot_id:
            raise InvalidInput("snapshot_id is required", field="snapshot_id")
        obligations = _obligations()
        snapshot = await self.store.snapshot(request.snapshot_id)
        if snapshot is None or not GrantedScope.from_obligations(obligations).allows(snapshot.zone,
                                                                                   snapshot.camera_id):
            raise NotFound(f"no snapshot {request.snapshot_id!r}")
        plates = await self.store.plate_boxes(snapshot.snapshot_id)
        faces = await asyncio.to_thread(find_faces_in_jpeg, snapshot.jpeg,
                                        min_size_px=self.settings.face_min_size_px)
        faces += await self.store.face_boxes(snapshot.snapshot_id)  # what the face pipeline found too
        mask_faces = mask_plates = True
        if request.unmask:
            act_obligations = await self._authorize_unmask(snapshot.snapshot_id, snapshot.camera_id,
                                                           snapshot.zone, snapshot.owner_agency,
                                                           faces=len(faces), plates=len(plates),
                                                           reason=request.reason.strip()[:500])
            mask_faces = bool(act_obligations.get("mask_faces"))
            mask_plates = bool(act_obligations.get("mask_plates"))
        mask_faces = mask_faces or bool(obligations.get("mask_faces"))
        mask_plates = mask_plates or bool(obligations.get("mask_plates"))
        evidence = await asyncio.to_thread(render_evidence, snapshot.jpeg, plates, faces,
                                           mask_faces=mask_faces, mask_plates=mask_plates,
                                           quality=self.settings.evidence_jpeg_quality)
        response = search_pb2.GetEvidenceResponse(image=evidence.jpeg, faces_masked=evidence.faces_masked,
                                                  plates_masked=evidence.plates_masked,
                                                  camera_id=snapshot.camera_id)
        response.seen.FromDatetime(snapshot.seen)
        return response

    async def _authorize_unmask(self, snapshot_id: str, camera_id: str, zone: str, owner_agency: str,
                                *, faces: int, plates: int, reason: str = "") -> dict[str, Any]:
        """The logged act of unmasking (with its stated reason); biometric if the image shows faces.
        Raises PermissionDenied."""
        resource = {"snapshot_id": snapshot_id, "cameras": [camera_id], "zone": zone,
                    "owner_agency": owner_agency, "data_class": "biometric" if faces else "plate",
                    "faces": faces, "plates": plates}
        if reason:
            resource["reason"] = reason
        decision = await self.gate.authorize_act(_subject(), UNMASK_ACTION, resource,
                                                 gate_module.current_context.get() or {}, result_count=1)
        return dict(decision.obligations)

    async def GetCounts(self, request: search_pb2.GetCountsRequest,
                        context: grpc.aio.ServicerContext | None) -> search_pb2.GetCountsResponse:
        obligations = _obligations()
        start, end = _time_range(request.time, "time")
        most = self.settings.max_count_buckets
        limit = page_size(0, default=most, maximum=most, obligation_max=obligations.get("max_results"))
        rows = await self.store.counts(sorted(set(request.camera_ids)), start, end,
                                       GrantedScope.from_obligations(obligations), limit=limit)
        buckets = []
        for row in rows:
            bucket = search_pb2.CountBucket(camera_id=row.camera_id, vehicles=row.vehicles,
                                            persons=row.persons)
            bucket.minute.FromDatetime(row.minute)
            buckets.append(bucket)
        return search_pb2.GetCountsResponse(buckets=buckets)


def evidence_resolver(store: SearchStore) -> Any:
    """Resource resolver for GetEvidence: the snapshot's camera, zone and owner agency for policy."""

    async def resolve(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        snapshot_id = getattr(request, "snapshot_id", "")
        place = await store.snapshot_place(snapshot_id) if snapshot_id else None
        extra: dict[str, Any] = {"unmask_requested": bool(getattr(request, "unmask", False))}
        if place is not None:
            camera_id, zone, owner_agency = place
            extra.update({"cameras": [camera_id], "zone": zone, "owner_agency": owner_agency})
        return extra

    return resolve


def trajectory_resolver(store: SearchStore) -> Any:
    """Resource resolver for GetTrajectory: following the person of a face sighting is biometric."""

    async def resolve(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
        sighting_id = getattr(request, "sighting_id", "")
        if sighting_id and not getattr(request, "plate", "") and await store.face_sighting(sighting_id):
            return {"data_class": "biometric"}
        return {}

    return resolve


async def sightings_resolver(request: Message, subject: Subject, resource: dict[str, Any]) -> dict[str, Any]:
    """Resource resolver for ListSightings: face sightings are biometric data, whatever the contract's
    default class (plate), so the policy asks for what biometric data needs (grant, authorization)."""
    kind = getattr(request, "kind", search_pb2.SIGHTING_KIND_UNSPECIFIED)
    return {"data_class": "biometric"} if kind == KIND_FACE else {}
