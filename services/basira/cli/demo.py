"""The demo `make demo` runs: sample cameras from ../shared/data/video feed the platform, a body-worn
camera pushes a photo of a hotlisted car, the command room is alerted, an investigator finds it; a
watchlisted face seen by the body camera needs two different operators to confirm it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from nats.aio.msg import Msg

from basira.cli.session import bearer_metadata, dev_user_token, load_endpoints
from basira.common.channels import open_channel
from basira.common.nats import connect
from basira.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    events_pb2,
    search_pb2,
    search_pb2_grpc,
    watchlist_pb2,
    watchlist_pb2_grpc,
)

REPO = Path(__file__).resolve().parents[3]
DATA = (REPO / ".." / "shared" / "data").resolve()
SAMPLE_CAMERAS = (
    ("cam-ring-01", "Ring road gantry", "ring-road", "video/car-detection.mp4"),
    ("cam-downtown-01", "Downtown entrance", "downtown", "video/one-by-one-person-detection.mp4"),
    ("cam-medina-01", "Medina street", "medina", "video/people-detection.gif"),
    ("cam-medina-02", "Medina square", "medina", "video/face-demographics-walking-and-pause.gif"),
)
BODYCAM = "bwc-police-01"
DEMO_PLATE_IMAGE = "plates/eu/eu3.jpg"
# Two photos of one person (faces/pairs/pairs.csv says "Yes"): one enrolled, one seen live.
DEMO_ENROL_FACE, DEMO_LIVE_FACE = "faces/pairs/img20.jpg", "faces/pairs/img21.jpg"
DEMO_WATCHLIST = "Demo: serious crime (court order)"


_meta = bearer_metadata


# Who to sign in as in the console (infra/keycloak/README.md has them all).
DEV_USERS = (("police-operator", "police command room (alerts, camera wall, map)"),
             ("police-operator2", "second police operator (two-person confirmation)"),
             ("police-investigator", "investigations, watchlists and hotlists"),
             ("gendarmerie-operator", "another agency's command room (receives escalations)"),
             ("oversight-auditor", "oversight: the access log and its verification"),
             ("privacy-officer", "policy and agreements"))


def _ts(when: datetime) -> common_pb2.TimeRange:
    rng = common_pb2.TimeRange()
    rng.start.FromDatetime(when)
    return rng


def register_cameras(endpoints: dict[str, str]) -> list[str]:
    """Register (or find already registered) the sample cameras and start their streams."""
    token = dev_user_token(endpoints["identity"], "police-admin")
    cameras = camera_pb2_grpc.CameraServiceStub(open_channel(endpoints["ingest"]))
    started = []
    for camera_id, name, zone, relative in SAMPLE_CAMERAS:
        source = DATA / relative
        if not source.exists():
            print(f"  (skipping {camera_id}: {source} not found)")
            continue
        camera = camera_pb2.Camera(id=camera_id, name=name, kind=camera_pb2.CAMERA_KIND_FIXED, zone=zone,
                                   owner_agency="police", source_url=str(source), analysis_fps=2.0,
                                   loop=True)
        try:
            cameras.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=camera), metadata=_meta(token))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
        cameras.StartStream(camera_pb2.StartStreamRequest(camera_id=camera_id), metadata=_meta(token))
        started.append(camera_id)
        print(f"  camera {camera_id:<16} {zone:<10} <- {relative}")
    body = camera_pb2.Camera(id=BODYCAM, name="Body-worn camera 01", kind=camera_pb2.CAMERA_KIND_BODY_WORN,
                             zone="medina", owner_agency="police", analysis_fps=5.0)
    try:
        cameras.RegisterCamera(camera_pb2.RegisterCameraRequest(camera=body), metadata=_meta(token))
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
    return started


def watch_alerts(endpoints: dict[str, str], seen: list[alert_pb2.Alert], stop: threading.Event) -> None:
    """The police command room's alert stream, in a thread, printing what arrives."""
    token = dev_user_token(endpoints["identity"], "police-operator")
    stub = alert_pb2_grpc.AlertServiceStub(open_channel(endpoints["alerting"]))
    call = stub.StreamAlerts(alert_pb2.StreamAlertsRequest(), metadata=_meta(token))
    threading.Thread(target=lambda: (stop.wait(), call.cancel()), daemon=True).start()
    try:
        for reply in call:
            seen.append(reply.alert)
            a = reply.alert
            print(f"  ALERT to the police command room: {a.summary} (sightings={a.sightings}, "
                  f"seq={a.sequence})")
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            print(f"  alert stream ended: {exc.code().name}: {exc.details()}")


