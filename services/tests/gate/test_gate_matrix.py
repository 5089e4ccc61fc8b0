"""The authorisation matrix: every RPC of every contract × every dev user, through the real gate.

The expected outcome is written here as tables a reviewer can read against DESIGN §5 and the
agreements, never computed by asking the policy: who may do what (ALLOWED_ROLES), which data classes
each agency's agreement grants (AGENCY_CLASSES), the clearance each class needs, which classes each
RPC touches. Each call is a realistic request (purpose, case id, authorization, a zone of the
caller's agreement; see scenarios.py). Where the policy disagrees with the table and the table is
right per DESIGN, the case is an xfail naming the problem (KNOWN_DISAGREEMENTS), not a bent table.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
import pytest_asyncio

from basira.common.access_record import AccessRecord
from basira.common.gate import access_rule
from basira.identity import DEFAULT_REALM_FILE

from .harness import Harness, Invocation, Outcome, all_methods, full_method, invoke
from .scenarios import REQUESTS, Caller

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@dataclass(frozen=True)
class DevUser:
    name: str
    agency: str
    roles: frozenset[str]
    clearance: int


def dev(name: str, agency: str, role: str, clearance: int) -> DevUser:
    return DevUser(name, agency, frozenset({role}), clearance)


# infra/keycloak/README.md "Development users", plus the service account that calls other services.
DEV_USERS: tuple[DevUser, ...] = (
    dev("police-investigator", "police", "investigator", 2),
    dev("police-investigator2", "police", "investigator", 2),
    dev("police-operator", "police", "operator", 2),
    dev("police-operator2", "police", "operator", 2),
    dev("police-admin", "police", "camera_admin", 1),
    dev("gendarmerie-operator", "gendarmerie", "operator", 2),
    dev("gendarmerie-investigator", "gendarmerie", "investigator", 2),
    dev("traffic-analyst", "traffic", "analyst", 1),
    dev("traffic-operator", "traffic", "operator", 1),
    dev("intelligence-analyst", "intelligence", "analyst", 3),
    dev("oversight-auditor", "oversight", "auditor", 2),
    dev("privacy-officer", "oversight", "privacy_officer", 2),
    dev("bodycam-01", "police", "device", 0),
    dev("service-account-basira-services", "platform", "service", 0),
)
USERS = {u.name: u for u in DEV_USERS}

# ---- the expected outcome ----------------------------------------------------------------------

CAMERA_VIEWERS = frozenset({"camera_admin", "operator", "investigator", "analyst"})
COMMAND_ROOM = frozenset({"operator", "investigator"})

# Who may do what: the role catalogue privacy officers keep, written out as action -> roles.
ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "camera.register": frozenset({"camera_admin"}),
    "camera.update": frozenset({"camera_admin"}),
    "camera.get": CAMERA_VIEWERS,
    "camera.list": CAMERA_VIEWERS,
    "camera.decommission": frozenset({"camera_admin"}),
    "camera.start_stream": frozenset({"camera_admin"}),
    "camera.stop_stream": frozenset({"camera_admin"}),
    "camera.health": frozenset({"camera_admin", "operator", "investigator"}),
    "camera.preview": COMMAND_ROOM,
    "ingest.push_frames": frozenset({"device"}),
    "analytics.detect_faces": frozenset({"investigator"}),
    "analytics.embed_face": frozenset({"investigator"}),
    "analytics.read_plates": COMMAND_ROOM,
    # DESIGN §5: agencies run their own watchlists, for a case; investigators open them.
    "watchlist.create": frozenset({"investigator", "privacy_officer"}),
    "watchlist.list": COMMAND_ROOM | {"privacy_officer"},
    "watchlist.enrol_subject": frozenset({"investigator", "privacy_officer"}),
    "watchlist.remove_subject": frozenset({"investigator", "privacy_officer"}),
    "hotlist.add_plate": COMMAND_ROOM,
    "hotlist.remove_plate": COMMAND_ROOM | {"privacy_officer"},
    "hotlist.list": COMMAND_ROOM | {"privacy_officer"},
    "search.plate": COMMAND_ROOM,
    "search.face": frozenset({"investigator"}),
    "search.sightings": frozenset({"investigator", "analyst"}),
    "search.trajectory": frozenset({"investigator"}),
    "evidence.view": COMMAND_ROOM | {"analyst"},
    "evidence.export": frozenset({"investigator"}),
    "search.counts": COMMAND_ROOM | {"analyst"},
    "alert.stream": COMMAND_ROOM,
    "alert.acknowledge": COMMAND_ROOM,
    "alert.confirm": COMMAND_ROOM,
    "alert.reject": COMMAND_ROOM,
    "alert.escalate": COMMAND_ROOM,
    "audit.query": frozenset({"auditor", "privacy_officer"}),
    "audit.tree_head": frozenset({"auditor", "privacy_officer", "service"}),
    "audit.proof": frozenset({"auditor", "privacy_officer", "service"}),
    "audit.export": frozenset({"auditor"}),
    "camera.report_status": frozenset({"camera_admin", "device"}),
    "camera.list_down": CAMERA_VIEWERS,
    "follow.start": frozenset({"investigator"}),
    "follow.stop": COMMAND_ROOM,
    "follow.list": COMMAND_ROOM,
}
# Roles only some agencies may hold: an auditor is an oversight body's.
ROLE_AGENCIES: dict[str, frozenset[str]] = {"auditor": frozenset({"oversight"})}
# Devices and services are not people: clearance does not apply to them.
MACHINE_ROLES = frozenset({"device", "service"})

LAW_ENFORCEMENT = frozenset({"camera_meta", "alerts", "video", "plate", "biometric", "watchlist",
                             "counts", "audit"})
# The data classes each agency's agreement grants (DESIGN §5: an agency sees only those).
AGENCY_CLASSES: dict[str, frozenset[str]] = {
    "police": LAW_ENFORCEMENT,
    "gendarmerie": LAW_ENFORCEMENT,
    "traffic": frozenset({"camera_meta", "alerts", "plate", "counts", "audit"}),
    "intelligence": LAW_ENFORCEMENT - {"counts"},
    "oversight": frozenset({"audit"}),
    "platform": frozenset({"audit"}),
}
MIN_CLEARANCE = {"camera_meta": 0, "alerts": 0, "counts": 0, "video": 1, "plate": 1, "audit": 1,
                 "watchlist": 2, "biometric": 2}

# The data classes each action touches (the contract's data_class; confirming or rejecting a face
# match touches the alert and the biometric match).
ACTION_CLASSES: dict[str, frozenset[str]] = {
    **{a: frozenset({"camera_meta"}) for a in ("camera.register", "camera.update", "camera.get",
                                               "camera.list", "camera.decommission",
                                               "camera.health")},
    "camera.preview": frozenset({"video"}),
    "evidence.export": frozenset({"video"}),
    "camera.start_stream": frozenset({"video"}),
    "camera.stop_stream": frozenset({"video"}),
    "ingest.push_frames": frozenset({"video"}),
    "analytics.detect_faces": frozenset({"biometric"}),
    "analytics.embed_face": frozenset({"biometric"}),
    "analytics.read_plates": frozenset({"plate"}),
    "watchlist.create": frozenset({"watchlist"}),
    "watchlist.list": frozenset({"watchlist"}),
    "watchlist.enrol_subject": frozenset({"biometric"}),
    "watchlist.remove_subject": frozenset({"biometric"}),
    **{a: frozenset({"plate"}) for a in ("hotlist.add_plate", "hotlist.remove_plate", "hotlist.list",
                                         "search.plate", "search.sightings", "search.trajectory")},
    "search.face": frozenset({"biometric"}),
    "evidence.view": frozenset({"video"}),
    "search.counts": frozenset({"counts"}),
    **{a: frozenset({"alerts"}) for a in ("alert.stream", "alert.acknowledge", "alert.escalate")},
    "alert.confirm": frozenset({"alerts", "biometric"}),
    "alert.reject": frozenset({"alerts", "biometric"}),
    **{a: frozenset({"audit"}) for a in ("audit.query", "audit.tree_head", "audit.proof",
                                         "audit.export")},
    **{a: frozenset({"camera_meta"}) for a in ("camera.report_status", "camera.list_down")},
    "follow.start": frozenset({"plate"}),
    **{a: frozenset({"alerts"}) for a in ("follow.stop", "follow.list")},
}


def expected_allowed(user: DevUser, action: str) -> bool:
    """The table's verdict: a role grants it, the agreement grants every class, clearance suffices."""
    granting = {role for role in user.roles & ALLOWED_ROLES[action]
                if user.agency in ROLE_AGENCIES.get(role, {user.agency})}
    if not granting:
        return False
    classes = ACTION_CLASSES[action]
    if not classes <= AGENCY_CLASSES[user.agency]:
        return False
    person = bool(granting - MACHINE_ROLES)
    return not (person and any(user.clearance < MIN_CLEARANCE[c] for c in classes))


