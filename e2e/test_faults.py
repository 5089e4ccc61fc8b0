"""Faults survived on a real platform: NATS killed and restarted, the audit service killed, a gated
service killed, the policy source stopped, PostgreSQL restarted, the audit store refusing writes.
Each call a caller got an answer to (allowed or denied) must be in the access log exactly once
afterwards; during the fault calls fail closed (UNAVAILABLE), never served unlogged, and the platform
recovers by itself once the part is back.

Its own small platform (audit and search only), so killing its NATS disturbs no other test.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from basira.common.channels import open_channel
from basira.common.nats import connect, publish
from basira.runtime.processes import ManagedProcess
from basira.runtime.supervisor import Platform
from basira.v1 import (
    analytics_pb2,
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    events_pb2,
    search_pb2,
    search_pb2_grpc,
)

from .clients import metadata, own_platform, wait_until

pytestmark = pytest.mark.integration

USER = "police-investigator"
ANSWERED = (grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED)  # both mean "decided and logged"


# A stopped bundle server makes decisions fail closed after this long (it must outlast the bundle
# long-poll, 20 s, or a healthy server's quiet spell would count as stale).
POLICY_MAX_STALENESS_S = "25"


@pytest.fixture(scope="module")
def small_platform() -> Iterator[Platform]:
    with own_platform("basira-faults-", ("audit", "search"),
                      {"BASIRA_POLICY_MAX_STALENESS_S": POLICY_MAX_STALENESS_S}) as running:
        yield running


class Caller:
    """Plate searches, each with its own case id, remembering how each ended."""

    def __init__(self, platform: Platform) -> None:
        # Case ids as policy wants them (^[A-Z]+-[0-9]{4}-[0-9]{3,}$), unique to this caller.
        self.platform = platform
        self.prefix = "F" + "".join(chr(65 + b % 26) for b in uuid.uuid4().bytes[:10])
        self.stub = search_pb2_grpc.SearchServiceStub(open_channel(platform.endpoints["search"]))
        self.meta = metadata(platform, USER)
        self.outcomes: dict[str, grpc.StatusCode] = {}
        self.details: dict[str, str] = {}

    def call(self) -> grpc.StatusCode:
        case = f"{self.prefix}-2026-{len(self.outcomes):03d}"
        request = search_pb2.SearchPlatesRequest(plate="12345B6", access=common_pb2.AccessContext(
            purpose="stolen-vehicle", case_id=case))
        try:
            self.stub.SearchPlates(request, metadata=self.meta, timeout=10)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
            self.details[case] = exc.details() or ""
        self.outcomes[case] = code
        return code

    def unavailable(self) -> set[str]:
        return {case for case, code in self.outcomes.items() if code == grpc.StatusCode.UNAVAILABLE}

    def answered(self) -> set[str]:
        return {case for case, code in self.outcomes.items() if code in ANSWERED}

    def logged(self) -> Counter[str]:
        """How many times each of this caller's case ids is in the access log."""
        stub = audit_pb2_grpc.AuditServiceStub(open_channel(self.platform.endpoints["audit"]))
        auditor = metadata(self.platform, "oversight-auditor")
        found: Counter[str] = Counter()
        token = ""
        while True:
            page_request = common_pb2.PageRequest(page_size=1000, page_token=token)
            request = audit_pb2.QueryAccessLogRequest(user=USER, action="search.plate", page=page_request)
            page = stub.QueryAccessLog(request, metadata=auditor)
            for row in page.records:
                case = json.loads(row.record_json).get("case_id", "")
                if case.startswith(f"{self.prefix}-"):
                    found[case] += 1
            token = page.page.next_page_token
            if not token:
                return found

    def all_answered_logged_once(self, also: frozenset[str] = frozenset()) -> bool:
        """True once every answered call (and each case in `also`) is logged, none twice (False while
        the audit service is still down)."""
        try:
            logged = self.logged()
        except grpc.RpcError:
            return False
        twice = [case for case, n in logged.items() if n > 1]
        assert not twice, f"logged more than once: {twice}"
        return self.answered() | also <= set(logged)


def process(platform: Platform, name: str) -> ManagedProcess:
    [found] = [p for p in platform.processes if p.name == name]
    return found


def test_nats_killed_and_restarted_loses_no_access_record(small_platform: Platform) -> None:
    caller = Caller(small_platform)
    for _ in range(5):
        assert caller.call() in ANSWERED
    nats = process(small_platform, "nats")
    nats.stop(sig=signal.SIGKILL)
    during = [caller.call() for _ in range(3)]
    assert all(code == grpc.StatusCode.UNAVAILABLE for code in during), during  # fail closed
    nats.start()
    wait_until(lambda: caller.call() in ANSWERED, 60, "calls to be answered after NATS restarted")
    for _ in range(5):
        assert caller.call() in ANSWERED
    wait_until(caller.all_answered_logged_once, 60, "every answered call in the log")