def demo_plate() -> str:
    """The plate in the demo's road photo, as its label file gives it."""
    return (DATA / DEMO_PLATE_IMAGE).with_suffix(".txt").read_text().split("\t")[-1].strip()


def hotlist_and_push(endpoints: dict[str, str]) -> str:
    """Hotlist the plate in a real road photo, then push that photo from the body-worn camera."""
    truth = demo_plate()
    investigator = dev_user_token(endpoints["identity"], "police-investigator")
    entry = watchlist_pb2.HotlistEntry(
        plate=truth, reason=watchlist_pb2.HOTLIST_REASON_STOLEN, confusable_tolerant=True,
        legal_basis=watchlist_pb2.LegalBasis(kind="stolen-vehicle-report", reference="PV-2026-1187",
                                             issued_by="police"), note="demo")
    entry.expires.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    hotlists = watchlist_pb2_grpc.WatchlistServiceStub(open_channel(endpoints["analytics"]))
    access = common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-0042")
    try:
        hotlists.AddHotlistPlate(watchlist_pb2.AddHotlistPlateRequest(entry=entry, access=access),
                                 metadata=_meta(investigator))
        print(f"  hotlisted {truth} (stolen) by police-investigator")
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        print(f"  {truth} is already hotlisted (from an earlier demo run)")
    push_photo(endpoints, DEMO_PLATE_IMAGE)
    return truth


def _face_access() -> common_pb2.AccessContext:
    """A watchlist is a biometric act: policy wants a purpose, a case and a court's authorization."""
    authorization = common_pb2.Authorization(id="COURT-ORDER-88", issued_by="court", scope_zones=["medina"])
    authorization.expires.FromDatetime(datetime.now(UTC) + timedelta(days=3))
    return common_pb2.AccessContext(purpose="serious-crime", case_id="CASE-2026-0808",
                                    authorization=authorization)


def enrol_face(endpoints: dict[str, str]) -> None:
    """The investigator enrols a wanted person's photo on a court-ordered watchlist (once per data dir)."""
    token = dev_user_token(endpoints["identity"], "police-investigator")
    stub = watchlist_pb2_grpc.WatchlistServiceStub(open_channel(endpoints["analytics"]))
    listed = stub.ListWatchlists(watchlist_pb2.ListWatchlistsRequest(), metadata=_meta(token)).watchlists
    if any(w.name == DEMO_WATCHLIST and w.subject_count for w in listed):
        print(f"  '{DEMO_WATCHLIST}' already holds the subject (from an earlier demo run)")
        return
    created = stub.CreateWatchlist(watchlist_pb2.CreateWatchlistRequest(
        watchlist=watchlist_pb2.Watchlist(name=DEMO_WATCHLIST), access=_face_access()), metadata=_meta(token))
    enrol = watchlist_pb2.EnrolSubjectRequest(
        watchlist_id=created.watchlist.id, label="SUBJECT-A", images=[(DATA / DEMO_ENROL_FACE).read_bytes()],
        legal_basis=watchlist_pb2.LegalBasis(kind="arrest-warrant", reference="AW-88", issued_by="court"),
        access=_face_access())
    enrol.expires.FromDatetime(datetime.now(UTC) + timedelta(days=2))
    stub.EnrolSubject(enrol, metadata=_meta(token))
    print(f"  police-investigator enrolled SUBJECT-A on '{DEMO_WATCHLIST}' (case CASE-2026-0808)")


