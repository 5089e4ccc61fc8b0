"""Mutation fuzzing of every RPC over the real gate: realistic requests with bytes flipped, cut, repeated
or inserted, sent with a valid token. Whatever arrives, the caller gets a clear status (never UNKNOWN
or INTERNAL, never Python exception text) and the access log gets a record of the call.

Deterministic (a fixed seed per method); BASIRA_FUZZ_EXAMPLES mutants per RPC (`make fuzz` raises it).
"""

from __future__ import annotations

import os
import random
import re

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor

from .harness import Harness, all_methods, full_method, invoke
from .scenarios import REQUESTS, Caller

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

EXAMPLES = max(3, int(os.environ.get("BASIRA_FUZZ_EXAMPLES", "0")) // 100)
USER = "police-investigator"
CLEAR = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED,
         grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS,
         grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNIMPLEMENTED}
PYTHON_TEXT = re.compile(r"Traceback|Error\(|Exception|\bFile \"|DecodeError|psycopg")
FUZZED = [m for m in all_methods() if full_method(m) in REQUESTS]


def mutate(seed: bytes, rng: random.Random) -> bytes:
    """One of the mutations a fuzzer starts with, applied 1-3 times."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(5)
        at = rng.randrange(len(data) + 1)
        if kind == 0 and data:  # flip a bit
            at = min(at, len(data) - 1)
            data[at] ^= 1 << rng.randrange(8)
        elif kind == 1:  # cut
            data = data[:at]
        elif kind == 2 and data:  # repeat a slice (varints and lengths then lie)
            end = rng.randint(at, len(data))
            data[at:at] = data[at:end] * rng.randint(1, 4)
        elif kind == 3:  # insert random bytes
            data[at:at] = rng.randbytes(rng.randint(1, 16))
        else:  # an interesting byte
            data[at:at] = bytes([rng.choice((0x00, 0x7F, 0x80, 0xFF))])
    return bytes(data)


def seed_request(method: MethodDescriptor) -> bytes:
    built = REQUESTS[full_method(method)](Caller(USER, "police"), {"plate", "video", "biometric", "alerts"})
    first = built[0] if isinstance(built, list) else built
    return first.SerializeToString()


async def test_the_fuzzed_rpcs_are_most_of_the_contracts() -> None:
    assert len(FUZZED) >= 0.8 * len(all_methods()), "REQUESTS (scenarios.py) lacks many RPCs"


@pytest.mark.parametrize("method", FUZZED, ids=full_method)
async def test_mutated_requests_get_a_clear_status_and_a_record(harness: Harness,
                                                                method: MethodDescriptor) -> None:
    rng = random.Random(full_method(method))
    seed = seed_request(method)
    mark = await harness.audit.mark()
    sent = []
    for _ in range(EXAMPLES):
        payload = mutate(seed, rng)
        request = [payload] if method.client_streaming else payload
        outcome = await invoke(harness.channel, method, request, harness.metadata(USER),  # type: ignore[arg-type]
                               raw_bytes=True)
        assert outcome.code in CLEAR, (payload.hex(), outcome.code, outcome.details)
        assert not PYTHON_TEXT.search(outcome.details), (payload.hex(), outcome.details)
        sent.append(outcome.code.name)
    # Each call ends in exactly one record of its outcome (a state-changing one is also logged as
    # ADMITTED before it runs).
    outcomes = [r.status for r in await harness.audit.since(mark) if r.status != "ADMITTED"]
    assert sorted(outcomes) == sorted(sent), f"{full_method(method)}: logged {outcomes}, answered {sent}"