def test_the_audit_service_killed_mid_traffic_loses_no_access_record(small_platform: Platform) -> None:
    """The records wait in the sealed AUDIT stream; the restarted audit service appends each once."""
    caller = Caller(small_platform)
    audit = process(small_platform, "audit")
    for i in range(20):
        if i == 5:
            audit.stop(sig=signal.SIGKILL)
        assert caller.call() in ANSWERED  # search needs only JetStream to log, not the audit service
    assert small_platform.restart_dead() == ["audit"]
    wait_until(caller.all_answered_logged_once, 90, "every answered call in the log after the restart")


def test_a_gated_service_killed_leaves_nothing_answered_unlogged(small_platform: Platform) -> None:
    caller = Caller(small_platform)
    search = process(small_platform, "search")
    for i in range(10):
        if i == 5:
            search.stop(sig=signal.SIGKILL)
            assert small_platform.restart_dead() == ["search"]
            wait_until(lambda: caller.call() in ANSWERED, 60, "search to answer again")
        caller.call()
    wait_until(caller.all_answered_logged_once, 60, "every answered call in the log")


def test_the_policy_source_stopped_fails_closed_then_recovers_by_itself(small_platform: Platform) -> None:
    """Decisions go on from the last verified bundle until it is stale, then every call is refused
    (and the refusal logged); the restarted bundle server is picked up without restarting anyone."""
    caller = Caller(small_platform)
    for _ in range(3):
        assert caller.call() in ANSWERED
    policy = process(small_platform, "policy")
    policy.stop(sig=signal.SIGKILL)
    wait_until(lambda: caller.call() == grpc.StatusCode.UNAVAILABLE, float(POLICY_MAX_STALENESS_S) + 30,
               "calls to fail closed once the policy bundle is stale")
    during = [caller.call() for _ in range(3)]
    assert all(code == grpc.StatusCode.UNAVAILABLE for code in during), during
    refused = caller.unavailable()
    assert all("policy" in caller.details[case] for case in refused), caller.details
    others = {p.name: p.pid for p in small_platform.processes if p.name != "policy"}
    policy.start()
    wait_until(lambda: caller.call() in ANSWERED, 60, "calls to be answered once the policy is back")
    assert {p.name: p.pid for p in small_platform.processes if p.name != "policy"} == others
    # A refusal is an answer too: each is in the log, as denied.
    wait_until(lambda: caller.all_answered_logged_once(frozenset(refused)), 60, "every call in the log")


def test_postgres_restarted_fails_searches_cleanly_and_loses_no_record(small_platform: Platform) -> None:
    caller = Caller(small_platform)
    for _ in range(3):
        assert caller.call() == grpc.StatusCode.OK, caller.details  # allowed: the search reads the database
    postgres = process(small_platform, "postgres")
    postgres.stop(sig=signal.SIGINT)  # PostgreSQL's fast shutdown: a restart, as an operator does it
    during = [caller.call() for _ in range(3)]
    assert all(code == grpc.StatusCode.UNAVAILABLE for code in during), (during, caller.details)
    for case in caller.unavailable():
        detail = caller.details[case]
        assert "database" in detail.lower() and not any(
            word in detail for word in ("Traceback", "psycopg", "Error:", "Exception")), detail
    postgres.start()
    wait_until(lambda: caller.call() in ANSWERED, 60, "searches to be answered once PostgreSQL is back")
    for _ in range(3):
        assert caller.call() in ANSWERED
    wait_until(caller.all_answered_logged_once, 60, "every answered call in the log")


def test_the_audit_store_refusing_writes_loses_no_record(small_platform: Platform) -> None:
    """While the Merkle log's table refuses inserts, answered calls wait, durable, in the sealed AUDIT
    stream (the gate has its acknowledgement before answering); once it accepts again, each is
    appended once, without restarting anything."""
    import psycopg

    caller = Caller(small_platform)
    pids = {p.name: p.pid for p in small_platform.processes}
    with psycopg.connect(small_platform.endpoints["postgres"], autocommit=True) as db:
        db.execute("CREATE OR REPLACE FUNCTION faults_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$")
        db.execute("CREATE TRIGGER faults_refuse BEFORE INSERT ON audit_leaves "
                   "FOR EACH ROW EXECUTE FUNCTION faults_refuse()")
        try:
            for _ in range(10):
                assert caller.call() in ANSWERED
            with pytest.raises(AssertionError):  # the store refuses them: nothing appended yet
                wait_until(caller.all_answered_logged_once, 5, "records appended while refused")
        finally:
            db.execute("DROP TRIGGER faults_refuse ON audit_leaves")
    wait_until(caller.all_answered_logged_once, 60, "every answered call in the log once the store is back")
    assert {p.name: p.pid for p in small_platform.processes} == pids, "a part had to be restarted"