def push_photo(endpoints: dict[str, str], relative: str, frames: int = 3) -> None:
    """The body-worn camera pushes one photo as a few frames, as a camera walking past would."""
    device = dev_user_token(endpoints["identity"], "bodycam-01")
    stub = camera_pb2_grpc.FrameIngestServiceStub(open_channel(endpoints["ingest"]))
    image = (DATA / relative).read_bytes()

    def pushes() -> object:
        for i in range(frames):
            message = camera_pb2.PushFramesRequest(camera_id=BODYCAM if i == 0 else "", image=image)
            message.captured.FromDatetime(datetime.now(UTC))
            yield message
            time.sleep(0.3)

    reply = stub.PushFrames(pushes(), metadata=_meta(device))
    print(f"  {BODYCAM} pushed {reply.frames_received} frames, {reply.frames_published} published")


def confirm_by_two(endpoints: dict[str, str], alert: alert_pb2.Alert) -> None:
    """Two-person rule: one confirmation leaves it pending; the same person again is refused by policy."""
    stub = alert_pb2_grpc.AlertServiceStub(open_channel(endpoints["alerting"]))
    request = alert_pb2.ConfirmMatchRequest(alert_id=alert.id, note="demo")
    first = dev_user_token(endpoints["identity"], "police-operator")
    state = stub.ConfirmMatch(request, metadata=_meta(first)).alert.state
    print(f"  police-operator confirms: {alert_pb2.AlertState.Name(state)}")
    try:
        stub.ConfirmMatch(request, metadata=_meta(first))
    except grpc.RpcError as exc:
        print(f"  police-operator again: {exc.code().name}: {exc.details()}")
    second = dev_user_token(endpoints["identity"], "police-operator2")
    state = stub.ConfirmMatch(request, metadata=_meta(second)).alert.state
    print(f"  police-operator2 confirms: {alert_pb2.AlertState.Name(state)}")


