"""The console's pure parts, one module at a time: sessions, CSRF, PKCE, problem mapping, JSON wire
format, SSE resume points and framing, safe return paths."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from basira.console.auth import safe_return_path
from basira.console.csrf import csrf_problem
from basira.console.oidc import pkce_pair
from basira.console.problems import DETAILS_KEY, Problem, from_grpc
from basira.console.session import PendingLogin, Session, SessionStore, Tokens
from basira.console.sse import Item, frame, relay, resume_point
from basira.console.wire import access_context, enum_value, message_json, parse_time
from basira.v1 import alert_pb2, camera_pb2, watchlist_pb2

ORIGIN = "http://127.0.0.1:8480"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _session(refresh_expires_at: float = 0.0) -> Session:
    return Session(user="omar", name="Omar", agency="police", roles=("operator",), clearance=2,
                   tokens=Tokens("access", "refresh", "id", 1300.0, refresh_expires_at))


# ---- sessions ----

def test_session_ids_are_random_and_stored_only_hashed() -> None:
    store = SessionStore(idle_s=60, clock=Clock())
    first, second = store.create(_session()), store.create(_session())
    assert first != second and len(first) >= 43
    assert store.get(first) is not None and store.get("made-up") is None
    assert first.encode() not in repr(store.__dict__).encode()  # only SHA-256 of the id is kept


def test_sessions_end_when_idle_when_the_refresh_token_expires_and_on_drop() -> None:
    clock = Clock()
    store = SessionStore(idle_s=60, clock=clock)
    idle = store.create(_session())
    refresh_bound = store.create(_session(refresh_expires_at=1030.0))
    dropped = store.create(session := _session())
    clock.now += 40
    assert store.get(idle) is not None and store.get(refresh_bound) is None  # refresh token expired
    assert store.drop(dropped) is session and session.ended.is_set() and store.get(dropped) is None
    clock.now += 59
    assert store.get(idle) is not None  # used 59 s ago: still alive
    clock.now += 61
    assert store.get(idle) is None


def test_oldest_sessions_go_first_when_the_store_is_full() -> None:
    store = SessionStore(idle_s=60, max_sessions=2, clock=Clock())
    a, b = store.create(first := _session()), store.create(_session())
    store.get(a)  # a was used more recently than b
    store.create(_session())
    assert store.get(a) is not None and store.get(b) is None and len(store) == 2
    assert not first.ended.is_set()


def test_a_pending_sign_in_is_used_once_and_expires() -> None:
    clock = Clock()
    store = SessionStore(idle_s=60, login_timeout_s=300, clock=clock)
    raw = store.begin_login(PendingLogin("state", "nonce", "verifier", "/", clock.now))
    assert store.finish_login(raw) is not None and store.finish_login(raw) is None
    late = store.begin_login(PendingLogin("s", "n", "v", "/", clock.now))
    clock.now += 301
    assert store.finish_login(late) is None and store.finish_login(None) is None


def test_csrf_token_comparison() -> None:
    session = _session()
    assert session.csrf_matches(session.csrf_token)
    assert not session.csrf_matches("") and not session.csrf_matches(session.csrf_token + "x")


# ---- CSRF ----

@pytest.mark.parametrize(("method", "headers", "token_ok", "refused"), [
    ("GET", {}, False, False),
    ("HEAD", {"Origin": "https://evil.example"}, False, False),
    ("POST", {"Origin": ORIGIN, "X-CSRF-Token": "t"}, True, False),
    ("POST", {"Origin": ORIGIN + "/", "X-CSRF-Token": "t"}, True, False),
    ("POST", {"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": "t"}, True, False),
    ("POST", {"Origin": ORIGIN}, True, True),  # no token header
    ("POST", {"Origin": ORIGIN, "X-CSRF-Token": "t"}, False, True),  # wrong token
    ("DELETE", {"Origin": "https://evil.example", "X-CSRF-Token": "t"}, True, True),
    ("POST", {"Origin": "null", "X-CSRF-Token": "t"}, True, True),
    ("POST", {"Sec-Fetch-Site": "cross-site", "X-CSRF-Token": "t"}, True, True),
    ("PUT", {"X-CSRF-Token": "t"}, True, True),  # neither Origin nor Sec-Fetch-Site
])
def test_csrf_needs_token_and_same_origin_on_state_changing_methods(
        method: str, headers: dict[str, str], token_ok: bool, refused: bool) -> None:
    problem = csrf_problem(method, headers, allowed_origin=ORIGIN, token_matches=token_ok)
    assert bool(problem) is refused, problem


# ---- PKCE ----

def test_pkce_pair_is_s256_of_a_long_random_verifier() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128 and set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode() and len(challenge) == 43
    assert pkce_pair()[0] != verifier


# ---- problems ----

def _details(*messages: Any) -> list[tuple[str, bytes]]:
    packed = []
    for message in messages:
        item = any_pb2.Any()
        item.Pack(message)
        packed.append(item)
    status = status_pb2.Status(code=7, message="denied", details=packed)
    return [(DETAILS_KEY, status.SerializeToString())]


def test_permission_denied_carries_the_policy_reasons_and_revision() -> None:
    info = error_details_pb2.ErrorInfo(reason="PERMISSION_DENIED", domain="basira", metadata={
        "reasons": 'agency "oversight" is not granted data class "plate"; purpose "x" is unknown',
        "policy_revision": "rev-9"})
    problem = from_grpc(grpc.StatusCode.PERMISSION_DENIED, "search.plate denied: ...", _details(info))
    body = problem.body("/api/search/plates")
    assert (body["status"], body["type"], body["grpc_status"]) == (
        403, "urn:basira:problem:permission-denied", "PERMISSION_DENIED")
    assert body["reasons"] == ['agency "oversight" is not granted data class "plate"',
                               'purpose "x" is unknown']
    assert body["policy_revision"] == "rev-9" and body["instance"] == "/api/search/plates"


@pytest.mark.parametrize(("code", "status"), [
    (grpc.StatusCode.INVALID_ARGUMENT, 400), (grpc.StatusCode.UNAUTHENTICATED, 401),
    (grpc.StatusCode.NOT_FOUND, 404), (grpc.StatusCode.FAILED_PRECONDITION, 409),
    (grpc.StatusCode.ALREADY_EXISTS, 409), (grpc.StatusCode.RESOURCE_EXHAUSTED, 413),
    (grpc.StatusCode.UNAVAILABLE, 503), (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    (grpc.StatusCode.INTERNAL, 500), (grpc.StatusCode.UNKNOWN, 500),
])
def test_grpc_status_maps_to_http(code: grpc.StatusCode, status: int) -> None:
    assert from_grpc(code, "message", None).status == status


def test_bad_field_is_named_and_internal_errors_say_nothing_inside() -> None:
    bad = error_details_pb2.BadRequest(field_violations=[
        error_details_pb2.BadRequest.FieldViolation(field="entry.expires", description="in the past")])
    assert from_grpc(grpc.StatusCode.INVALID_ARGUMENT, "in the past", _details(bad)).field == "entry.expires"
    internal = from_grpc(grpc.StatusCode.INTERNAL, "psycopg.errors.UndefinedTable: relation x", None)
    assert "psycopg" not in internal.detail and internal.reasons == [internal.detail]


def test_problem_response_is_problem_json() -> None:
    response = Problem(400, "bad-request", "Bad request", "plate is required", field="plate").response("/x")
    assert response.content_type == "application/problem+json" and response.status == 400
    assert json.loads(response.text or "")["field"] == "plate"


# ---- the JSON wire format ----

def test_messages_have_every_field_enums_by_name_int64_as_numbers() -> None:
    alert = alert_pb2.Alert(id="a1", sequence=2**40, kind=alert_pb2.ALERT_KIND_PLATE_HIT,
                            acknowledged_by=["omar"])
    alert.raised.FromJsonString("2026-03-01T10:15:00.123456Z")
    body = message_json(alert)
    assert body["sequence"] == 2**40 and body["kind"] == "ALERT_KIND_PLATE_HIT"
    assert body["state"] == "ALERT_STATE_UNSPECIFIED" and body["raised"] == "2026-03-01T10:15:00.123Z"
    assert body["last_seen"] == "" and body["acknowledged_by"] == ["omar"]
    assert body["hotlist_entry"]["legal_basis"] == {"kind": "", "reference": "", "issued_by": ""}
    health = camera_pb2.CameraHealth(camera_id="c", conditions={"blocked": "alarm"})
    assert message_json(health)["conditions"] == {"blocked": "alarm"}
    json.dumps(body)  # JSON all the way down


def test_requests_are_read_strictly_naming_the_field() -> None:
    assert parse_time("2026-03-01T10:00:00Z", "t") is not None and parse_time("", "t") is None
    for bad in ("yesterday", "2026-03-01T10:00:00", 12):
        with pytest.raises(Problem) as refused:
            parse_time(bad, "time_from")
        assert refused.value.field == "time_from"
    reasons = watchlist_pb2.HotlistReason.DESCRIPTOR
    assert enum_value(reasons, "stolen", "reason", "HOTLIST_REASON") == watchlist_pb2.HOTLIST_REASON_STOLEN
    assert enum_value(reasons, "HOTLIST_REASON_WANTED", "reason", "HOTLIST_REASON") == 2
    with pytest.raises(Problem):
        enum_value(reasons, "lost-dog", "reason", "HOTLIST_REASON")


def test_case_context_with_an_authorization_object_or_an_id() -> None:
    full = access_context({"purpose": "theft-investigation", "case_id": "CASE-2026-0042", "authorization": {
        "id": "AUTH-1", "issued_by": "court", "scope_zones": ["medina"], "expires": "2026-04-01T00:00:00Z"}})
    assert full.authorization.issued_by == "court" and list(full.authorization.scope_zones) == ["medina"]
    assert full.authorization.expires.seconds > 0
    assert access_context({"authorization_id": "AUTH-2"}).authorization.id == "AUTH-2"
    with pytest.raises(Problem):
        access_context({"purpose": 5})
    with pytest.raises(Problem):
        access_context("theft")  # type: ignore[arg-type]


# ---- SSE ----

def test_resume_point_prefers_last_event_id() -> None:
    assert resume_point({}, {}) == 0
    assert resume_point({"Last-Event-ID": "42"}, {"after_sequence": "7"}) == 42
    assert resume_point({}, {"after_sequence": "7"}) == 7
    for bad in ("-1", "x", "1.5"):
        with pytest.raises(Problem):
            resume_point({"Last-Event-ID": bad}, {})


def test_event_frame_is_one_data_line() -> None:
    text = frame("alert", {"summary": "line one\nline two"}, 12).decode()
    assert text == 'id: 12\nevent: alert\ndata: {"summary":"line one\\nline two"}\n\n'


class _Sink:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.written.append(data)


async def test_relay_skips_what_was_already_sent_and_reports_stream_problems() -> None:
    async def items() -> Any:
        for sequence in (3, 5, 5, 4, 8):
            yield Item(sequence, "alert", {"n": sequence})
        raise Problem(503, "unavailable", "Service unavailable", "alerting went away")

    sink = _Sink()
    last = await relay(sink, items(), after=3, stop=asyncio.Event(), until_epoch=1e12,  # type: ignore[arg-type]
                       keepalive_s=5)
    ids = [line.split(b"\n")[0] for line in sink.written if line.startswith(b"id:")]
    assert ids == [b"id: 5", b"id: 8"] and last == 8
    assert sink.written[-1].startswith(b"event: problem")


async def test_relay_stops_when_the_session_ends_and_keeps_the_connection_alive() -> None:
    never = asyncio.Event()

    async def items() -> Any:
        await never.wait()
        yield Item(1, "alert", {})

    stop, sink = asyncio.Event(), _Sink()
    task = asyncio.create_task(relay(sink, items(), after=0, stop=stop, until_epoch=1e12,  # type: ignore[arg-type]
                                     keepalive_s=0.05))
    await asyncio.sleep(0.2)
    stop.set()
    assert await asyncio.wait_for(task, 2) == 0
    assert b": keep-alive\n\n" in sink.written


# ---- sign-in details ----

@pytest.mark.parametrize(("asked", "kept"), [
    ("/oversight?record=12", "/oversight?record=12"), ("/", "/"), (None, "/"),
    ("https://evil.example/", "/"), ("//evil.example/x", "/"), ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"), ("/auth/logout", "/"), ("/api/me", "/"),
])
def test_return_path_after_sign_in_stays_on_the_console(asked: str | None, kept: str) -> None:
    assert safe_return_path(asked) == kept


# ---- token refresh ----

class _Issuer:
    """Stand-in for the OIDC client's refresh grant (this module's unit tests only)."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse, self.refreshed = refuse, 0

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        from basira.console.oidc import TokenRefused

        self.refreshed += 1
        if self.refuse:
            raise TokenRefused("invalid_grant: Session not active")
        return {"access_token": f"access-{self.refreshed}", "refresh_token": "refresh-2", "expires_in": 300,
                "refresh_expires_in": 1800}


