"""Running CPU-bound engines off the event loop, and the face embedder the watchlists use.

Plate reading and face embedding take hundreds of milliseconds of CPU; run on the event loop they
would stall every RPC and consumer of the process. `EngineThreads` bounds how many run at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from basira.analytics.face_path import FacePath
from basira.analytics.face_quality import FaceQualityConfig
from basira.analytics.faces import LazyFaceEngine
from basira.analytics.images import decode_upload
from basira.common.errors import BasiraError
from basira.ingest.frames import FrameLimits
from basira.watchlists.facelists import FaceTemplate

T = TypeVar("T")


class EngineThreads:
    """A fixed pool of worker threads for engine calls (onnxruntime and dlib release the GIL)."""

    def __init__(self, threads: int, name: str = "engine") -> None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on a worker thread; exceptions propagate to the awaiting caller."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ThreadedFaceEmbedder:
    """`watchlists.servicer.FaceEmbedder` on the analytics face path: decode, one face passing the gates."""

    def __init__(self, faces: LazyFaceEngine, threads: EngineThreads, limits: FrameLimits,
                 quality: FaceQualityConfig | None = None) -> None:
        self.faces, self.threads, self.limits = faces, threads, limits
        self.quality = quality or FaceQualityConfig()

    def _embed(self, image: bytes, field: str) -> FaceTemplate:
        pixels = decode_upload(image, self.limits, field)
        embedding = FacePath(self.faces.get(), self.quality).enrolment(pixels, field)
        return FaceTemplate(model=embedding.model, embedding=embedding.vector)

    async def embed_image(self, image: bytes, field: str) -> FaceTemplate:
        return await self.threads.run(self._embed, image, field)

    def current_model(self) -> str | None:
        try:
            return self.faces.get().model
        except BasiraError:
            return None
