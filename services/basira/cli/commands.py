"""CLI commands that call the platform's gRPC APIs as a signed-in user."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from basira.cli.session import Session
from basira.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    search_pb2,
    search_pb2_grpc,
    watchlist_pb2,
    watchlist_pb2_grpc,
)


def _session(args: argparse.Namespace) -> Session:
    return Session.sign_in(Path(args.data_dir), args.user, args.password)


def _show(message: Message) -> None:
    print(json_format.MessageToJson(message, preserving_proto_field_name=True))


def _timestamp(text: str) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC))
    return ts


def _access(args: argparse.Namespace) -> common_pb2.AccessContext:
    access = common_pb2.AccessContext(purpose=args.purpose or "", case_id=args.case or "")
    if getattr(args, "authorization", None):
        access.authorization.id = args.authorization
        access.authorization.issued_by = args.authorization_issuer
        if args.authorization_expires:
            access.authorization.expires.CopyFrom(_timestamp(args.authorization_expires))
        access.authorization.scope_zones.extend(getattr(args, "authorization_zone", None) or [])
    return access


def camera_add(args: argparse.Namespace) -> int:
    s = _session(args)
    kind = f"CAMERA_KIND_{args.kind.upper().replace('-', '_')}"
    camera = camera_pb2.Camera(id=args.id, name=args.name or args.id, kind=kind, zone=args.zone,
                               owner_agency=args.agency, source_url=args.source, analysis_fps=args.fps,
                               loop=args.loop)
    if args.lat is not None and args.lon is not None:
        camera.position.latitude, camera.position.longitude = args.lat, args.lon
    stub = camera_pb2_grpc.CameraServiceStub(s.channel("ingest"))
    _show(stub.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera), metadata=s.metadata))
    if args.start:
        _show(stub.StartStream(camera_pb2.StartStreamRequest(camera_id=args.id), metadata=s.metadata))
    return 0


def camera_list(args: argparse.Namespace) -> int:
    s = _session(args)
    stub = camera_pb2_grpc.CameraServiceStub(s.channel("ingest"))
    _show(stub.ListCameras(camera_pb2.ListCamerasRequest(zone=args.zone or ""), metadata=s.metadata))
    return 0


def camera_stream(args: argparse.Namespace) -> int:
    s = _session(args)
    stub = camera_pb2_grpc.CameraServiceStub(s.channel("ingest"))
    if args.action == "start":
        _show(stub.StartStream(camera_pb2.StartStreamRequest(camera_id=args.id), metadata=s.metadata))
    else:
        _show(stub.StopStream(camera_pb2.StopStreamRequest(camera_id=args.id), metadata=s.metadata))
    return 0


def hotlist_add(args: argparse.Namespace) -> int:
    s = _session(args)
    entry = watchlist_pb2.HotlistEntry(
        plate=args.plate, country=args.country or "",
        reason=f"HOTLIST_REASON_{args.reason.upper()}",
        legal_basis=watchlist_pb2.LegalBasis(kind=args.basis, reference=args.reference,
                                             issued_by=args.issued_by),
        confusable_tolerant=not args.exact, note=args.note or "")
    entry.expires.CopyFrom(_timestamp(args.expires))
    stub = watchlist_pb2_grpc.WatchlistServiceStub(s.channel("analytics"))
    _show(stub.AddHotlistPlate(watchlist_pb2.AddHotlistPlateRequest(entry=entry, access=_access(args)),
                               metadata=s.metadata))
    return 0


def hotlist_list(args: argparse.Namespace) -> int:
    s = _session(args)
    stub = watchlist_pb2_grpc.WatchlistServiceStub(s.channel("analytics"))
    _show(stub.ListHotlist(watchlist_pb2.ListHotlistRequest(include_expired=args.expired),
                           metadata=s.metadata))
    return 0


def _scope(scope: search_pb2.SearchScope, args: argparse.Namespace) -> None:
    if args.zone:
        scope.zone = args.zone
    if args.since:
        scope.time.start.CopyFrom(_timestamp(args.since))


def search_plate(args: argparse.Namespace) -> int:
    s = _session(args)
    request = search_pb2.SearchPlatesRequest(
        plate=args.plate, access=_access(args), max_distance=args.max_distance,
        mode=search_pb2.PLATE_MATCH_MODE_FUZZY if args.fuzzy else search_pb2.PLATE_MATCH_MODE_EXACT)
    _scope(request.scope, args)
    stub = search_pb2_grpc.SearchServiceStub(s.channel("search"))
    _show(stub.SearchPlates(request, metadata=s.metadata))
    return 0


def watchlist_create(args: argparse.Namespace) -> int:
    s = _session(args)
    stub = watchlist_pb2_grpc.WatchlistServiceStub(s.channel("analytics"))
    watchlist = watchlist_pb2.Watchlist(name=args.name, description=args.description or "")
    request = watchlist_pb2.CreateWatchlistRequest(watchlist=watchlist, access=_access(args))
    _show(stub.CreateWatchlist(request, metadata=s.metadata))
    return 0


def watchlist_list(args: argparse.Namespace) -> int:
    s = _session(args)
    stub = watchlist_pb2_grpc.WatchlistServiceStub(s.channel("analytics"))
    _show(stub.ListWatchlists(watchlist_pb2.ListWatchlistsRequest(), metadata=s.metadata))
    return 0


def watchlist_enrol(args: argparse.Namespace) -> int:
    """Enrol one subject from one or more photos (each must show exactly one clear face)."""
    s = _session(args)
    request = watchlist_pb2.EnrolSubjectRequest(
        watchlist_id=args.watchlist_id, label=args.label, images=[Path(p).read_bytes() for p in args.photos],
        legal_basis=watchlist_pb2.LegalBasis(kind=args.basis, reference=args.reference,
                                             issued_by=args.issued_by),
        access=_access(args))
    request.expires.CopyFrom(_timestamp(args.expires))
    stub = watchlist_pb2_grpc.WatchlistServiceStub(s.channel("analytics"))
    _show(stub.EnrolSubject(request, metadata=s.metadata))
    return 0


def search_face(args: argparse.Namespace) -> int:
    s = _session(args)
    request = search_pb2.SearchFacesRequest(image=Path(args.photo).read_bytes(), access=_access(args),
                                            max_distance=args.max_distance)
    _scope(request.scope, args)
    stub = search_pb2_grpc.SearchServiceStub(s.channel("search"))
    _show(stub.SearchFaces(request, metadata=s.metadata))
    return 0


def alerts_decide(args: argparse.Namespace) -> int:
    """Confirm (two different people are needed for a face match) or reject a match alert."""
    s = _session(args)
    stub = alert_pb2_grpc.AlertServiceStub(s.channel("alerting"))
    if args.decision == "confirm":
        _show(stub.ConfirmMatch(alert_pb2.ConfirmMatchRequest(alert_id=args.alert_id, note=args.note or ""),
                                metadata=s.metadata))
    else:
        _show(stub.RejectMatch(alert_pb2.RejectMatchRequest(alert_id=args.alert_id, reason=args.reason),
                               metadata=s.metadata))
    return 0


def alerts_stream(args: argparse.Namespace) -> int:
    s = _session(args)
    stub = alert_pb2_grpc.AlertServiceStub(s.channel("alerting"))
    request = alert_pb2.StreamAlertsRequest(zones=args.zone or [], after_sequence=args.after)
    try:
        for reply in stub.StreamAlerts(request, metadata=s.metadata):
            _show(reply.alert)
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 0
    return 0


def _signed_in(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=argparse.SUPPRESS)
    parser.add_argument("--user", help="user name (or BASIRA_USER)")
    parser.add_argument("--password", help="password (or BASIRA_PASSWORD)")


def _with_access(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--purpose", help="purpose from the agreement, e.g. theft-investigation")
    parser.add_argument("--case", help="case id, e.g. CASE-2026-0042")
    parser.add_argument("--authorization", help="authorization id (court order ...)")
    parser.add_argument("--authorization-issuer", default="court")
    parser.add_argument("--authorization-expires", help="RFC 3339 time")
    parser.add_argument("--authorization-zone", action="append", help="a zone the authorization covers")


def register(sub: Any) -> None:
    """Add the API commands to the top-level parser's subcommands."""
    camera = sub.add_parser("camera", help="register, list, start and stop cameras")
    cam = camera.add_subparsers(dest="camera_command", required=True, metavar="ACTION")
    add = cam.add_parser("add", help="register a camera (and optionally start reading it)")
    _signed_in(add)
    add.add_argument("id")
    add.add_argument("--name")
    add.add_argument("--kind", default="fixed", help="fixed, ptz, body-worn, vehicle-mounted, drone")
    add.add_argument("--zone", required=True)
    add.add_argument("--agency", required=True, help="owning agency")
    add.add_argument("--source", default="", help="rtsp://, http(s):// MJPEG, or a video file path")
    add.add_argument("--fps", type=float, default=2.0, help="analysis frames per second")
    add.add_argument("--loop", action="store_true", help="loop a file source")
    add.add_argument("--lat", type=float)
    add.add_argument("--lon", type=float)
    add.add_argument("--start", action="store_true", help="start reading the stream now")
    add.set_defaults(func=camera_add)
    lst = cam.add_parser("list", help="list cameras")
    _signed_in(lst)
    lst.add_argument("--zone")
    lst.set_defaults(func=camera_list)
    for action in ("start", "stop"):
        p = cam.add_parser(action, help=f"{action} reading a camera's stream")
        _signed_in(p)
        p.add_argument("id")
        p.set_defaults(func=camera_stream, action=action)

    hotlist = sub.add_parser("hotlist", help="plate hotlists (stolen, wanted ...)")
    hot = hotlist.add_subparsers(dest="hotlist_command", required=True, metavar="ACTION")
    hadd = hot.add_parser("add", help="add a plate with its reason, legal basis and expiry")
    _signed_in(hadd)
    _with_access(hadd)
    hadd.add_argument("plate")
    hadd.add_argument("--country")
    hadd.add_argument("--reason", default="stolen", help="stolen, wanted, amber_alert, uninsured, other")
    hadd.add_argument("--basis", default="stolen-vehicle-report", help="legal basis kind")
    hadd.add_argument("--reference", required=True, help="legal basis reference (report/warrant id)")
    hadd.add_argument("--issued-by", default="police")
    hadd.add_argument("--expires", required=True, help="RFC 3339 time the entry stops matching")
    hadd.add_argument("--exact", action="store_true", help="no OCR-confusable tolerance")
    hadd.add_argument("--note")
    hadd.set_defaults(func=hotlist_add)
    hls = hot.add_parser("list", help="list hotlist entries")
    _signed_in(hls)
    hls.add_argument("--expired", action="store_true", help="include expired entries")
    hls.set_defaults(func=hotlist_list)

    watchlist = sub.add_parser("watchlist", help="face watchlists: create, list, enrol subjects from photos")
    wl = watchlist.add_subparsers(dest="watchlist_command", required=True, metavar="ACTION")
    wcreate = wl.add_parser("create", help="create a face watchlist of your agency")
    _signed_in(wcreate)
    _with_access(wcreate)
    wcreate.add_argument("name")
    wcreate.add_argument("--description")
    wcreate.set_defaults(func=watchlist_create)
    wlist = wl.add_parser("list", help="your agency's watchlists")
    _signed_in(wlist)
    wlist.set_defaults(func=watchlist_list)
    wenrol = wl.add_parser("enrol", help="enrol a subject from photos (one clear face each)")
    _signed_in(wenrol)
    _with_access(wenrol)
    wenrol.add_argument("watchlist_id")
    wenrol.add_argument("photos", nargs="+")
    wenrol.add_argument("--label", required=True, help="case reference or pseudonym")
    wenrol.add_argument("--basis", default="arrest-warrant", help="legal basis kind")
    wenrol.add_argument("--reference", required=True, help="legal basis reference (warrant id)")
    wenrol.add_argument("--issued-by", default="court")
    wenrol.add_argument("--expires", required=True, help="RFC 3339 time the subject stops matching")
    wenrol.set_defaults(func=watchlist_enrol)

    search = sub.add_parser("search", help="investigations: find where a plate or a face was seen")
    srch = search.add_subparsers(dest="search_command", required=True, metavar="WHAT")
    plate = srch.add_parser("plate", help="exact or fuzzy plate search")
    _signed_in(plate)
    _with_access(plate)
    plate.add_argument("plate")
    plate.add_argument("--fuzzy", action="store_true")
    plate.add_argument("--max-distance", type=float, default=1.0)
    plate.add_argument("--zone")
    plate.add_argument("--since", help="RFC 3339 start time")
    plate.set_defaults(func=search_plate)
    fsearch = srch.add_parser("face", help="face search by image (needs a case and an authorization)")
    _signed_in(fsearch)
    _with_access(fsearch)
    fsearch.add_argument("photo")
    fsearch.add_argument("--max-distance", type=float, default=0.0, help="0: the engine's threshold")
    fsearch.add_argument("--zone")
    fsearch.add_argument("--since", help="RFC 3339 start time")
    fsearch.set_defaults(func=search_face)

    alerts = sub.add_parser("alerts", help="stream the command room's alerts")
    alr = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    stream = alr.add_parser("stream", help="print alerts as they arrive (Ctrl-C to stop)")
    _signed_in(stream)
    stream.add_argument("--zone", action="append")
    stream.add_argument("--after", type=int, default=0, help="resume after this alert sequence")
    stream.set_defaults(func=alerts_stream)
    confirm = alr.add_parser("confirm", help="confirm a match (a face match needs two different people)")
    _signed_in(confirm)
    confirm.add_argument("alert_id")
    confirm.add_argument("--note")
    confirm.set_defaults(func=alerts_decide, decision="confirm")
    reject = alr.add_parser("reject", help="reject a match, saying why")
    _signed_in(reject)
    reject.add_argument("alert_id")
    reject.add_argument("--reason", required=True)
    reject.set_defaults(func=alerts_decide, decision="reject")