# Cases where the policy says otherwise and DESIGN sides with the table: method -> why. None today;
# an entry turns that method's cases the table allows into strict xfails.
KNOWN_DISAGREEMENTS: dict[str, str] = {}

# ---- running the matrix once -------------------------------------------------------------------

METHODS = all_methods()
CASES = [(user.name, full_method(m)) for user in DEV_USERS for m in METHODS]
# RPCs whose contract marks them state-changing: the gate logs their admission before they act.
CHANGES_STATE = frozenset(name for name in map(full_method, METHODS)
                          if (rule := access_rule(name)) is not None and rule.changes_state)


@dataclass
class MatrixRun:
    outcomes: dict[tuple[str, str], Outcome]
    invocations: list[Invocation]
    records: list[AccessRecord]
    actions: dict[str, str] = field(default_factory=dict)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix(harness: Harness) -> MatrixRun:
    """Every case called once, eight at a time; what the servicers saw and what the log holds."""
    by_name = {full_method(m): m for m in METHODS}
    actions = {name: rule.action for name in by_name if (rule := access_rule(name)) is not None}
    mark, first = await harness.audit.mark(), len(harness.recorder.invocations)
    limit = asyncio.Semaphore(8)

    async def one(user: str, method: str) -> tuple[tuple[str, str], Outcome]:
        caller = Caller(user, USERS[user].agency)
        request = REQUESTS[method](caller, set(ACTION_CLASSES[actions[method]]))
        async with limit:
            return (user, method), await invoke(harness.channel, by_name[method], request,
                                                harness.metadata(user))

    outcomes = dict(await asyncio.gather(*(one(u, m) for u, m in CASES)))
    return MatrixRun(outcomes, harness.recorder.invocations[first:], await harness.audit.since(mark),
                     actions)