def search_plate(endpoints: dict[str, str], plate: str, *, wait_s: float = 15.0) -> None:
    """Fuzzy plate search as the investigator; the indexer may lag the alert by a moment."""
    token = dev_user_token(endpoints["identity"], "police-investigator")
    stub = search_pb2_grpc.SearchServiceStub(open_channel(endpoints["search"]))
    request = search_pb2.SearchPlatesRequest(
        plate=plate, mode=search_pb2.PLATE_MATCH_MODE_FUZZY, max_distance=1.0,
        access=common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-0042"))
    deadline = time.monotonic() + wait_s
    reply = stub.SearchPlates(request, metadata=_meta(token))
    while not reply.sightings and time.monotonic() < deadline:
        time.sleep(0.5)
        reply = stub.SearchPlates(request, metadata=_meta(token))
    for s in reply.sightings:
        print(f"  sighting {s.plate.display or s.plate.text} at {s.camera_id} ({s.zone}) "
              f"{s.seen.ToDatetime():%H:%M:%S} distance={s.distance:.1f} snapshot={s.snapshot_id}")
    if not reply.sightings:
        print("  no sighting yet")


def show_audit(endpoints: dict[str, str], data_dir: Path) -> None:
    """Export the access log as the oversight body and verify it offline, as `basira audit verify`."""
    from basira.audit.verify import main as verify_main
    from basira.v1 import audit_pb2, audit_pb2_grpc

    token = dev_user_token(endpoints["identity"], "oversight-auditor")
    stub = audit_pb2_grpc.AuditServiceStub(open_channel(endpoints["audit"]))
    time.sleep(1.5)  # let the log sign a tree head over the demo's requests
    head = stub.GetTreeHead(audit_pb2.GetTreeHeadRequest(), metadata=_meta(token))
    print(f"  signed tree head: {head.tree_head.tree_size} access records, "
          f"root {head.tree_head.root_hash.hex()[:16]}…")
    export_dir = data_dir / "exports"
    export_dir.mkdir(parents=True, exist_ok=True)
    (export_dir / "log-public-key.pem").write_text(head.public_key_pem)
    request = audit_pb2.ExportLogRequest(recipients=["data-protection-authority"],
                                         access=common_pb2.AccessContext(purpose="oversight"))
    with (export_dir / "access-log.jsonl").open("wb") as out:
        for chunk in stub.ExportLog(request, metadata=_meta(token)):
            out.write(chunk.chunk)
    print(f"  exported to {export_dir / 'access-log.jsonl'}; verifying offline:")
    record_keys = data_dir / "keys" / "records" / "public"  # each service's, made by basira up
    verify_main([str(export_dir / "access-log.jsonl"), "--public-key", str(export_dir / "log-public-key.pem"),
                 *(["--record-keys", str(record_keys)] if record_keys.is_dir() else [])])


async def _flow(endpoints: dict[str, str], seconds: float, should_stop: Callable[[], bool],
                credentials: Path | None = None) -> None:
    """Count messages per subject family and camera without consuming them (core NATS subscribers,
    as the operator: no service identity may read every subject)."""
    nc, _ = await connect(endpoints["nats"], "basira-demo", credentials=credentials)
    counts: Counter[str] = Counter()

    async def tally(msg: Msg) -> None:
        parts = msg.subject.split(".")
        counts[f"{parts[0]}.{parts[1] if parts[0] == 'detections' else '*'} {parts[-1]}"] += 1
        if parts[0] == "counts":
            event = events_pb2.CountEvent.FromString(msg.data)
            counts[f"vehicles {event.camera_id}"] += event.vehicles

    for subject in ("frames.>", "detections.>", "counts.>", "camera.health.>"):
        await nc.subscribe(subject, cb=tally)
    started = time.monotonic()
    try:
        while not should_stop() and (not seconds or time.monotonic() - started < seconds):
            await asyncio.sleep(5)
            shown = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing yet"
            print(f"  [{time.monotonic() - started:5.0f}s] {shown}", flush=True)
    finally:
        await nc.close()


def run_demo(data_dir: Path, *, seconds: float = 0, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Drive the running platform through the demo story, then show traffic until stopped."""
    endpoints = load_endpoints(data_dir)
    print("\n1. Registering the sample cameras (police-admin):")
    register_cameras(endpoints)
    alerts: list[alert_pb2.Alert] = []
    stop = threading.Event()
    threading.Thread(target=watch_alerts, args=(endpoints, alerts, stop), daemon=True).start()
    time.sleep(1.0)
    print("\n2. A stolen car, a body-worn camera, an alert:")
    plate = hotlist_and_push(endpoints)
    deadline = time.monotonic() + 30
    while not alerts and time.monotonic() < deadline and not should_stop():
        time.sleep(0.2)
    print("\n3. The investigator searches the plate (fuzzy, confusable characters):")
    search_plate(endpoints, plate)
    if (DATA / DEMO_ENROL_FACE).exists() and (DATA / DEMO_LIVE_FACE).exists():
        print("\n3b. A watchlisted face on the body camera, confirmed by two people:")
        enrol_face(endpoints)
        push_photo(endpoints, DEMO_LIVE_FACE)
        deadline = time.monotonic() + 60
        while not should_stop() and time.monotonic() < deadline:
            faces = [a for a in alerts if a.kind == alert_pb2.ALERT_KIND_FACE_MATCH
                     and a.state == alert_pb2.ALERT_STATE_OPEN]
            if faces:
                confirm_by_two(endpoints, faces[-1])
                break
            time.sleep(0.3)
        else:
            print("  no face-match alert yet (see the command room in the console)")
    print("\n4. The oversight body checks the access log:")
    show_audit(endpoints, data_dir)
    if "console" in endpoints:
        print(f"\n   Open the web console at {endpoints['console']}/ and sign in "
              "(password: <user>-dev-password):")
        for user, what in DEV_USERS:
            print(f"     {user:<24} {what}")
    print("\n5. Frames, plate reads, counts and health events flowing (Ctrl-C to stop):")
    operator = data_dir / "nats" / "identities" / "operator.json"  # the embedded NATS's (basira up)
    asyncio.run(_flow(endpoints, seconds, should_stop, operator if operator.exists() else None))
    stop.set()
