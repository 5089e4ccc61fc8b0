"""A city's working day against Basira's public gRPC APIs, for locust (`make load` runs loadtests/load.py).

Each simulated person is a `GrpcUser`: a development user of infra/keycloak with a real token, and the
purpose and case their calls carry (policy decides, the audit log records). The mix, by weight:
body-worn cameras pushing frames (most calls), investigators searching plates and faces, command-room
operators holding alert streams, oversight auditors querying the access log.

Read from the environment (loadtests/load.py sets them):
  BASIRA_LOAD_ENDPOINTS  JSON of the platform's endpoints (`identity`, `ingest`, `search`, ...)
  BASIRA_LOAD_FRAMES     a directory of JPEGs the body cameras push, in name order
  BASIRA_LOAD_FACE       a JPEG with one face for face searches (required: face search is part of the mix)
  BASIRA_LOAD_PLATES     comma-separated plates to search (seen and hotlisted by the driver)
  BASIRA_LOAD_CAMERAS    comma-separated registered body-worn camera ids, one per camera user
  BASIRA_LOAD_REPORT     where the final figures and failures go, as JSON (see `write_report`)

A call that fails is a locust failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import gevent
import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import User, between, events, task
from locust.env import Environment

from basira.cli.session import bearer_metadata, dev_user_token
from basira.common.channels import open_channel
from basira.v1 import (
    alert_pb2,
    alert_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    camera_pb2,
    camera_pb2_grpc,
    common_pb2,
    search_pb2,
    search_pb2_grpc,
)

grpc_gevent.init_gevent()  # gRPC's own threads must yield to locust's greenlets

TOKEN_REFRESH_S = 240.0  # the realm's access tokens live 300 s
ALERT_HOLD_S = 5.0  # how long an operator keeps a stream open per task


def _env_list(name: str) -> list[str]:
    return [v for v in os.environ.get(name, "").split(",") if v]


ENDPOINTS: dict[str, str] = json.loads(os.environ.get("BASIRA_LOAD_ENDPOINTS", "{}"))
FRAMES = [p.read_bytes() for p in sorted(Path(os.environ.get("BASIRA_LOAD_FRAMES", ".")).glob("*.jpg"))]
FACE = Path(os.environ["BASIRA_LOAD_FACE"]).read_bytes() if "BASIRA_LOAD_FACE" in os.environ else b""
PLATES = _env_list("BASIRA_LOAD_PLATES") or ["12345B6"]
CAMERAS = itertools.cycle(_env_list("BASIRA_LOAD_CAMERAS") or ["bwc-load-01"])
REPORT = os.environ.get("BASIRA_LOAD_REPORT", "")
_RUN: list[Environment] = []


@events.init.add_listener
def _remember(environment: Environment, **_: Any) -> None:
    _RUN.append(environment)


@events.quit.add_listener
def write_report(exit_code: int, **_: Any) -> None:
    """The final per-call figures and every distinct failure, after all users stopped.

    locust's own CSVs are rewritten on a timer and closed without a last write, so a short run's CSV
    can miss its last seconds (or every call); this is written once, from the final statistics.
    """
    if not REPORT or not _RUN or _RUN[0].runner is None:
        return
    stats = _RUN[0].runner.stats
    entries = {entry.name: entry for entry in stats.entries.values()}
    entries["Aggregated"] = stats.total
    calls = {name: {"requests": entry.num_requests, "failures": entry.num_failures,
                    "requests_per_s": entry.total_rps,
                    "p50_ms": entry.get_response_time_percentile(0.5) if entry.num_requests else -1.0,
                    "p99_ms": entry.get_response_time_percentile(0.99) if entry.num_requests else -1.0}
             for name, entry in entries.items()}
    failures = [f"{error.name}: {error.error} (x{error.occurrences})" for error in stats.errors.values()]
    Path(REPORT).write_text(json.dumps({"calls": calls, "failures": failures}, indent=1))


def court_order(purpose: str, case: str, zone: str) -> common_pb2.AccessContext:
    """The purpose, case and a court's authorization for one day in `zone`."""
    access = common_pb2.AccessContext(purpose=purpose, case_id=case)
    access.authorization.CopyFrom(common_pb2.Authorization(id="AUTH-LOAD-1", issued_by="court",
                                                           scope_zones=[zone]))
    access.authorization.expires.FromDatetime(datetime.now(UTC) + timedelta(days=1))
    return access


class GrpcUser(User):
    """A person (or device) calling Basira over gRPC with a real token, a purpose and a case."""

    abstract = True
    username: ClassVar[str] = ""
    purpose: ClassVar[str] = ""
    case: ClassVar[str] = ""

    def on_start(self) -> None:
        self._token_at = 0.0
        self._metadata: tuple[tuple[str, str]] = (("", ""),)
        self._channels: dict[str, grpc.Channel] = {}

    def on_stop(self) -> None:
        for chan in self._channels.values():
            chan.close()

    def channel(self, service: str) -> grpc.Channel:
        if service not in self._channels:
            self._channels[service] = open_channel(  # TLS when the platform serves it (BASIRA_TLS_CA)
                ENDPOINTS[service], options=[("grpc.max_send_message_length", 32 << 20)])
        return self._channels[service]

    @property
    def metadata(self) -> tuple[tuple[str, str]]:
        if time.monotonic() - self._token_at > TOKEN_REFRESH_S:
            self._metadata = bearer_metadata(dev_user_token(ENDPOINTS["identity"], self.username))
            self._token_at = time.monotonic()
        return self._metadata

    @property
    def access(self) -> common_pb2.AccessContext:
        return common_pb2.AccessContext(purpose=self.purpose, case_id=self.case)

    def call(self, name: str, fn: Callable[[tuple[tuple[str, str]]], Any]) -> Any:
        """Run one gRPC call with the user's token, timed, and tell locust (a failure carries its status)."""
        metadata = self.metadata  # fetching a token is not part of the call's time
        started = time.perf_counter()
        reply, error = None, None
        try:
            reply = fn(metadata)
        except grpc.RpcError as exc:
            error = exc
        self.record(name, started, reply.ByteSize() if reply is not None else 0, error)
        return reply

    def record(self, name: str, started: float, length: int, error: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="grpc", name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=length, exception=error, context={"user": self.username})