# ---- the tables describe the world the tests run in --------------------------------------------

async def test_every_rpc_has_an_access_rule_a_request_and_an_expectation() -> None:
    for method in METHODS:
        name = full_method(method)
        rule = access_rule(name)
        assert rule is not None, f"{name} has no (basira.v1.access) option"
        assert name in REQUESTS, f"no realistic request for {name} in scenarios.py"
        assert rule.action in ALLOWED_ROLES and rule.action in ACTION_CLASSES, rule.action
    services = {m.containing_service.name for m in METHODS}
    assert services == {"CameraService", "FrameIngestService", "AnalyticsService", "WatchlistService",
                        "SearchService", "AlertService", "AuditService"}


async def test_dev_users_are_every_realm_user_with_a_basira_token() -> None:
    realm = json.loads(DEFAULT_REALM_FILE.read_text())
    realm_users = {u["username"] for u in realm["users"]}
    assert realm_users - set(USERS) == {"service-account-basira-admin"}  # no basira audience
    assert set(USERS) <= realm_users


async def test_tokens_carry_what_the_table_says(harness: Harness) -> None:
    for user in DEV_USERS:
        subject = await harness.gate.verifier.verify(harness.token(user.name))
        assert (subject.user, subject.agency, set(subject.roles), subject.clearance) == (
            user.name, user.agency, set(user.roles), user.clearance)


async def test_design_rules_hold_in_the_table() -> None:
    """DESIGN §5 read directly: these must hold whatever the role catalogue says."""
    for user in DEV_USERS:
        for action in ALLOWED_ROLES:
            if not expected_allowed(user, action):
                continue
            classes = ACTION_CLASSES[action]
            if user.agency == "traffic":
                assert not classes & {"biometric", "video"}, (user.name, action)
            if user.agency == "oversight" or "auditor" in user.roles:
                assert action.startswith("audit."), (user.name, action)
            if "device" in user.roles:
                assert action in {"ingest.push_frames", "camera.report_status"}, (user.name, action)
            if "camera_admin" in user.roles:
                assert action.startswith("camera."), (user.name, action)


# ---- what the gate did -------------------------------------------------------------------------

async def test_every_call_is_ok_or_permission_denied(matrix: MatrixRun) -> None:
    others = {case: (o.code, o.details) for case, o in matrix.outcomes.items()
              if o.code not in (grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED)}
    assert not others
    assert len(matrix.outcomes) == len(DEV_USERS) * len(METHODS)


def _case_param(user: str, method: str) -> Any:
    marks = []
    action = access_rule(method).action  # type: ignore[union-attr]
    if method in KNOWN_DISAGREEMENTS and expected_allowed(USERS[user], action):
        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DISAGREEMENTS[method]))
    return pytest.param(user, method, marks=marks, id=f"{user}:{method.split('/', 2)[2]}")


@pytest.mark.parametrize(("user", "method"), [_case_param(u, m) for u, m in CASES])
async def test_outcome_matches_the_table(matrix: MatrixRun, user: str, method: str) -> None:
    outcome = matrix.outcomes[(user, method)]
    expected = expected_allowed(USERS[user], matrix.actions[method])
    got = outcome.code == grpc.StatusCode.OK
    assert got == expected, (f"{user} {matrix.actions[method]}: expected "
                             f"{'OK' if expected else 'PERMISSION_DENIED'}, got {outcome.code.name} "
                             f"{outcome.details}")
    if got:
        assert outcome.responses, "allowed but no data returned"


