"""PolicyClient: decisions from the real service, and fail-closed behaviour when anything is off."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from basira.common.errors import InvalidInput, Unavailable
from basira.common.policy_client import (
    Decision,
    PolicyClient,
    normalise_policy_input,
    normalise_time,
    parse_decision,
)
from basira.policy.api import start_server
from basira.policy.store import PolicyStore

from .inputs import example_input

Server = tuple[str, int, PolicyStore]
GOOD_RESULT = {"allow": True, "deny": [], "obligations": {"max_results": 5}, "revision": "abc123"}


async def test_allowed_decision(server: Server) -> None:
    host, port, store = server
    async with PolicyClient(f"http://{host}:{port}") as client:
        decision = await client.decide(example_input())
    assert decision.allow is True
    assert decision.deny == []
    assert decision.revision == store.revision
    assert decision.obligations["mask_faces"] is False
    assert decision.obligations["zones"] == ["medina"]


async def test_concurrent_first_calls_share_one_session(server: Server) -> None:
    host, port, store = server
    async with PolicyClient(f"http://{host}:{port}", timeout=5.0) as client:
        decisions = await asyncio.gather(*(client.decide(example_input()) for _ in range(20)))
    assert {(d.allow, d.revision) for d in decisions} == {(True, store.revision)}


async def test_denied_decision_keeps_the_reasons(server: Server) -> None:
    host, port, _ = server
    analyst = {"user": "salma", "agency": "police", "roles": ["analyst"], "clearance": 1}
    async with PolicyClient(f"http://{host}:{port}") as client:
        decision = await client.decide(example_input(subject=analyst))
    assert decision.allow is False
    assert 'roles [analyst] of agency "police" do not permit action "search.face"' in decision.deny


async def test_times_are_normalised_before_asking(server: Server) -> None:
    host, port, _ = server
    context = {**example_input()["context"], "time": "2026-03-01T11:00:00+01:00"}
    context["authorization"] = {**context["authorization"], "expires": "2026-02-28T23:00:00-01:00"}
    async with PolicyClient(f"http://{host}:{port}") as client:
        decision = await client.decide(example_input(context=context))
    assert 'authorization "AUTH-2026-17" expired at "2026-03-01T00:00:00Z"' in decision.deny


async def test_malformed_time_is_invalid_input_not_a_decision(server: Server) -> None:
    host, port, _ = server
    context = {**example_input()["context"], "time": "yesterday"}
    async with PolicyClient(f"http://{host}:{port}") as client:
        with pytest.raises(InvalidInput, match=r"context\.time"):
            await client.decide(example_input(context=context))


async def test_stopped_server_is_unavailable(store: PolicyStore) -> None:
    runner, port = await start_server(store, "127.0.0.1", 0)
    await runner.cleanup()
    async with PolicyClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(Unavailable, match="did not answer"):
            await client.decide(example_input())


async def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with PolicyClient(f"http://127.0.0.1:{port}", retries=1) as client:
        with pytest.raises(Unavailable):
            await client.decide(example_input())


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def fake_service() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start an aiohttp server answering every decision with a given handler; yields its URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def answering(status: int, body: Any, content_type: str = "application/json") -> Handler:
    async def handler(request: web.Request) -> web.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=status, text=text, content_type=content_type)

    return handler


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, "<html>not json</html>", "text/html"),
        (200, "{truncated", "application/json"),
        (500, {"code": "internal_error", "message": "boom"}, "application/json"),
        (404, {"code": "resource_not_found", "message": "no"}, "application/json"),
        (200, {}, "application/json"),
        (200, {"result": True}, "application/json"),
        (200, {"result": {**GOOD_RESULT, "allow": "yes"}}, "application/json"),
        (200, {"result": {**GOOD_RESULT, "revision": ""}}, "application/json"),
        (200, {"result": {**GOOD_RESULT, "deny": ["but no"]}}, "application/json"),
    ],
)
async def test_garbage_answers_are_unavailable(
    fake_service: Callable[[Handler], Awaitable[str]], status: int, body: Any, content_type: str
) -> None:
    url = await fake_service(answering(status, body, content_type))
    async with PolicyClient(url) as client:
        with pytest.raises(Unavailable):
            await client.decide(example_input())


async def test_slow_answer_is_unavailable(fake_service: Callable[[Handler], Awaitable[str]]) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"result": GOOD_RESULT})

    url = await fake_service(slow)
    async with PolicyClient(url, timeout=0.2) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(Unavailable):
            await client.decide(example_input())
        assert asyncio.get_running_loop().time() - started < 1.5


async def test_well_formed_answer_from_any_opa(fake_service: Callable[[Handler], Awaitable[str]]) -> None:
    url = await fake_service(answering(200, {"result": GOOD_RESULT}))
    async with PolicyClient(url) as client:
        assert await client.decide(example_input()) == Decision(True, [], {"max_results": 5}, "abc123")


def test_parse_decision_requires_every_part() -> None:
    assert parse_decision({**GOOD_RESULT, "allow": False, "deny": ["x"]}).deny == ["x"]
    for broken in ({**GOOD_RESULT, "deny": [1]}, {**GOOD_RESULT, "obligations": []}, {"allow": True}, None):
        with pytest.raises(Unavailable):
            parse_decision(broken)


def test_bad_url_is_refused() -> None:
    with pytest.raises(InvalidInput):
        PolicyClient("127.0.0.1:8181")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"),
        ("2026-03-01T11:30:00+01:30", "2026-03-01T10:00:00Z"),
        ("2026-03-01T10:00:00.250Z", "2026-03-01T10:00:00.250000Z"),
    ],
)
def test_normalise_time(value: str, expected: str) -> None:
    assert normalise_time(value, "t") == expected


@pytest.mark.parametrize(
    "value",
    ["yesterday", "2026-03-01", "2026-03-01T10:00:00", "2026-02-30T10:00:00Z", "0001-01-01T00:00:00Z", 5],
)
def test_normalise_time_refuses(value: object) -> None:
    with pytest.raises(InvalidInput):
        normalise_time(value, "t")


def test_normalise_input_touches_only_time_fields_and_copies() -> None:
    original = example_input(resource={"zone": "medina", "entry_expires": "2026-03-20T01:00:00+01:00"})
    normalised = normalise_policy_input(original)
    assert normalised["resource"]["entry_expires"] == "2026-03-20T00:00:00Z"
    assert original["resource"]["entry_expires"] == "2026-03-20T01:00:00+01:00"
    assert normalised["context"]["authorization"]["id"] == "AUTH-2026-17"
    assert normalise_policy_input({"action": "x"}) == {"action": "x"}


async def test_unset_time_is_dropped_so_the_policy_names_the_reason(server: Server) -> None:
    host, port, _ = server
    context = example_input()["context"]
    context["authorization"]["expires"] = ""
    async with PolicyClient(f"http://{host}:{port}") as client:
        decision = await client.decide(example_input(context=context))
    assert 'authorization "AUTH-2026-17" has no valid expiry ("")' in decision.deny
