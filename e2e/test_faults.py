"""Faults survived on a real platform: NATS killed and restarted, the audit service killed, a gated
service killed. Each call a caller got an answer to (allowed or denied) must be in the access log
exactly once afterwards; during the fault calls fail closed (UNAVAILABLE), never served unlogged.

Its own small platform (audit and search only), so killing its NATS disturbs no other test.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from basira.common.channels import open_channel
from basira.runtime.processes import ManagedProcess
from basira.runtime.supervisor import Platform, PlatformConfig
from basira.v1 import audit_pb2, audit_pb2_grpc, common_pb2, search_pb2, search_pb2_grpc

from .clients import metadata, wait_until

pytestmark = pytest.mark.integration

USER = "police-investigator"
ANSWERED = (grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED)  # both mean "decided and logged"


@pytest.fixture(scope="module")
def small_platform() -> Iterator[Platform]:
    data_dir = Path(tempfile.mkdtemp(prefix="basira-faults-"))
    data_dir.chmod(0o755)
    config = PlatformConfig.from_env(data_dir=data_dir, services=("audit", "search"), console=False)
    config.nats_url = config.database_url = config.policy_url = config.oidc_url = ""
    running = Platform(config)
    running.start()
    with running.client_settings():
        yield running
    running.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


class Caller:
    """Plate searches, each with its own case id, remembering how each ended."""

    def __init__(self, platform: Platform) -> None:
        self.platform, self.tag = platform, uuid.uuid4().hex[:10]
        self.stub = search_pb2_grpc.SearchServiceStub(open_channel(platform.endpoints["search"]))
        self.meta = metadata(platform, USER)
        self.outcomes: dict[str, grpc.StatusCode] = {}

    def call(self) -> grpc.StatusCode:
        case = f"fault-{self.tag}-{len(self.outcomes)}"
        request = search_pb2.SearchPlatesRequest(plate="12345B6", access=common_pb2.AccessContext(
            purpose="investigation", case_id=case))
        try:
            self.stub.SearchPlates(request, metadata=self.meta, timeout=10)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()
        self.outcomes[case] = code
        return code

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
                if case.startswith(f"fault-{self.tag}-"):
                    found[case] += 1
            token = page.page.next_page_token
            if not token:
                return found

    def all_answered_logged_once(self) -> bool:
        """True once every answered call is logged (False while the audit service is still down)."""
        try:
            logged = self.logged()
        except grpc.RpcError:
            return False
        twice = [case for case, n in logged.items() if n > 1]
        assert not twice, f"logged more than once: {twice}"
        return self.answered() <= set(logged)


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
