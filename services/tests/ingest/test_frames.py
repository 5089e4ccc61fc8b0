"""Frame decoding refuses hostile input before decoding; encoding and downscaling behave."""

from __future__ import annotations

import resource
import struct
import time
import zlib

import cv2
import numpy as np
import pytest

from basira.common.errors import InvalidInput, TooLarge
from basira.ingest import frames
from basira.ingest.frames import (
    FrameLimits,
    ImageFormat,
    check_frame,
    decode_image,
    downscale,
    encode_jpeg,
    probe_image,
)


def _with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Rewrite the SOF0 header of a real JPEG to claim another size (the pixels stay small)."""
    sof = jpeg.find(b"\xff\xc0")
    assert sof > 0
    data = bytearray(jpeg)
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _ImdecodeSpy:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: object) -> None:
        self.calls += 1
        raise AssertionError("imdecode must not run on a refused frame")


def test_decodes_a_real_jpeg_and_png(sample_jpeg: bytes, car_frames: list) -> None:
    image = decode_image(sample_jpeg)
    assert image.shape == (432, 768, 3) and image.dtype == np.uint8
    png = cv2.imencode(".png", car_frames[0][1])[1].tobytes()
    assert probe_image(png).format is ImageFormat.PNG
    assert np.array_equal(decode_image(png), car_frames[0][1])  # lossless round trip


def test_probe_reads_size_without_decoding(sample_jpeg: bytes) -> None:
    info = probe_image(sample_jpeg)
    assert (info.format, info.width, info.height) == (ImageFormat.JPEG, 768, 432)


def test_progressive_grey_and_trailing_bytes_are_accepted(car_frames: list) -> None:
    frame = car_frames[0][1]
    progressive = cv2.imencode(
        ".jpg", frame, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_RST_INTERVAL, 4]
    )[1].tobytes()
    assert decode_image(progressive).shape == (432, 768, 3)
    grey = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))[1].tobytes()
    assert decode_image(grey).shape == (432, 768, 3)
    assert decode_image(progressive + b"\x00\x00camera-footer").shape == (432, 768, 3)


def test_empty_bytes_are_invalid() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        decode_image(b"")


def test_random_bytes_are_invalid() -> None:
    noise = np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    with pytest.raises(InvalidInput, match="not a JPEG or PNG"):
        decode_image(noise)


def test_other_formats_are_refused_with_a_hint(car_frames: list) -> None:
    bmp = cv2.imencode(".bmp", car_frames[0][1][:10, :10])[1].tobytes()
    with pytest.raises(InvalidInput, match="send JPEG- or PNG-encoded"):
        decode_image(bmp)


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_truncated_jpeg_is_invalid(sample_jpeg: bytes, keep: float) -> None:
    with pytest.raises(InvalidInput, match="truncated"):
        decode_image(sample_jpeg[: int(len(sample_jpeg) * keep)])


def test_jpeg_cut_just_before_its_end_marker_is_invalid(sample_jpeg: bytes) -> None:
    assert sample_jpeg.endswith(b"\xff\xd9")
    with pytest.raises(InvalidInput, match="truncated"):
        decode_image(sample_jpeg[:-2])


def test_jpeg_headers_without_image_data_are_invalid(sample_jpeg: bytes) -> None:
    sos = sample_jpeg.find(b"\xff\xda")
    with pytest.raises(InvalidInput, match="no image data"):
        decode_image(sample_jpeg[:sos] + b"\xff\xd9")


def test_truncated_png_is_invalid(car_frames: list) -> None:
    png = cv2.imencode(".png", car_frames[0][1])[1].tobytes()
    with pytest.raises(InvalidInput, match="truncated"):
        decode_image(png[: len(png) // 2])


def test_huge_jpeg_header_is_refused_before_any_allocation(
    sample_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = _with_jpeg_size(sample_jpeg, 20000, 20000)
    assert probe_image(bomb).pixels == 400_000_000
    spy = _ImdecodeSpy()
    monkeypatch.setattr(frames.cv2, "imdecode", spy)
    before = _max_rss_mb()
    with pytest.raises(TooLarge, match="20000×20000"):
        decode_image(bomb)
    # Side limit off: the pixel limit alone must refuse it, naming the figures.
    with pytest.raises(TooLarge, match="400,000,000 pixels"):
        decode_image(bomb, FrameLimits(max_side=100_000))
    assert spy.calls == 0
    assert _max_rss_mb() - before < 100  # decoding would have needed 1.2 GB


def test_huge_png_header_is_refused() -> None:
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    png = (
        frames._PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b"")
    )
    with pytest.raises(TooLarge, match="30000×30000"):
        decode_image(png)


def test_byte_limit(sample_jpeg: bytes) -> None:
    with pytest.raises(TooLarge, match="bytes"):
        decode_image(sample_jpeg, FrameLimits(max_bytes=len(sample_jpeg) - 1))
    assert decode_image(sample_jpeg, FrameLimits(max_bytes=len(sample_jpeg))).shape[0] == 432


def test_pixel_limit_boundary(sample_jpeg: bytes) -> None:
    with pytest.raises(TooLarge):
        decode_image(sample_jpeg, FrameLimits(max_pixels=768 * 432 - 1))
    assert decode_image(sample_jpeg, FrameLimits(max_pixels=768 * 432)).shape == (432, 768, 3)


@pytest.mark.parametrize("max_width", [700, 384, 200, 90, 50])
def test_decode_to_analysis_width(sample_jpeg: bytes, max_width: int) -> None:
    image = decode_image(sample_jpeg, max_width=max_width)
    assert image.shape[1] == max_width
    assert abs(image.shape[0] - 432 * max_width / 768) <= 1


def test_encode_jpeg_quality_changes_size_and_round_trips(car_frames: list) -> None:
    frame = car_frames[20][1]
    high, low = encode_jpeg(frame, 95), encode_jpeg(frame, 30)
    assert len(high) > len(low) * 1.5
    decoded = decode_image(high)
    assert decoded.shape == frame.shape
    assert float(np.mean(cv2.absdiff(decoded, frame))) < 3.0


@pytest.mark.parametrize("quality", [0, 101, -5])
def test_encode_jpeg_refuses_bad_quality(car_frames: list, quality: int) -> None:
    with pytest.raises(InvalidInput, match="quality"):
        encode_jpeg(car_frames[0][1], quality)


def test_encode_jpeg_refuses_empty_frame() -> None:
    with pytest.raises(InvalidInput):
        encode_jpeg(np.zeros((0, 0, 3), np.uint8))


def test_downscale_keeps_aspect_and_never_enlarges(car_frames: list) -> None:
    frame = car_frames[0][1]
    small = downscale(frame, 320)
    assert small.shape == (180, 320, 3)
    assert downscale(frame, 1000) is frame
    with pytest.raises(InvalidInput):
        downscale(frame, 0)


def test_check_frame_normalises_and_refuses() -> None:
    grey = np.full((10, 20), 7, np.uint8)
    assert check_frame(grey).shape == (10, 20, 3)
    assert check_frame(np.zeros((10, 20, 4), np.uint8)).shape == (10, 20, 3)
    bgr = np.zeros((10, 20, 3), np.uint8)
    assert check_frame(bgr) is bgr
    with pytest.raises(InvalidInput, match="uint8"):
        check_frame(np.zeros((10, 20, 3), np.float32))
    with pytest.raises(InvalidInput, match="numpy"):
        check_frame(b"not an array")
    with pytest.raises(TooLarge):
        check_frame(bgr, FrameLimits(max_pixels=100))


def test_probe_is_cheap_on_a_4k_frame(car_frames: list) -> None:
    big = cv2.resize(car_frames[0][1], (3840, 2160), interpolation=cv2.INTER_CUBIC)
    jpeg = encode_jpeg(big, 95)
    started = time.perf_counter()
    for _ in range(20):
        assert probe_image(jpeg).pixels == 3840 * 2160
    assert (time.perf_counter() - started) / 20 < 0.005  # header walk, not a decode (measured ~0.2 ms)
    assert decode_image(jpeg, max_width=320).shape == (180, 320, 3)