async def test_denied_calls_never_reach_a_servicer_and_allowed_ones_do_once(matrix: MatrixRun) -> None:
    served = Counter((i.user, i.method) for i in matrix.invocations)
    for case, outcome in matrix.outcomes.items():
        assert served[case] == (1 if outcome.code == grpc.StatusCode.OK else 0), case
    assert sum(served.values()) == sum(o.code == grpc.StatusCode.OK for o in matrix.outcomes.values())


async def test_access_records_per_call_each_with_the_policy_revision(matrix: MatrixRun,
                                                                     harness: Harness) -> None:
    """One record per call; an allowed state-changing call also leaves its admission, logged first."""
    logged: dict[tuple[str, str], list[AccessRecord]] = {}
    for record in matrix.records:  # in log order
        logged.setdefault((record.user, record.method), []).append(record)
    assert set(logged) == set(matrix.outcomes), "a call left no record, or a record no call"
    for (user, method), outcome in matrix.outcomes.items():
        records = logged[(user, method)]
        allowed = outcome.code == grpc.StatusCode.OK
        two_step = allowed and method in CHANGES_STATE
        assert [(r.allowed, r.status) for r in records] == (
            [(True, "ADMITTED")] if two_step else []) + [(allowed, outcome.code.name)], (user, method)
        for record in records:
            assert record.action == matrix.actions[method]
            assert record.policy_revision == harness.revision != ""
            assert (record.agency, set(record.roles)) == (USERS[user].agency, set(USERS[user].roles))
        if two_step:
            admitted, completed = records
            assert admitted.result_count is None and completed.result_count is not None
            assert (admitted.resource, admitted.obligations) == (completed.resource, completed.obligations)
        if not allowed:
            assert records[-1].reasons and all(reason in outcome.details for reason in records[-1].reasons)
    changing = [case for case, o in matrix.outcomes.items()
                if o.code == grpc.StatusCode.OK and case[1] in CHANGES_STATE]
    assert changing and len(matrix.records) == len(matrix.outcomes) + len(changing)


async def test_audit_export_is_logged_with_its_oversight_purpose(matrix: MatrixRun) -> None:
    (record,) = [r for r in matrix.records
                 if (r.user, r.method) == ("oversight-auditor", "/basira.v1.AuditService/ExportLog")]
    assert (record.allowed, record.purpose) == (True, "oversight")


async def test_design_rules_hold_in_what_the_gate_did(matrix: MatrixRun) -> None:
    """The DESIGN §5 rules checked on the observed outcomes, independently of the table."""
    for (user, method), outcome in matrix.outcomes.items():
        if outcome.code != grpc.StatusCode.OK:
            continue
        action, dev_user = matrix.actions[method], USERS[user]
        if dev_user.agency == "traffic":
            assert not ACTION_CLASSES[action] & {"biometric", "video"}, (user, action)
        if dev_user.agency == "oversight":
            assert action.startswith("audit."), (user, action)
        if "device" in dev_user.roles:
            assert action in {"ingest.push_frames", "camera.report_status"}, (user, action)
        if "camera_admin" in dev_user.roles:
            assert action.startswith("camera."), (user, action)


async def test_command_rooms_can_confirm_face_matches_two_people_apart(matrix: MatrixRun) -> None:
    """DESIGN §5 two-person rule, read in a command room: the operators of an agency granted biometric
    data may confirm and reject face matches, and there are two of them to give both confirmations."""
    verdicts = ("/basira.v1.AlertService/ConfirmMatch", "/basira.v1.AlertService/RejectMatch")
    operators = [u for u in DEV_USERS if "operator" in u.roles and "biometric" in AGENCY_CLASSES[u.agency]]
    assert {u.agency for u in operators} == {"police", "gendarmerie"}
    for user in operators:
        for method in verdicts:
            assert matrix.outcomes[(user.name, method)].code == grpc.StatusCode.OK, (user.name, method)
    confirmers = {user for (user, m), o in matrix.outcomes.items()
                  if m == verdicts[0] and o.code == grpc.StatusCode.OK and USERS[user].agency == "police"
                  and "operator" in USERS[user].roles}
    assert len(confirmers) >= 2


@pytest.mark.parametrize("method", [
    pytest.param(full_method(m), id=m.name,
                 marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DISAGREEMENTS[full_method(m)])]
                 if full_method(m) in KNOWN_DISAGREEMENTS else [])
    for m in METHODS])
async def test_every_rpc_is_allowed_to_some_dev_user(matrix: MatrixRun, method: str) -> None:
    allowed = [user for (user, m), o in matrix.outcomes.items()
               if m == method and o.code == grpc.StatusCode.OK]
    assert allowed, f"no dev user may call {method}"