def test_a_full_evidence_store_keeps_the_platform_working_and_loses_no_sighting(
        small_platform: Platform, shared_data: Path) -> None:
    """Evidence snapshots live in PostgreSQL (search_snapshots): its disk full (a trigger answering
    SQLSTATE 53100 disk_full, as PostgreSQL does) must hold the sightings back, not drop them, while
    searches go on; once there is room again, each sighting lands with its evidence."""
    import psycopg

    photo = shared_data / PLATE_PHOTO
    plate = photo.with_suffix(".txt").read_text().split("\t")[-1].strip()
    camera = f"cam-fault-disk-{uuid.uuid4().hex[:6]}"
    events = [plate_detection(camera, plate, photo.read_bytes()) for _ in range(3)]
    log_file = small_platform.config.data_dir / "logs" / "search.log"
    caller = Caller(small_platform)
    with psycopg.connect(small_platform.endpoints["postgres"], autocommit=True) as db:
        db.execute("CREATE OR REPLACE FUNCTION faults_disk_full() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' "
                   "USING ERRCODE = 'disk_full'; END $$")
        db.execute("CREATE TRIGGER faults_disk_full BEFORE INSERT ON search_snapshots "
                   "FOR EACH ROW EXECUTE FUNCTION faults_disk_full()")
        try:
            refusals_before = log_file.read_text().count("No space left on device")

            async def send(js) -> None:  # type: ignore[no-untyped-def]
                for event in events:
                    await publish(js, f"detections.plate.{camera}", event.SerializeToString(), event.id)

            nats_call(small_platform, send)
            # Past the five deliveries a consumer used to allow: each sighting refused five times over.
            wait_until(lambda: log_file.read_text().count("No space left on device") - refusals_before
                       >= 5 * len(events), 60, "the search service to report the full disk")
            assert caller.call() == grpc.StatusCode.OK, caller.details  # searches go on meanwhile
        finally:
            db.execute("DROP TRIGGER faults_disk_full ON search_snapshots")
    search = search_pb2_grpc.SearchServiceStub(open_channel(small_platform.endpoints["search"]))
    access = common_pb2.AccessContext(purpose="stolen-vehicle", case_id="CASE-2026-0042")
    request = search_pb2.SearchPlatesRequest(plate=plate, mode=search_pb2.PLATE_MATCH_MODE_EXACT,
                                             access=access)
    investigator = metadata(small_platform, USER)

    def landed() -> list[search_pb2.Sighting]:
        found = search.SearchPlates(request, metadata=investigator).sightings
        return [s for s in found if s.camera_id == camera]

    wait_until(lambda: len(landed()) == len(events), 60, "every held-back sighting once there is room")
    for sighting in landed():
        evidence = search.GetEvidence(search_pb2.GetEvidenceRequest(snapshot_id=sighting.snapshot_id,
                                                                    access=access), metadata=investigator)
        assert evidence.image and evidence.camera_id == camera


PLATE_PHOTO = "plates/eu/eu3.jpg"


def plate_detection(camera: str, plate: str, jpeg: bytes) -> events_pb2.PlateDetectionEvent:
    """What analytics publishes for one plate read in one frame (police camera in the medina)."""
    frame = f"{camera}-{uuid.uuid4().hex[:8]}"
    event = events_pb2.PlateDetectionEvent(
        id=f"{frame}:plate:0", frame_id=frame, camera_id=camera, zone="medina", owner_agency="police",
        plate=analytics_pb2.PlateReading(text=plate, display=plate, confidence=0.95),
        snapshot_jpeg=jpeg, snapshot_id=frame)
    event.captured.GetCurrentTime()
    event.frame_published.GetCurrentTime()
    return event


def nats_call(platform: Platform, query):  # type: ignore[no-untyped-def]
    """Run `query(js)` on a fresh connection as the operator (the test's NATS client)."""

    async def run():  # type: ignore[no-untyped-def]
        nc, js = await connect(platform.endpoints["nats"], "faults-test")
        try:
            return await query(js)
        finally:
            await nc.close()

    return asyncio.run(run())
