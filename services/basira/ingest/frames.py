"""Safe frame decoding: read image headers before decoding, enforce size limits, encode and downscale.

Pushed frames come from devices we do not control, so every byte string is treated as hostile: the
header is parsed in pure Python first (JPEG SOF / PNG IHDR) and the frame is rejected before OpenCV
allocates anything if it is too large, truncated, or not an image at all. A 20,000 × 20,000 JPEG of
a few hundred bytes would otherwise make the decoder allocate 1.2 GB.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from basira.common.errors import ConfigError, InvalidInput, TooLarge

# 8K UHD (7680 × 4320); bigger than any CCTV or body-worn camera sends today.
DEFAULT_MAX_PIXELS = 7680 * 4320
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SIDE = 16384

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers: C0–CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}  # RSTn and TEM carry no length field
# In entropy-coded data, 0xFF is followed by 0x00 (stuffing), RSTn, or more 0xFF fill bytes; any other
# byte after 0xFF is a real marker. The look-ahead finds the 0xFF just before that byte.
_JPEG_NEXT_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"


@dataclass(frozen=True)
class ImageInfo:
    """What an image header says, read without decoding any pixel."""

    format: ImageFormat
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class FrameLimits:
    """Upper bounds for one frame; anything larger is refused with `TooLarge`."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_side: int = DEFAULT_MAX_SIDE

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_side"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"FrameLimits.{name} must be > 0, got {getattr(self, name)}")


def probe_image(data: bytes | bytearray | memoryview) -> ImageInfo:
    """Read the format and size from a JPEG or PNG header and check the file is complete.

    Runs in time linear in len(data) and allocates no pixel buffer. Raises `InvalidInput` for empty,
    non-JPEG/PNG, malformed or truncated data.
    """
    buf = bytes(data) if not isinstance(data, bytes) else data
    if not buf:
        raise InvalidInput("frame is empty (0 bytes); send a JPEG- or PNG-encoded image")
    if buf.startswith(b"\xff\xd8"):
        return _probe_jpeg(buf)
    if buf.startswith(_PNG_SIGNATURE):
        return _probe_png(buf)
    head = buf[:8].hex(" ")
    raise InvalidInput(
        f"frame is not a JPEG or PNG image (starts with bytes {head}); send JPEG- or PNG-encoded frames"
    )


def check_size(info: ImageInfo, limits: FrameLimits) -> None:
    """Raise `TooLarge` if the image described by `info` is over `limits`."""
    if info.width > limits.max_side or info.height > limits.max_side:
        raise TooLarge(
            f"{info.format.value} image is {info.width}×{info.height}, a side is over the limit of "
            f"{limits.max_side} pixels; downscale on the device or raise the ingest frame limits"
        )
    if info.pixels > limits.max_pixels:
        raise TooLarge(
            f"{info.format.value} image is {info.width}×{info.height} = {info.pixels:,} pixels, over the "
            f"limit of {limits.max_pixels:,}; downscale on the device or raise the ingest frame limits"
        )


def decode_image(
    data: bytes | bytearray | memoryview,
    limits: FrameLimits = FrameLimits(),
    max_width: int | None = None,
) -> np.ndarray:
    """Decode a pushed JPEG/PNG frame into a BGR uint8 array (H × W × 3), refusing hostile input first.

    `max_width` (pixels) shrinks the result to at most that width: JPEGs are decoded at 1/2, 1/4 or
    1/8 scale directly by the decoder (much cheaper than decoding full size), then resized.
    Raises `InvalidInput` (empty, not an image, truncated, corrupt) or `TooLarge` (over `limits`).
    """
    if len(data) > limits.max_bytes:
        raise TooLarge(
            f"frame is {len(data):,} bytes, over the limit of {limits.max_bytes:,}; "
            "send a smaller or more compressed frame"
        )
    info = probe_image(data)
    check_size(info, limits)
    flags = cv2.IMREAD_COLOR
    if max_width is not None and info.format is ImageFormat.JPEG:
        flags = _reduced_flag(info.width, max_width)
    encoded = np.frombuffer(data, dtype=np.uint8)
    try:
        image = cv2.imdecode(encoded, flags)
    except cv2.error as exc:
        raise InvalidInput(f"{info.format.value} frame could not be decoded: {exc.err or exc}") from exc
    if image is None or image.size == 0:
        raise InvalidInput(
            f"{info.format.value} frame header reads {info.width}×{info.height} but the image data is "
            "corrupt; re-encode the frame on the device"
        )
    if max_width is not None:
        image = downscale(image, max_width)
    return image


