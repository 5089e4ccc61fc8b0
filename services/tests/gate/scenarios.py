"""Realistic requests for every RPC of the contracts, as a given dev user would send them.

A caller states a purpose from its own agreement that covers the data it asks for, a case id, and
for biometric data a court authorization scoped to the zone it works in (DESIGN §5). The caller's
zone, cameras and purposes come from the agreement data (`policy/basira/agencies`), because that is
what a real client would be configured with; what the gate must *decide* is written elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from basira.v1 import (
    alert_pb2,
    analytics_pb2,
    audit_pb2,
    camera_pb2,
    common_pb2,
    search_pb2,
    watchlist_pb2,
)
from services.tests.support.protos import timestamp

from .harness import POLICY_DIR

AGREEMENTS: dict[str, Any] = {
    agency: spec["agreement"]
    for agency, spec in json.loads((POLICY_DIR / "basira/agencies/data.json").read_text()).items()}
PURPOSE_CLASSES: dict[str, list[str]] = {
    purpose: spec["data_classes"]
    for purpose, spec in json.loads((POLICY_DIR / "basira/purposes/data.json").read_text()).items()}
ZONE_CAMERA = {"medina": "cam-medina-01", "downtown": "cam-downtown-01", "port": "cam-port-01",
               "airport": "cam-airport-01", "ring-road": "cam-ring-01"}
CASE_ID = "CASE-2026-0042"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Caller:
    """Where a user of an agency works: a zone of its agreement (or, without one, the medina)."""

    user: str
    agency: str

    @property
    def agreement(self) -> dict[str, Any]:
        return AGREEMENTS.get(self.agency, {"zones": [], "cameras": [], "purposes": []})

    @property
    def zone(self) -> str:
        return (self.agreement["zones"] or ["medina"])[0]

    @property
    def camera(self) -> str:
        return ZONE_CAMERA[self.zone]

    @property
    def own_camera(self) -> str:
        """A camera granted one by one (body-worn, vehicle) if the agency has any, else a zone camera."""
        return (self.agreement["cameras"] or [self.camera])[0]

    def purpose_for(self, classes: set[str]) -> str:
        """The first purpose of the agreement that covers every class asked for, else its first one."""
        purposes = self.agreement["purposes"]
        for purpose in purposes:
            if classes <= set(PURPOSE_CLASSES.get(purpose, [])):
                return purpose
        return purposes[0] if purposes else ""


def court_order(zones: list[str], *, expires_in: timedelta = timedelta(days=30),
                issued_by: str = "court", auth_id: str = "AUTH-2026-17") -> common_pb2.Authorization:
    return common_pb2.Authorization(id=auth_id, issued_by=issued_by, scope_zones=zones,
                                    expires=timestamp(now() + expires_in))


def access(caller: Caller, classes: set[str]) -> common_pb2.AccessContext:
    """Purpose + case id; plus an authorization scoped to the caller's zone for biometric data."""
    context = common_pb2.AccessContext(purpose=caller.purpose_for(classes), case_id=CASE_ID)
    if "biometric" in classes:
        context.authorization.CopyFrom(court_order([caller.zone]))
    return context


def follow_access(caller: Caller, classes: set[str]) -> common_pb2.AccessContext:
    """A live follow always needs an authorization (its expiry ends the follow)."""
    context = access(caller, classes)
    if not context.HasField("authorization"):
        context.authorization.CopyFrom(court_order([caller.zone]))
    return context


def last_day() -> common_pb2.TimeRange:
    return common_pb2.TimeRange(start=timestamp(now() - timedelta(days=1)), end=timestamp(now()))


def scope(caller: Caller) -> search_pb2.SearchScope:
    return search_pb2.SearchScope(zone=caller.zone, time=last_day())


LEGAL_BASIS = watchlist_pb2.LegalBasis(kind="court-order", reference="ORD-2026-17", issued_by="court")

