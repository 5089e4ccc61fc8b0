"""Rate limits at the gate over real servers: a flood of failed authentications from one address, and
one user's expensive searches past their rate, are refused with RESOURCE_EXHAUSTED and a retry delay;
the first refusal of each run is logged, the rest are not (the log cannot be flooded); nothing refused
reaches the servicer; other callers, valid tokens from the same address and other acts go on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from basira.common.rate_limits import FAILED_AUTHENTICATION, Rate, RateLimits

from .harness import Harness, Outcome, all_methods, full_method, invoke, start_harness
from .scenarios import REQUESTS, Caller

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

METHODS = {full_method(m): m for m in all_methods()}
SEARCH_PLATES = "/basira.v1.SearchService/SearchPlates"
LIST_SIGHTINGS = "/basira.v1.SearchService/ListSightings"
GET_CAMERA = "/basira.v1.CameraService/GetCamera"
SLOW = 0.001  # a minute's rate so low no token comes back while a test runs
FAILURES_ALLOWED, SEARCHES_ALLOWED = 3, 2


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def limited(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    limits = RateLimits({FAILED_AUTHENTICATION: Rate(per_minute=SLOW, burst=FAILURES_ALLOWED),
                         "search.plate": Rate(per_minute=SLOW, burst=SEARCHES_ALLOWED)})
    started = await start_harness(nats_url, Path(tmp_path_factory.mktemp("gate-limits")), limits=limits)
    try:
        yield started
    finally:
        await started.close()


async def call(h: Harness, method: str, user: str, metadata: tuple[tuple[str, str], ...] | None = None
               ) -> tuple[Outcome, int]:
    """The outcome and how many times the servicer ran."""
    served = len(h.recorder.invocations)
    request = REQUESTS[method](Caller(user, "police"), {"plate"})
    outcome = await invoke(h.channel, METHODS[method], request,  # type: ignore[arg-type]
                           metadata if metadata is not None else h.metadata(user))
    return outcome, len(h.recorder.invocations) - served


def retry_delay_s(outcome: Outcome) -> float:
    assert outcome.error is not None
    status = rpc_status.from_call(outcome.error)  # type: ignore[arg-type]
    assert status is not None, "no rich status"
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToNanoseconds()) / 1e9
    raise AssertionError("no RetryInfo in the status")


async def test_failed_authentications_from_one_address_are_limited_without_flooding_the_log(
        limited: Harness) -> None:
    garbage = (("authorization", "Bearer not.a.token"),)
    mark = await limited.audit.mark()
    codes = []
    for _ in range(FAILURES_ALLOWED + 3):
        outcome, served = await call(limited, GET_CAMERA, "police-operator", garbage)
        assert served == 0
        codes.append(outcome.code)
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * FAILURES_ALLOWED + \
        [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3
    assert "too many failed authentications from 127.0.0.1" in outcome.details
    assert retry_delay_s(outcome) > 0
    records = await limited.audit.since(mark)
    assert [r.status for r in records] == ["UNAUTHENTICATED"] * FAILURES_ALLOWED + ["RESOURCE_EXHAUSTED"]
    assert "rate limited: failed authentications from 127.0.0.1" in records[-1].reasons[0]

    # Someone else's failures never hold back a valid token from the same address.
    outcome, served = await call(limited, GET_CAMERA, "police-operator")
    assert (outcome.code, served) == (grpc.StatusCode.OK, 1), outcome.details


async def test_a_users_searches_past_their_rate_are_refused_unserved_and_the_hit_logged(
        limited: Harness) -> None:
    mark = await limited.audit.mark()
    outcomes = [await call(limited, SEARCH_PLATES, "police-investigator")
                for _ in range(SEARCHES_ALLOWED + 2)]
    assert [(o.code, served) for o, served in outcomes] == \
        [(grpc.StatusCode.OK, 1)] * SEARCHES_ALLOWED + [(grpc.StatusCode.RESOURCE_EXHAUSTED, 0)] * 2
    refused = outcomes[-1][0]
    assert "search.plate: more than" in refused.details and retry_delay_s(refused) > 0
    records = [r for r in await limited.audit.since(mark) if r.user == "police-investigator"]
    assert [r.status for r in records] == ["OK"] * SEARCHES_ALLOWED + ["RESOURCE_EXHAUSTED"]
    assert records[-1].action == "search.plate" and not records[-1].allowed

    # The limit is this user's and this act's: another investigator searches, this one still lists.
    other = await call(limited, SEARCH_PLATES, "police-investigator2")
    assert (other[0].code, other[1]) == (grpc.StatusCode.OK, 1), other[0].details
    listing = await call(limited, LIST_SIGHTINGS, "police-investigator")
    assert listing[0].code != grpc.StatusCode.RESOURCE_EXHAUSTED, listing[0].details