class BodyCamera(GrpcUser):
    """A body-worn camera uploading a burst of three frames, one a second apart, every few seconds."""

    weight = 4
    wait_time = between(2, 4)
    username = "bodycam-01"

    def on_start(self) -> None:
        super().on_start()
        self.camera_id = next(CAMERAS)
        self.frames = itertools.cycle(FRAMES)

    def _burst(self) -> Iterator[camera_pb2.PushFramesRequest]:
        start = datetime.now(UTC) - timedelta(seconds=3)
        for i in range(3):
            request = camera_pb2.PushFramesRequest(camera_id=self.camera_id if i == 0 else "",
                                                   image=next(self.frames))
            request.captured.FromDatetime(start + timedelta(seconds=i))
            yield request

    @task
    def push_frames(self) -> None:
        stub = camera_pb2_grpc.FrameIngestServiceStub(self.channel("ingest"))
        self.call("PushFrames", lambda md: stub.PushFrames(self._burst(), metadata=md))


class Investigator(GrpcUser):
    """A police investigator on a stolen-car case: exact and fuzzy plate searches, a trajectory, a face."""

    weight = 3
    wait_time = between(1, 3)
    username = "police-investigator"
    purpose = "stolen-vehicle"
    case = "CASE-2026-7001"

    def _search(self) -> search_pb2_grpc.SearchServiceStub:
        return search_pb2_grpc.SearchServiceStub(self.channel("search"))

    @task(4)
    def search_plate_exact(self) -> None:
        request = search_pb2.SearchPlatesRequest(plate=random.choice(PLATES), access=self.access,
                                                 mode=search_pb2.PLATE_MATCH_MODE_EXACT)
        self.call("SearchPlates exact", lambda md: self._search().SearchPlates(request, metadata=md))

    @task(2)
    def search_plate_fuzzy(self) -> None:
        plate = random.choice(PLATES)
        i = random.randrange(len(plate))
        request = search_pb2.SearchPlatesRequest(plate=plate[:i] + "8" + plate[i + 1:], max_distance=1.0,
                                                 mode=search_pb2.PLATE_MATCH_MODE_FUZZY, access=self.access)
        self.call("SearchPlates fuzzy", lambda md: self._search().SearchPlates(request, metadata=md))

    @task(1)
    def trajectory(self) -> None:
        request = search_pb2.GetTrajectoryRequest(plate=random.choice(PLATES), access=self.access)
        self.call("GetTrajectory", lambda md: self._search().GetTrajectory(request, metadata=md))

    @task(1)
    def search_face(self) -> None:
        request = search_pb2.SearchFacesRequest(
            image=FACE, access=court_order("serious-crime", self.case, "medina"))
        self.call("SearchFaces", lambda md: self._search().SearchFaces(request, metadata=md))


class Operator(GrpcUser):
    """A command-room operator: opens the alert stream (open alerts are replayed first), reads it a while."""

    weight = 2
    wait_time = between(1, 2)
    username = "police-operator"

    @task
    def stream_alerts(self) -> None:
        """Time to the first alert (open alerts are replayed first), then live alerts until the hold ends.

        A stream with no alert at all within the hold is counted as `StreamAlerts [no alert in hold]`.
        """
        stub = alert_pb2_grpc.AlertServiceStub(self.channel("alerting"))
        metadata = self.metadata
        started = time.perf_counter()
        stream = stub.StreamAlerts(alert_pb2.StreamAlertsRequest(), metadata=metadata)
        hold = gevent.spawn_later(ALERT_HOLD_S, stream.cancel)
        first, error = True, None
        try:
            for reply in stream:
                if first:
                    self.record("StreamAlerts first alert", started, reply.ByteSize(), None)
                    first = False
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                error = exc
        finally:
            hold.kill()
        if error is not None or first:
            self.record("StreamAlerts" if error else "StreamAlerts [no alert in hold]", started, 0, error)


class Auditor(GrpcUser):
    """Oversight: the last hour of police access records, page of 100."""

    weight = 1
    wait_time = between(2, 5)
    username = "oversight-auditor"
    purpose = "oversight"

    @task
    def query_access_log(self) -> None:
        stub = audit_pb2_grpc.AuditServiceStub(self.channel("audit"))
        request = audit_pb2.QueryAccessLogRequest(agency="police", access=self.access,
                                                  page=common_pb2.PageRequest(page_size=100))
        request.time.start.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
        self.call("QueryAccessLog", lambda md: stub.QueryAccessLog(request, metadata=md))
