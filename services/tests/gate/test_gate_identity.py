"""Gate step 1 over real gRPC: every kind of bad identity is UNAUTHENTICATED, never served, always logged."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from jwcrypto import jwk, jws

from basira.v1 import alert_pb2, camera_pb2

from .harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

USER = "police-operator"
GET_CAMERA = "/basira.v1.CameraService/GetCamera"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


def unb64json(segment: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return value


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return unb64json(header), unb64json(payload), signature


def tampered(h: Harness) -> str:
    """A valid token whose payload was edited (clearance raised) after signing."""
    header, claims, signature = segments(h.token(USER))
    claims["clearance"] = 5
    return f"{b64json(header)}.{b64json(claims)}.{signature}"


def alg_none(h: Harness) -> str:
    header, claims, _ = segments(h.token(USER))
    return f"{b64json({**header, 'alg': 'none'})}.{b64json(claims)}."


def forged_with_other_key(h: Harness) -> str:
    """Same header (kid of the issuer) and claims, signed with a key the attacker made."""
    header, claims, _ = segments(h.token(USER))
    attacker = jwk.JWK.generate(kty="RSA", size=2048)
    signer = jws.JWS(json.dumps(claims).encode())
    signer.add_signature(attacker, alg="RS256", protected=json.dumps(header))
    return str(signer.serialize(compact=True))


def hs256_with_public_key(h: Harness) -> str:
    """The algorithm-confusion attack: HMAC keyed with the issuer's public key (as PEM bytes)."""
    header, claims, _ = segments(h.token(USER))
    public_pem = jwk.JWK(**h.issuer.state.key.public_jwk()).export_to_pem()
    signer = jws.JWS(json.dumps(claims).encode())
    signer.add_signature(jwk.JWK(kty="oct", k=b64url(public_pem)), alg="HS256",
                         protected=json.dumps({**header, "alg": "HS256"}))
    return str(signer.serialize(compact=True))


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


# name -> (metadata for the call, a phrase the status message must contain)
BadIdentity = Callable[[Harness], tuple[tuple[tuple[str, str], ...] | None, str]]
CASES: dict[str, BadIdentity] = {
    "no metadata": lambda h: (None, "no access token"),
    "not a bearer scheme": lambda h: ((("authorization", "Basic cG9saWNlOnNlY3JldA=="),), "Bearer"),
    "garbage token": lambda h: (bearer("not-a-jwt-at-all"), "malformed token"),
    "expired": lambda h: (bearer(h.issuer.token_for(USER, exp=int(time.time()) - 3600)), "expired"),
    "wrong audience": lambda h: (bearer(h.issuer.token_for(USER, aud="some-other-service")),
                                 "wrong audience"),
    "admin client token (no basira audience)": lambda h: (
        bearer(h.issuer.token_for("service-account-basira-admin", client_id="basira-admin")),
        "wrong audience"),
    "wrong issuer": lambda h: (bearer(h.issuer.token_for(USER, iss="http://evil.example/realms/basira")),
                               "wrong issuer"),
    "tampered payload": lambda h: (bearer(tampered(h)), "does not verify"),
    "alg none": lambda h: (bearer(alg_none(h)), "'none'"),
    "signed with another key": lambda h: (bearer(forged_with_other_key(h)), "does not verify"),
    "HS256 algorithm confusion": lambda h: (bearer(hs256_with_public_key(h)), "'HS256'"),
}


def assert_unauthenticated_record(records: list[Any], action: str, method: str) -> None:
    assert len(records) == 1, records
    record = records[0]
    assert (record.allowed, record.status, record.user) == (False, "UNAUTHENTICATED", "anonymous")
    assert (record.action, record.method) == (action, method)
    assert record.reasons and record.reasons[0].startswith("unauthenticated: ")
    assert record.result_count is None


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_identity_is_unauthenticated_unserved_and_logged(harness: Harness, case: str) -> None:
    metadata, phrase = CASES[case](harness)
    mark, served = await harness.audit.mark(), len(harness.recorder.invocations)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await harness.stub("CameraService").GetCamera(camera_pb2.GetCameraRequest(camera_id="cam-medina-01"),
                                                      metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert phrase in (refused.value.details() or "")
    assert len(harness.recorder.invocations) == served, "the servicer ran for an unauthenticated call"
    assert_unauthenticated_record(await harness.audit.since(mark), "camera.get", GET_CAMERA)


async def test_the_same_valid_token_is_served(harness: Harness) -> None:
    """Control: the checks above refuse the bad tokens, not every token."""
    reply = await harness.stub("CameraService").GetCamera(
        camera_pb2.GetCameraRequest(camera_id="cam-medina-01"), metadata=harness.metadata(USER))
    assert reply.camera.id


async def test_server_stream_without_token_is_unauthenticated(harness: Harness) -> None:
    mark, served = await harness.audit.mark(), len(harness.recorder.invocations)
    call = harness.stub("AlertService").StreamAlerts(alert_pb2.StreamAlertsRequest(zones=["medina"]))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        _ = [reply async for reply in call]
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len(harness.recorder.invocations) == served
    assert_unauthenticated_record(await harness.audit.since(mark), "alert.stream",
                                  "/basira.v1.AlertService/StreamAlerts")


async def test_client_stream_without_token_is_unauthenticated(harness: Harness) -> None:
    mark, served = await harness.audit.mark(), len(harness.recorder.invocations)
    frames = [camera_pb2.PushFramesRequest(camera_id="bwc-police-01", image=b"\xff\xd8")] * 2
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await harness.stub("FrameIngestService").PushFrames(iter(frames), metadata=bearer(alg_none(harness)))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len(harness.recorder.invocations) == served
    assert_unauthenticated_record(await harness.audit.since(mark), "ingest.push_frames",
                                  "/basira.v1.FrameIngestService/PushFrames")


async def test_empty_client_stream_without_token_is_unauthenticated_and_logged(harness: Harness) -> None:
    """The identity is checked before the stream is read: sending nothing does not skip step 1."""
    mark, served = await harness.audit.mark(), len(harness.recorder.invocations)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await harness.stub("FrameIngestService").PushFrames(iter([]))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "no access token" in (refused.value.details() or "")
    assert len(harness.recorder.invocations) == served
    assert_unauthenticated_record(await harness.audit.since(mark), "ingest.push_frames",
                                  "/basira.v1.FrameIngestService/PushFrames")


async def test_empty_client_stream_with_a_valid_token_is_logged_under_the_caller(harness: Harness) -> None:
    """Control: an authenticated empty stream is refused as an invalid request, and logged as its sender's."""
    mark, served = await harness.audit.mark(), len(harness.recorder.invocations)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await harness.stub("FrameIngestService").PushFrames(iter([]), metadata=harness.metadata("bodycam-01"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(harness.recorder.invocations) == served
    (record,) = await harness.audit.since(mark)
    assert (record.allowed, record.status, record.user, record.action) == (
        False, "INVALID_ARGUMENT", "bodycam-01", "ingest.push_frames")
    assert record.reasons == ["the stream sent no message"]