# action data classes a caller states a purpose for (see ACTION_CLASSES in the matrix for decisions)
Builder = Callable[[Caller, set[str]], Message | list[Message]]
REQUESTS: dict[str, Builder] = {
    "/basira.v1.CameraService/RegisterCamera": lambda c, k: camera_pb2.RegisterCameraRequest(
        camera=camera_pb2.Camera(id="cam-new-01", name="New junction camera", zone=c.zone,
                                 kind=camera_pb2.CAMERA_KIND_FIXED, owner_agency=c.agency,
                                 source_url="rtsp://10.0.0.9/stream1", analysis_fps=2.0)),
    "/basira.v1.CameraService/UpdateCamera": lambda c, k: camera_pb2.UpdateCameraRequest(
        camera=camera_pb2.Camera(id=c.camera, name="Renamed", zone=c.zone)),
    "/basira.v1.CameraService/GetCamera": lambda c, k: camera_pb2.GetCameraRequest(camera_id=c.camera),
    "/basira.v1.CameraService/ListCameras": lambda c, k: camera_pb2.ListCamerasRequest(zone=c.zone),
    "/basira.v1.CameraService/DecommissionCamera": lambda c, k: camera_pb2.DecommissionCameraRequest(
        camera_id=c.camera, reason="replaced by a new model"),
    "/basira.v1.CameraService/StartStream": lambda c, k: camera_pb2.StartStreamRequest(camera_id=c.camera),
    "/basira.v1.CameraService/StopStream": lambda c, k: camera_pb2.StopStreamRequest(camera_id=c.camera),
    "/basira.v1.CameraService/ListCameraHealth": lambda c, k: camera_pb2.ListCameraHealthRequest(
        zone=c.zone),
    "/basira.v1.CameraService/StreamCameraHealth": lambda c, k: camera_pb2.StreamCameraHealthRequest(
        zones=[c.zone]),
    "/basira.v1.FrameIngestService/PushFrames": lambda c, k: [
        camera_pb2.PushFramesRequest(camera_id=c.own_camera, image=JPEG, captured=timestamp(now())),
        camera_pb2.PushFramesRequest(image=JPEG, captured=timestamp(now()))],
    "/basira.v1.AnalyticsService/DetectFaces": lambda c, k: analytics_pb2.DetectFacesRequest(
        image=JPEG, access=access(c, k)),
    "/basira.v1.AnalyticsService/EmbedFace": lambda c, k: analytics_pb2.EmbedFaceRequest(
        image=JPEG, access=access(c, k)),
    "/basira.v1.AnalyticsService/ReadPlates": lambda c, k: analytics_pb2.ReadPlatesRequest(
        image=JPEG, access=access(c, k)),
    "/basira.v1.WatchlistService/CreateWatchlist": lambda c, k: watchlist_pb2.CreateWatchlistRequest(
        watchlist=watchlist_pb2.Watchlist(name="Missing persons", owner_agency=c.agency),
        access=access(c, k)),
    "/basira.v1.WatchlistService/ListWatchlists": lambda c, k: watchlist_pb2.ListWatchlistsRequest(),
    "/basira.v1.WatchlistService/EnrolSubject": lambda c, k: watchlist_pb2.EnrolSubjectRequest(
        watchlist_id="wl-1", label="subject A", legal_basis=LEGAL_BASIS,
        expires=timestamp(now() + timedelta(days=20)), images=[JPEG], access=access(c, k)),
    "/basira.v1.WatchlistService/RemoveSubject": lambda c, k: watchlist_pb2.RemoveSubjectRequest(
        watchlist_id="wl-1", subject_id="subj-1", reason="order lifted", access=access(c, k)),
    "/basira.v1.WatchlistService/AddHotlistPlate": lambda c, k: watchlist_pb2.AddHotlistPlateRequest(
        entry=watchlist_pb2.HotlistEntry(plate="12345B6", country="MA",
                                         reason=watchlist_pb2.HOTLIST_REASON_STOLEN,
                                         legal_basis=LEGAL_BASIS, owner_agency=c.agency,
                                         expires=timestamp(now() + timedelta(days=20))),
        access=access(c, k)),
    "/basira.v1.WatchlistService/RemoveHotlistPlate": lambda c, k: watchlist_pb2.RemoveHotlistPlateRequest(
        entry_id="hl-1", reason="vehicle recovered", access=access(c, k)),
    "/basira.v1.WatchlistService/ListHotlist": lambda c, k: watchlist_pb2.ListHotlistRequest(),
    "/basira.v1.SearchService/SearchPlates": lambda c, k: search_pb2.SearchPlatesRequest(
        plate="12345B6", mode=search_pb2.PLATE_MATCH_MODE_EXACT, scope=scope(c), access=access(c, k)),
    "/basira.v1.SearchService/SearchFaces": lambda c, k: search_pb2.SearchFacesRequest(
        image=JPEG, scope=scope(c), access=access(c, k)),
    "/basira.v1.SearchService/ListSightings": lambda c, k: search_pb2.ListSightingsRequest(
        kind=search_pb2.SIGHTING_KIND_PLATE, scope=scope(c), access=access(c, k)),
    "/basira.v1.SearchService/GetTrajectory": lambda c, k: search_pb2.GetTrajectoryRequest(
        plate="12345B6", scope=scope(c), access=access(c, k)),
    "/basira.v1.SearchService/GetEvidence": lambda c, k: search_pb2.GetEvidenceRequest(
        snapshot_id="snap-1", access=access(c, k)),
    "/basira.v1.SearchService/GetCounts": lambda c, k: search_pb2.GetCountsRequest(
        camera_ids=[c.camera], time=last_day(), access=access(c, k)),
    "/basira.v1.SearchService/GetCameraPreview": lambda c, k: search_pb2.GetCameraPreviewRequest(
        camera_id=c.camera),
    "/basira.v1.AlertService/StreamAlerts": lambda c, k: alert_pb2.StreamAlertsRequest(zones=[c.zone]),
    "/basira.v1.AlertService/ListAlerts": lambda c, k: alert_pb2.ListAlertsRequest(zones=[c.zone]),
    "/basira.v1.AlertService/AcknowledgeAlert": lambda c, k: alert_pb2.AcknowledgeAlertRequest(
        alert_id="alert-1", note="on it"),
    "/basira.v1.AlertService/ConfirmMatch": lambda c, k: alert_pb2.ConfirmMatchRequest(
        alert_id="alert-1", note="same person"),
    "/basira.v1.AlertService/RejectMatch": lambda c, k: alert_pb2.RejectMatchRequest(
        alert_id="alert-1", reason="different person"),
    "/basira.v1.AlertService/EscalateAlert": lambda c, k: alert_pb2.EscalateAlertRequest(
        alert_id="alert-1", escalate_to="national-unit", note="armed"),
    "/basira.v1.AlertService/StartFollow": lambda c, k: alert_pb2.StartFollowRequest(
        plate="12345B6", access=follow_access(c, k)),
    "/basira.v1.AlertService/StopFollow": lambda c, k: alert_pb2.StopFollowRequest(
        follow_id="follow-1", reason="vehicle stopped"),
    "/basira.v1.AlertService/ListFollows": lambda c, k: alert_pb2.ListFollowsRequest(),
    "/basira.v1.CameraService/ReportCameraStatus": lambda c, k: camera_pb2.ReportCameraStatusRequest(
        camera_id=c.camera, status=camera_pb2.DeviceStatus(power_source=camera_pb2.POWER_SOURCE_SOLAR,
                                                           battery_percent=55)),
    "/basira.v1.CameraService/ListCamerasDown": lambda c, k: camera_pb2.ListCamerasDownRequest(zone=c.zone),
    "/basira.v1.AuditService/QueryAccessLog": lambda c, k: audit_pb2.QueryAccessLogRequest(
        agency="police", time=last_day(), access=access(c, k)),
    "/basira.v1.AuditService/GetTreeHead": lambda c, k: audit_pb2.GetTreeHeadRequest(),
    "/basira.v1.AuditService/GetInclusionProof": lambda c, k: audit_pb2.GetInclusionProofRequest(
        index=0, tree_size=1),
    "/basira.v1.AuditService/GetConsistencyProof": lambda c, k: audit_pb2.GetConsistencyProofRequest(
        first_size=1, second_size=2),
    "/basira.v1.AuditService/ExportLog": lambda c, k: audit_pb2.ExportLogRequest(
        recipients=["data-protection-authority"], from_index=0, access=access(c, k)),
    "/basira.v1.AuditService/ProveAccess": lambda c, k: audit_pb2.ProveAccessRequest(
        snapshot_ids=["snap-1"], recipients=["public-prosecutor"], access=access(c, k)),
}
