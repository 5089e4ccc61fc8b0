"""Untrusted image bytes → pixels, through ingest's header-checked decoder, with errors naming the field."""

from __future__ import annotations

import numpy as np

from basira.common.errors import InvalidInput, TooLarge
from basira.ingest.frames import FrameLimits, decode_image


def decode_upload(data: bytes, limits: FrameLimits, field: str = "image") -> np.ndarray:
    """Decode a JPEG/PNG sent by a caller into BGR pixels.

    Raises InvalidInput naming `field` (empty, not an image, truncated, corrupt) or TooLarge (over `limits`).
    """
    try:
        return decode_image(data, limits)
    except TooLarge as exc:
        raise TooLarge(f"{field}: {exc.message}") from exc
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc.message}", field=field) from exc
