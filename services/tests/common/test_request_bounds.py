"""Request bounds, and fuzzing of every parser and validator an outsider's bytes reach: every request
message of every RPC, the access-record signature check, the audit service's publisher check and the
offline verifier. No crash and no hang: each rejection is the one typed error, naming a field.

Bounded in `make test`; `make fuzz` runs the same properties with many more examples."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basira.audit.events import publisher_mismatch
from basira.audit.verify import verify_export
from basira.common.access_record import AccessRecord
from basira.common.errors import InvalidInput
from basira.common.record_signing import record_signature_problem, sign_record
from basira.common.request_bounds import (
    MAX_ID_CHARS,
    MAX_PAGE_SIZE,
    MAX_TEXT_CHARS,
    TEXT_FIELDS,
    check_request,
    decode_request,
)
from basira.v1 import (
    alert_pb2,
    analytics_pb2,
    audit_pb2,
    camera_pb2,
    common_pb2,
    search_pb2,
    watchlist_pb2,
)

# Per test, not a global profile (that would change every other hypothesis test of the session).
FUZZ = settings(max_examples=int(os.environ.get("BASIRA_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def request_types() -> list[type[Message]]:
    """The input message of every RPC of every contract service."""
    pool = descriptor_pool.Default()
    found: dict[str, type[Message]] = {}
    for module in (alert_pb2, analytics_pb2, audit_pb2, camera_pb2, search_pb2, watchlist_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found[method.input_type.full_name] = GetMessageClass(
                    pool.FindMessageTypeByName(method.input_type.full_name))
    return [found[name] for name in sorted(found)]


REQUESTS = request_types()


def test_every_contract_has_requests_to_fuzz() -> None:
    assert len(REQUESTS) >= 20


def strings_of(descriptor: Descriptor, depth: int = 0) -> list[tuple[str, FieldDescriptor]]:
    """Every string field reachable from `descriptor` (not through repeated or recursive messages)."""
    out: list[tuple[str, FieldDescriptor]] = []
    for field in descriptor.fields:
        if field.is_repeated:
            continue
        if field.type == FieldDescriptor.TYPE_STRING:
            out.append((field.name, field))
        elif field.type == FieldDescriptor.TYPE_MESSAGE and depth < 3 and \
                not field.message_type.full_name.startswith("google."):
            out.extend((f"{field.name}.{path}", f) for path, f in strings_of(field.message_type, depth + 1))
    return out


def assign(message: Message, path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        message = getattr(message, name)
    setattr(message, leaf, value)


@FUZZ
@given(st.sampled_from(REQUESTS), st.binary(max_size=512))
def test_arbitrary_bytes_parse_or_are_refused_as_invalid_input(message_type: type[Message],
                                                                data: bytes) -> None:
    try:
        decode_request(message_type.FromString, data)
    except InvalidInput as exc:
        assert exc.field  # names the field, or `request` when the bytes are no such message


@FUZZ
@given(st.sampled_from(REQUESTS), st.data())
def test_string_fields_pass_exactly_when_within_bounds(message_type: type[Message],
                                                       data: st.DataObject) -> None:
    fields = strings_of(message_type.DESCRIPTOR)
    if not fields:
        return
    path, field = data.draw(st.sampled_from(fields))
    value = data.draw(st.one_of(st.text(max_size=40), st.just("ok\x00ok"),
                                st.text(min_size=MAX_ID_CHARS - 2, max_size=MAX_ID_CHARS + 2)))
    message = message_type()
    assign(message, path, value)
    round_tripped = message.SerializeToString()
    limit = MAX_TEXT_CHARS if field.name in TEXT_FIELDS else MAX_ID_CHARS
    should_pass = len(value) <= limit and "\x00" not in value
    try:
        decode_request(message_type.FromString, round_tripped)
    except InvalidInput as exc:
        assert not should_pass and exc.field == path, (path, exc.message)
        assert value[:8] not in exc.message or len(value) < 8 or value[:8].isspace()
    else:
        assert should_pass, path


@FUZZ
@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_page_sizes_pass_only_from_zero_to_the_maximum(size: int) -> None:
    request = search_pb2.SearchPlatesRequest(page=common_pb2.PageRequest(page_size=size))
    if 0 <= size <= MAX_PAGE_SIZE:
        check_request(request)
    else:
        with pytest.raises(InvalidInput) as refused:
            check_request(request)
        assert refused.value.field == "page.page_size"


KEY = Ed25519PrivateKey.generate()
SIGNED: dict[str, Any] = json.loads(sign_record(
    AccessRecord(action="search.plate", user="u", agency="police", roles=["r"], allowed=True,
                 service="search").to_dict(), "search", KEY))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


@FUZZ
@given(st.sampled_from(sorted(SIGNED)), json_values)
def test_any_change_to_a_signed_record_is_caught_never_crashes(key: str, value: Any) -> None:
    changed = {**SIGNED, key: value}
    problem = record_signature_problem(changed, {"search": KEY.public_key()})
    assert (problem is None) == (changed == SIGNED)


@FUZZ
@given(st.text(max_size=40), st.binary(max_size=300))
def test_the_publisher_check_never_crashes(subject: str, data: bytes) -> None:
    result = publisher_mismatch("audit.record." + subject, data, {"search": KEY.public_key()})
    assert result is None or isinstance(result, str)


@FUZZ
@given(st.lists(st.binary(max_size=120), max_size=6))
def test_the_verifier_reports_any_export_garbage_as_problems(lines: list[bytes]) -> None:
    header = b'{"type":"header","format":"basira-audit-export","version":1}\n'
    report = verify_export(io.BytesIO(header + b"\n".join(lines)), KEY.public_key(),
                           record_keys={"search": KEY.public_key()})
    assert not report.ok or not any(line.strip() for line in lines)


def _tiny_jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, encoded = cv2.imencode(".jpg", np.full((16, 24, 3), 128, dtype=np.uint8))
    assert ok
    return bytes(encoded)


TINY_JPEG = _tiny_jpeg()


@FUZZ
@given(st.one_of(st.binary(max_size=256),
                 st.tuples(st.integers(0, len(TINY_JPEG) - 1), st.binary(min_size=1, max_size=8)).map(
                     lambda cut: TINY_JPEG[:cut[0]] + cut[1] + TINY_JPEG[cut[0] + len(cut[1]):])))
def test_image_bytes_decode_or_are_refused_with_a_typed_error(data: bytes) -> None:
    """Frames and query images: arbitrary or corrupted JPEG bytes give a picture or InvalidInput /
    TooLarge (a clear status), never another exception; a header is checked before any decode."""
    from basira.common.errors import TooLarge
    from basira.ingest.frames import decode_image

    try:
        image = decode_image(data)
    except (InvalidInput, TooLarge):
        return
    assert image.ndim == 3 and image.shape[2] == 3


def _segment(value: Any) -> str:
    import base64

    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@FUZZ
@given(st.one_of(st.text(max_size=200),
                 st.tuples(st.one_of(json_values, st.binary(max_size=40)), st.text(max_size=20),
                           st.text(max_size=20)).map(lambda t: f"{_segment(t[0])}.{t[1]}.{t[2]}")))
def test_tokens_and_jwt_headers_parse_or_are_unauthenticated(token: str) -> None:
    """Whatever arrives as a bearer token, before any signature check: a header or Unauthenticated."""
    from basira.common.auth import parse_header
    from basira.common.errors import Unauthenticated

    try:
        header = parse_header(token)
    except Unauthenticated:
        return
    assert header["alg"] in ("RS256", "ES256") and header["kid"]


@FUZZ
@given(st.dictionaries(st.sampled_from(["iss", "aud", "typ", "exp", "nbf", "iat"]),
                       st.one_of(json_values, st.floats(allow_nan=True), st.integers(-(10**20), 10**20)),
                       max_size=6))
def test_claims_pass_or_are_unauthenticated(claims: dict[str, Any]) -> None:
    """Signed claims with odd times or types: accepted or Unauthenticated, never another exception
    (half the examples have the right issuer and audience, so the time checks are reached)."""
    from basira.common.auth import check_claims
    from basira.common.errors import Unauthenticated

    if claims.pop("typ", None) is None:
        claims = {**claims, "iss": "https://issuer", "aud": "basira"}
    try:
        check_claims(claims, issuer="https://issuer", audience="basira", now=1.8e9, leeway_s=30)
    except Unauthenticated:
        return


@pytest.mark.parametrize("exp", [float("nan"), float("inf")])
def test_a_token_whose_expiry_is_not_a_finite_number_is_refused(exp: float) -> None:
    """`now > NaN` is false, so a NaN expiry used to pass as never expiring (found by fuzzing)."""
    from basira.common.auth import check_claims
    from basira.common.errors import Unauthenticated

    with pytest.raises(Unauthenticated, match="no expiry"):
        check_claims({"iss": "https://issuer", "aud": "basira", "exp": exp}, issuer="https://issuer",
                     audience="basira", now=1.8e9, leeway_s=30)


@FUZZ
@given(st.sampled_from(REQUESTS), st.binary(max_size=512))
def test_policy_inputs_from_any_bounded_request_build_and_encode(message_type: type[Message],
                                                                 data: bytes) -> None:
    """What passes the bounds becomes a policy input and a record without an exception: resource,
    context (timestamps included) and the whole input encode as canonical JSON."""
    from basira.common.access_record import canonical_json
    from basira.common.policy_input import context_from_request, policy_input, resource_from_request

    try:
        request = decode_request(message_type.FromString, data)
    except InvalidInput:
        return
    resource = resource_from_request(request, "biometric")
    context = context_from_request(request, source_ip="127.0.0.1")
    canonical_json(policy_input({"user": "u", "agency": "police", "roles": []}, "search.plate", resource,
                                context))


PLATE_CHARACTERS = st.characters(codec="utf-8", categories=("L", "N", "P", "Z", "S", "C", "M"))


@FUZZ
@given(st.text(PLATE_CHARACTERS, max_size=40), st.text(PLATE_CHARACTERS, max_size=40))
def test_plate_strings_normalise_to_a_canonical_key_or_are_refused_by_name(a: str, b: str) -> None:
    """Plate text from a query, a hotlist entry or a read: a canonical key (stable when normalised
    again) or PlateTextError saying why, never another exception; distances between keys are
    symmetric and never negative; a Moroccan parse succeeds or says why."""
    from basira.common.plate_text import (
        PlateTextError,
        is_canonical,
        normalize_plate,
        parse_moroccan,
        plate_distance,
    )

    keys = []
    for text in (a, b):
        try:
            key = normalize_plate(text)
        except PlateTextError as exc:
            assert str(exc)
            continue
        assert is_canonical(key) and normalize_plate(key) == key
        keys.append(key)
        try:
            parse_moroccan(text)
        except PlateTextError as exc:
            assert str(exc)
    if len(keys) == 2:
        forward = plate_distance(keys[0], keys[1])
        assert forward == plate_distance(keys[1], keys[0]) and forward >= 0