def check_frame(frame: object, limits: FrameLimits = FrameLimits()) -> np.ndarray:
    """Validate an already-decoded frame (from a capture or a caller): BGR uint8, non-empty, in limits.

    Greyscale (H × W) and BGRA frames are converted to BGR. Raises `InvalidInput` or `TooLarge`.
    """
    if not isinstance(frame, np.ndarray):
        raise InvalidInput(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InvalidInput(f"frame must be 8-bit (uint8), got {frame.dtype}")
    if frame.ndim not in (2, 3) or frame.size == 0:
        raise InvalidInput(f"frame must be H×W or H×W×C and non-empty, got shape {frame.shape}")
    height, width = frame.shape[:2]
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise TooLarge(
            f"frame is {width}×{height} = {width * height:,} pixels, over the limits "
            f"({limits.max_pixels:,} pixels, {limits.max_side} per side)"
        )
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    channels = frame.shape[2]
    if channels == 3:
        return frame
    if channels == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if channels == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    raise InvalidInput(f"frame must have 1, 3 or 4 channels, got {channels}")


def encode_jpeg(frame: np.ndarray, quality: int = 85) -> bytes:
    """Encode a BGR (or grey) uint8 frame as baseline JPEG; `quality` is 1–100 (libjpeg scale)."""
    if not 1 <= quality <= 100:
        raise InvalidInput(f"JPEG quality must be 1–100, got {quality}")
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.size == 0:
        raise InvalidInput("frame to encode must be a non-empty uint8 numpy array")
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InvalidInput(f"frame of shape {frame.shape} could not be encoded as JPEG")
    return encoded.tobytes()


def downscale(frame: np.ndarray, max_width: int) -> np.ndarray:
    """Shrink `frame` to at most `max_width` pixels wide, keeping its aspect ratio; never enlarges.

    Returns the same array when it is already narrow enough (no copy).
    """
    if max_width <= 0:
        raise InvalidInput(f"max_width must be > 0, got {max_width}")
    height, width = frame.shape[:2]
    if width <= max_width:
        return frame
    new_height = max(1, round(height * max_width / width))
    return cv2.resize(frame, (max_width, new_height), interpolation=cv2.INTER_AREA)


def _reduced_flag(width: int, max_width: int) -> int:
    """The largest libjpeg scale-down (1/2, 1/4, 1/8) that still leaves at least `max_width` pixels."""
    for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                         (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if width // factor >= max_width:
            return flag
    return cv2.IMREAD_COLOR


def _probe_jpeg(buf: bytes) -> ImageInfo:
    """Walk the JPEG marker segments: size from the first SOF, completeness from reaching EOI."""
    size = len(buf)
    pos = 2
    info: ImageInfo | None = None
    seen_scan = False
    while pos < size:
        if buf[pos] != 0xFF:
            raise InvalidInput(f"JPEG is corrupt: expected a marker at byte {pos}, found 0x{buf[pos]:02X}")
        # Markers may be preceded by any number of 0xFF fill bytes.
        while pos < size and buf[pos] == 0xFF:
            pos += 1
        if pos >= size:
            break
        marker = buf[pos]
        pos += 1
        if marker == 0x00:
            raise InvalidInput(f"JPEG is corrupt: stray 0xFF00 outside scan data at byte {pos - 2}")
        if marker == 0xD9:  # EOI
            if info is None or not seen_scan:
                raise InvalidInput("JPEG has no image data (end marker before any frame or scan)")
            return info
        if marker in _JPEG_STANDALONE:
            continue
        if pos + 2 > size:
            break
        (length,) = struct.unpack_from(">H", buf, pos)
        if length < 2:
            raise InvalidInput(f"JPEG is corrupt: segment 0x{marker:02X} has length {length}")
        if pos + length > size:
            break
        if marker in _JPEG_SOF and info is None:
            if length < 8:
                raise InvalidInput("JPEG is corrupt: frame header too short")
            height, width = struct.unpack_from(">HH", buf, pos + 3)
            if width == 0 or height == 0:
                raise InvalidInput(
                    f"JPEG frame header gives a size of {width}×{height}; images whose height is only "
                    "given later in the file (DNL) are not accepted"
                )
            info = ImageInfo(ImageFormat.JPEG, width, height)
        pos += length
        if marker == 0xDA:  # SOS: entropy-coded data follows until the next real marker
            if info is None:
                raise InvalidInput("JPEG is corrupt: scan data before the frame header")
            seen_scan = True
            match = _JPEG_NEXT_MARKER.search(buf, pos)
            if match is None:
                break
            pos = match.start()
    raise InvalidInput(
        f"JPEG is truncated: no end-of-image marker in {size:,} bytes; "
        "the frame was cut off in transfer, send it whole"
    )


def _probe_png(buf: bytes) -> ImageInfo:
    """Read IHDR, then walk the chunks to IEND so a truncated PNG is refused before decoding."""
    size = len(buf)
    pos = len(_PNG_SIGNATURE)
    if size < pos + 8 + 13 or buf[pos + 4:pos + 8] != b"IHDR":
        raise InvalidInput("PNG is corrupt or truncated: no IHDR header after the signature")
    width, height = struct.unpack_from(">II", buf, pos + 8)
    if width == 0 or height == 0:
        raise InvalidInput(f"PNG header gives a size of {width}×{height}")
    info = ImageInfo(ImageFormat.PNG, width, height)
    seen_data = False
    while pos + 8 <= size:
        (length,) = struct.unpack_from(">I", buf, pos)
        kind = buf[pos + 4:pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > size:
            break
        if kind == b"IDAT":
            seen_data = True
        elif kind == b"IEND":
            if not seen_data:
                raise InvalidInput("PNG has no image data (no IDAT chunk)")
            return info
        pos = end
    raise InvalidInput(
        f"PNG is truncated: no IEND chunk in {size:,} bytes; the frame was cut off in transfer, send it whole"
    )