def _console(issuer: _Issuer) -> tuple[Any, SessionStore]:
    from basira.console.config import ConsoleSettings
    from basira.console.context import Console

    store = SessionStore(idle_s=600)
    console = Console(settings=ConsoleSettings(console_client_secret="s"), sessions=store,  # type: ignore[arg-type]
                      oidc=issuer, verifier=None, backends=None, origin=ORIGIN)  # type: ignore[arg-type]
    return console, store


def _request_with(raw: str) -> Any:
    from aiohttp.test_utils import make_mocked_request

    return make_mocked_request("GET", "/api/alerts", headers={"Cookie": f"__Host-basira-session={raw}"})


async def test_token_is_refreshed_only_when_close_to_expiry() -> None:
    import time

    issuer = _Issuer()
    console, store = _console(issuer)
    session = _session()
    session.tokens = Tokens("fresh", "refresh-1", "id-1", time.time() + 200, 0)
    raw = store.create(session)
    assert await console.token(_request_with(raw), session) == "fresh" and issuer.refreshed == 0
    session.tokens.access_expires_at = time.time() + 10  # within the 30 s margin
    assert await console.token(_request_with(raw), session) == "access-1" and issuer.refreshed == 1
    assert session.tokens.id_token == "id-1" and session.tokens.refresh_token == "refresh-2"


async def test_a_refused_refresh_ends_the_session_with_a_401_problem() -> None:
    import time

    console, store = _console(_Issuer(refuse=True))
    session = _session()
    session.tokens = Tokens("stale", "revoked", "id", time.time() - 1, 0)
    raw = store.create(session)
    with pytest.raises(Problem) as ended:
        await console.token(_request_with(raw), session)
    assert ended.value.status == 401 and ended.value.extra["login_url"].startswith("/auth/login")
    assert store.get(raw) is None and session.ended.is_set()
