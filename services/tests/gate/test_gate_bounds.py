"""Bad input is bounded before the gate reads it: INVALID_ARGUMENT naming the field, never echoing the
content or a Python exception, never reaching the servicer, and always logged (with the size only)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from basira.common.gate import GateInterceptor
from basira.v1 import camera_pb2, common_pb2, search_pb2

from .harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SEARCH = "/basira.v1.SearchService/SearchPlates"
GET_CAMERA = "/basira.v1.CameraService/GetCamera"
MiB = 1024 * 1024


async def send(h: Harness, method: str, payload: bytes, user: str | None) -> grpc.aio.AioRpcError:
    """Send raw bytes as the request of `method`; the call must fail (returns its error)."""
    call = h.channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call(payload, metadata=h.metadata(user) if user else None)
    return failed.value


def bad_field(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            return request.field_violations[0].field
    raise AssertionError("no BadRequest detail")


async def refused(h: Harness, method: str, payload: bytes,
                  user: str | None) -> tuple[grpc.aio.AioRpcError, Any]:
    mark, served = await h.audit.mark(), len(h.recorder.invocations)
    error = await send(h, method, payload, user)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert len(h.recorder.invocations) == served, "the servicer was reached"
    [record] = await h.audit.since(mark)
    assert (record.allowed, record.status) == (False, "INVALID_ARGUMENT")
    assert len(record.to_json()) < 4096, "the record carries request content"
    return error, record


def plates(**fields: Any) -> bytes:
    return search_pb2.SearchPlatesRequest(**fields).SerializeToString()


async def test_a_megabyte_purpose_without_a_token_is_refused_by_size_and_logged_small(
        harness: Harness) -> None:
    request = plates(plate="12345B6", access=common_pb2.AccessContext(purpose="x" * MiB))
    error, record = await refused(harness, SEARCH, request, None)
    assert bad_field(error) == "access.purpose"
    assert "1048576 characters, at most 256" in (error.details() or "")
    assert record.user == "anonymous" and "1048576 characters" in record.reasons[0]


async def test_a_multi_megabyte_plate_query_is_refused_with_the_callers_name(harness: Harness) -> None:
    error, record = await refused(harness, SEARCH, plates(plate="A" * 3 * MiB), "police-investigator")
    assert bad_field(error) == "plate" and record.user == "police-investigator"


@pytest.mark.parametrize(("payload", "field"), [
    (plates(plate="12\x0034"), "plate"),
    (plates(plate="1", page=common_pb2.PageRequest(page_size=100_000)), "page.page_size"),
    (plates(plate="1", scope=search_pb2.SearchScope(camera_ids=["c"] * 1001)), "scope.camera_ids"),
    (plates(plate="1", scope=search_pb2.SearchScope(time=common_pb2.TimeRange(
        start=timestamp_pb2.Timestamp(seconds=10**13)))), "scope.time.start"),
    (b"\xff\xff\xff\xff", "request"),
    (b"\x0a\x05ab", "request"),  # a string field cut short
])
async def test_malformed_and_out_of_range_requests_name_the_field(harness: Harness, payload: bytes,
                                                                  field: str) -> None:
    error, _ = await refused(harness, SEARCH, payload, "police-investigator")
    assert bad_field(error) == field
    details = error.details() or ""
    for leak in ("Error", "Traceback", "DecodeError", "ValueError", "\x00"):
        assert leak not in details


async def test_a_valid_request_still_passes(harness: Harness) -> None:
    call = harness.channel.unary_unary(GET_CAMERA, request_serializer=None, response_deserializer=None)
    await call(camera_pb2.GetCameraRequest(camera_id="cam-medina-01").SerializeToString(),
               metadata=harness.metadata("police-operator"))


async def test_a_bidirectional_stream_is_refused_and_logged(harness: Harness) -> None:
    """No contract has one yet; one added without the gate learning it must not pass through."""
    reached: list[bytes] = []

    async def chat(requests: Any, context: Any) -> Any:
        async for item in requests:
            reached.append(item)
            yield item

    server = grpc.aio.server(interceptors=[GateInterceptor(harness.gate)])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "basira.v1.Fake", {"Chat": grpc.stream_stream_rpc_method_handler(chat)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    mark = await harness.audit.mark()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.stream_stream("/basira.v1.Fake/Chat")
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                async for _ in call(iter([b"hello"]), metadata=harness.metadata("police-operator")):
                    pass
    finally:
        await server.stop(0)
    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED and reached == []
    [record] = await harness.audit.since(mark)
    assert (record.user, record.status, record.allowed) == ("police-operator", "UNIMPLEMENTED", False)
