"""Frame sources behind one async-iterator interface: video files, RTSP / HTTP-MJPEG streams, pushed frames.

Every source yields `Frame(timestamp, image)` and reports its state (connecting, connected, lost,
reconnecting, ended, failed) to a callback so camera health can be published.

Reading is pull-only: a frame is read from the file or stream only when the consumer asks for the
next one, so a slow consumer slows reading and memory never grows (pushed frames wait in a queue of
at most `maxsize` frames, and a full queue makes the sender wait). OpenCV calls block, so each open
capture gets its own thread, and every call on it is bounded in time: FFmpeg's own open/read timeouts,
and above them an asyncio deadline after which a stuck capture is abandoned and reopened. Cancelling
the task that reads a source (or `aclose()`) stops it at once; the capture is released on its thread
as soon as any blocking call there returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import cv2
import numpy as np

from basira.common.errors import (
    BasiraError,
    ConfigError,
    FailedPrecondition,
    InvalidInput,
    NotFound,
    TooLarge,
    Unavailable,
)
from basira.ingest.frames import FrameLimits, check_frame, decode_image, downscale, probe_image
from basira.ingest.sampling import FrameRateSampler

log = logging.getLogger(__name__)

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "http", "https"})
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}
_SECRET_QUERY_KEYS = ("pass", "pwd", "token", "key", "auth", "sig", "secret")

T = TypeVar("T")


class SourceState(StrEnum):
    CONNECTING = "connecting"  # first open in progress
    CONNECTED = "connected"  # frames are flowing (or, for pushed sources, the first frame arrived)
    LOST = "lost"  # a connected stream stopped delivering frames
    RECONNECTING = "reconnecting"  # an open failed or a stream was lost; next attempt after `retry_in`
    ENDED = "ended"  # file finished, sender finished, or the consumer stopped the source
    FAILED = "failed"  # gave up (bad file, frames over limits, `max_attempts` reached)


@dataclass(frozen=True)
class SourceEvent:
    """A state change of one source, for health publishing and logs. `time` is Unix seconds."""

    source: str
    state: SourceState
    detail: str
    time: float
    attempt: int = 0  # consecutive failed attempts so far (0 once connected)
    retry_in: float | None = None  # seconds until the next attempt, for RECONNECTING


StateCallback = Callable[[SourceEvent], None]


class Frame(NamedTuple):
    """One frame: `timestamp` in Unix seconds on the capture clock, `image` BGR uint8 (H × W × 3)."""

    timestamp: float
    image: np.ndarray


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between reconnect attempts, with jitter so cameras behind one dead switch
    do not all retry in the same instant. Every delay is at most `max_s`."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2  # each delay is shortened by a random 0–`jitter` share of itself
    max_attempts: int | None = None  # consecutive failures before giving up; None retries forever

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ConfigError(f"backoff needs 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.multiplier < 1:
            raise ConfigError(f"backoff multiplier must be >= 1, got {self.multiplier}")
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"backoff jitter must be in [0, 1), got {self.jitter}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigError(f"backoff max_attempts must be >= 1 or None, got {self.max_attempts}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
        base = min(self.max_s, self.initial_s * self.multiplier ** max(0, attempt - 1))
        return base * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True)
class StreamOptions:
    """Timeouts (seconds) and reconnect policy for network streams."""

    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    # Extra time past the FFmpeg timeouts before a call that still has not returned is abandoned.
    stall_grace_s: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)

    def __post_init__(self) -> None:
        for name in ("open_timeout_s", "read_timeout_s", "stall_grace_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"stream {name} must be > 0, got {getattr(self, name)}")


def redact_url(url: str) -> str:
    """`url` with any password and secret-looking query values replaced by `***`, safe for logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if any(s in k.lower() for s in _SECRET_QUERY_KEYS) else v) for k, v in pairs],
            safe="*",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class FrameSource(ABC):
    """An async iterator of `Frame`s that reports state changes to `on_state`.

    Use as `async with source: async for frame in source: ...`. To stop a source another task is
    reading, cancel that task. Counters: `reads` (frames taken from the device, file or queue,
    including ones the sampler skipped) and `delivered` (frames handed to the consumer).
    """

    def __init__(
        self,
        name: str,
        *,
        sampler: FrameRateSampler | None = None,
        max_width: int | None = None,
        limits: FrameLimits | None = None,
        on_state: StateCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_width is not None and max_width <= 0:
            raise ConfigError(f"max_width must be > 0, got {max_width}")
        self.name = name
        self.sampler = sampler
        self.max_width = max_width
        self.limits = limits or FrameLimits()
        self.state: SourceState | None = None
        self.reads = 0
        self.delivered = 0
        self._on_state = on_state
        self._clock = clock
        self._gen: AsyncGenerator[Frame, None] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Frame:
        if self._gen is None:
            self._gen = self._generate()
        frame = await self._gen.__anext__()
        self.delivered += 1
        return frame

    async def aclose(self) -> None:
        """Stop the source and release its capture; idempotent."""
        if self._gen is None:
            self._gen = self._generate()  # so a later __anext__ ends at once
        await self._gen.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @abstractmethod
    def _generate(self) -> AsyncGenerator[Frame, None]:
        """The frames, as an async generator whose `finally` releases everything."""

    def _emit(
        self, state: SourceState, detail: str, attempt: int = 0, retry_in: float | None = None
    ) -> None:
        self.state = state
        event = SourceEvent(self.name, state, detail, self._clock(), attempt, retry_in)
        log.info("source %s %s: %s", self.name, state.value, detail)
        if self._on_state is None:
            return
        try:
            self._on_state(event)
        except Exception:  # a broken health publisher must not stop the frames
            log.exception("state callback of source %s failed", self.name)

    def _finish(self, detail: str) -> None:
        if self.state not in (SourceState.ENDED, SourceState.FAILED):
            self._emit(SourceState.ENDED, detail)

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        image = check_frame(image, self.limits)
        return downscale(image, self.max_width) if self.max_width is not None else image


class _CaptureThread:
    """One `cv2.VideoCapture` and the single thread allowed to touch it (FFmpeg captures are not
    thread-safe, and release must not race a read in progress)."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"capture-{name}")
        self.cap: Any = None

    async def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run `fn(*args)` on the capture thread; `TimeoutError` after `timeout` s (the call goes on)."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        future.add_done_callback(_consume_result)
        if timeout is None:
            return await future
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    def close(self) -> None:
        """Release the capture after any call in flight returns; never blocks the caller."""
        try:
            self._executor.submit(self._release)
        except RuntimeError:  # already shut down
            return
        self._executor.shutdown(wait=False)

    def _release(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


def _within(width: int, height: int, limits: FrameLimits) -> bool:
    return width <= limits.max_side and height <= limits.max_side and width * height <= limits.max_pixels


def _consume_result(future: asyncio.Future[Any]) -> None:
    """Mark an abandoned call's error as seen, so asyncio does not log 'never retrieved'."""
    if not future.cancelled():
        future.exception()


class FileSource(FrameSource):
    """Frames from a video file (MP4, GIF, anything FFmpeg reads), optionally looping and paced.

    Timestamps are the time the source opened plus the media position, continuing across loops, so
    sampling by timestamp works the same whether or not the file is paced. With `realtime=True`
    frames are delivered no faster than `speed` × their media rate, like a live camera.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        loop: bool = False,
        realtime: bool = False,
        speed: float = 1.0,
        sampler: FrameRateSampler | None = None,
        max_width: int | None = None,
        limits: FrameLimits | None = None,
        on_state: StateCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            name or Path(path).name,
            sampler=sampler,
            max_width=max_width,
            limits=limits,
            on_state=on_state,
            clock=clock,
        )
        if speed <= 0:
            raise ConfigError(f"file source speed must be > 0, got {speed}")
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self.speed = speed
        self.passes = 0  # completed passes through the file
        self._last_media: float | None = None  # media position (s) of the last grabbed frame

    async def _generate(self) -> AsyncGenerator[Frame, None]:
        capture = _CaptureThread(self.name)
        try:
            self._emit(SourceState.CONNECTING, f"opening {self.path}")
            try:
                fps = await capture.call(self._open, capture)
            except BasiraError as exc:
                self._emit(SourceState.FAILED, exc.message)
                raise
            self._emit(SourceState.CONNECTED, f"reading {self.path}")
            origin = self._clock()
            started = time.monotonic()
            offset = 0.0  # media seconds of the passes already done
            period = 1.0 / fps if fps > 0 else 0.04
            while True:
                media_s = await capture.call(self._grab, capture)
                if media_s is None:
                    self.passes += 1
                    if not self.loop:
                        self._emit(SourceState.ENDED, f"end of {self.path} after {self.reads} frames")
                        return
                    if self._last_media is None:  # a whole pass without a frame: looping would spin
                        self._emit(SourceState.FAILED, f"{self.path} has no readable frames")
                        raise InvalidInput(f"video file {self.path} has no readable frames")
                    offset += self._last_media + period
                    self._last_media = None
                    await capture.call(self._reopen, capture)
                    continue
                timestamp = origin + offset + media_s
                if self.sampler is not None and not self.sampler.accept(timestamp):
                    continue
                image = await capture.call(self._retrieve, capture)
                if image is None:
                    continue
                if self.realtime:
                    due = started + (offset + media_s) / self.speed
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                yield Frame(timestamp, image)
        finally:
            capture.close()
            self._finish("stopped by the consumer")

    def _open(self, capture: _CaptureThread) -> float:
        """Open the file on the capture thread and return its nominal frame rate (0 if unknown)."""
        if not self.path.is_file():
            raise NotFound(f"video file {self.path} does not exist")
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise InvalidInput(f"{self.path} is not a readable video file (FFmpeg could not open it)")
        capture.cap = cap
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not _within(width, height, self.limits):
            raise TooLarge(f"video {self.path} is {width}×{height}, over the ingest frame limits")
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0)

    def _reopen(self, capture: _CaptureThread) -> None:
        # Reopening is more reliable than seeking to 0 (GIF and some MP4s do not seek back cleanly).
        if capture.cap is not None:
            capture.cap.release()
        capture.cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)

    def _grab(self, capture: _CaptureThread) -> float | None:
        cap = capture.cap
        if cap is None or not cap.grab():
            return None
        self.reads += 1
        media_s = max(0.0, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0)
        if self._last_media is not None and media_s <= self._last_media:
            # Some containers report no or repeated positions; keep timestamps strictly increasing.
            fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
            media_s = self._last_media + 1.0 / fps
        self._last_media = media_s
        return media_s

    def _retrieve(self, capture: _CaptureThread) -> np.ndarray | None:
        ok, image = capture.cap.retrieve()
        if not ok or image is None:
            return None
        return self._prepare(image)


class StreamSource(FrameSource):
    """Frames from a network camera: RTSP, RTMP, or HTTP(S) MJPEG, read with OpenCV's FFmpeg backend.

    Lost or unreachable streams are retried forever (or `backoff.max_attempts` times) with
    exponential backoff and jitter; each failure is reported as RECONNECTING with a reason a person
    can act on. Timestamps are the wall clock when each frame was grabbed.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        options: StreamOptions | None = None,
        sampler: FrameRateSampler | None = None,
        max_width: int | None = None,
        limits: FrameLimits | None = None,
        on_state: StateCallback | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in STREAM_SCHEMES:
            raise InvalidInput(
                f"stream URL must start with one of {sorted(STREAM_SCHEMES)}, got {redact_url(url)!r}"
            )
        super().__init__(
            name or redact_url(url),
            sampler=sampler,
            max_width=max_width,
            limits=limits,
            on_state=on_state,
            clock=clock,
        )
        self.url = url
        self.safe_url = redact_url(url)
        self.options = options or StreamOptions()
        self._rng = rng or random.Random()
        self.connects = 0  # successful opens

    async def _generate(self) -> AsyncGenerator[Frame, None]:
        opts = self.options
        failures = 0
        self._emit(SourceState.CONNECTING, f"opening {self.safe_url}")
        try:
            while True:
                capture = _CaptureThread(self.name)
                try:
                    reason = await capture.call(
                        self._open, capture, timeout=opts.open_timeout_s + opts.stall_grace_s
                    )
                except TimeoutError:
                    reason = f"opening {self.safe_url} did not return within {opts.open_timeout_s:g} s"
                if reason is not None:
                    capture.close()
                    failures += 1
                    await self._retry_later(failures, reason)
                    continue
                failures = 0
                self.connects += 1
                if self.sampler is not None:
                    self.sampler.reset()
                self._emit(SourceState.CONNECTED, f"streaming from {self.safe_url}")
                deadline = opts.read_timeout_s + opts.stall_grace_s
                try:
                    while True:
                        try:
                            grabbed = await capture.call(self._grab, capture, timeout=deadline)
                        except TimeoutError:
                            reason = f"a read did not return within {deadline:g} s (stalled)"
                            break
                        if not grabbed:
                            reason = f"no frame within {opts.read_timeout_s:g} s, or the stream closed"
                            break
                        timestamp = self._clock()
                        if self.sampler is not None and not self.sampler.accept(timestamp):
                            continue
                        try:
                            image = await capture.call(self._retrieve, capture, timeout=deadline)
                        except TimeoutError:
                            reason = f"decoding a frame did not return within {deadline:g} s (stalled)"
                            break
                        if image is not None:  # an undecodable frame is skipped; a dead stream fails grab
                            yield Frame(timestamp, image)
                finally:
                    capture.close()
                self._emit(SourceState.LOST, f"{self.safe_url}: {reason}")
                failures = 1
                await self._retry_later(failures, reason)
        finally:
            self._finish("stopped by the consumer")

    async def _retry_later(self, failures: int, reason: str) -> None:
        backoff = self.options.backoff
        if backoff.max_attempts is not None and failures >= backoff.max_attempts:
            detail = f"gave up on {self.safe_url} after {failures} failed attempts: {reason}"
            self._emit(SourceState.FAILED, detail, attempt=failures)
            raise Unavailable(detail)
        delay = backoff.delay(failures, self._rng)
        self._emit(SourceState.RECONNECTING, reason, attempt=failures, retry_in=delay)
        await asyncio.sleep(delay)

    def _open(self, capture: _CaptureThread) -> str | None:
        """Open the stream on the capture thread; None on success, else why it failed."""
        opts = self.options
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(opts.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(opts.read_timeout_s * 1000),
        ]
        started = time.monotonic()
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            return self._diagnose(time.monotonic() - started)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not _within(width, height, self.limits):
            cap.release()
            return f"{self.safe_url} sends {width}×{height} frames, over the ingest frame limits"
        capture.cap = cap
        return None

    def _diagnose(self, elapsed: float) -> str:
        """Turn a silent open failure into a reason: refused, unknown host, no answer, or no video."""
        timeout = self.options.open_timeout_s
        if elapsed >= 0.9 * timeout:
            return f"no answer from {self.safe_url} within {timeout:g} s"
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            return f"{self.safe_url} has an invalid port"
        where = f"{host}:{port}"
        try:
            with socket.create_connection((host, port), timeout=min(2.0, timeout)):
                pass
        except ConnectionRefusedError:
            return f"connection to {where} refused: nothing is listening there (check address and port)"
        except socket.gaierror:
            return f"host name {host!r} could not be resolved (check the camera address)"
        except TimeoutError:
            return f"no answer from {where} (host down or a firewall drops the traffic)"
        except OSError as exc:
            return f"cannot reach {where}: {exc.strerror or exc}"
        return (
            f"{where} accepts connections but no video could be opened from {self.safe_url} "
            "(check the path, the credentials and the codec)"
        )

    def _grab(self, capture: _CaptureThread) -> bool:
        cap = capture.cap
        if cap is None or not cap.grab():
            return False
        self.reads += 1
        return True

    def _retrieve(self, capture: _CaptureThread) -> np.ndarray | None:
        ok, image = capture.cap.retrieve()
        if not ok or image is None:
            return None
        try:
            return self._prepare(image)
        except (InvalidInput, TooLarge) as exc:
            log.warning("source %s: dropped a frame: %s", self.name, exc.message)
            return None


class PushedSource(FrameSource):
    """Frames pushed by a client (gRPC client stream from a body-worn, vehicle or drone camera).

    `push()` validates and decodes each encoded frame (raising `InvalidInput` / `TooLarge` to the
    sender), then waits while `maxsize` frames are already queued, which slows the sender down to
    the consumer's pace. With `drop_oldest=True` a full queue instead discards its oldest frame
    (lowest latency for live viewing, at the cost of gaps). Frames the sampler does not want are
    refused before decoding.
    """

    def __init__(
        self,
        name: str,
        *,
        maxsize: int = 2,
        drop_oldest: bool = False,
        sampler: FrameRateSampler | None = None,
        max_width: int | None = None,
        limits: FrameLimits | None = None,
        on_state: StateCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            name, sampler=sampler, max_width=max_width, limits=limits, on_state=on_state, clock=clock
        )
        if maxsize < 1:
            raise ConfigError(f"pushed source maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.drop_oldest = drop_oldest
        self.dropped = 0  # frames discarded by drop_oldest
        self.skipped = 0  # frames refused by the sampler
        self._items: deque[Frame] = deque()
        self._cond = asyncio.Condition()
        self._ended = False
        self._end_detail = "sender finished"

    async def push(self, data: bytes, timestamp: float | None = None) -> bool:
        """Queue one JPEG/PNG frame captured at `timestamp` (Unix s; default now).

        Returns False if the sampler skipped it. Raises `InvalidInput`, `TooLarge`, or
        `FailedPrecondition` once the source has ended.
        """
        self._check_open()
        probe_image(data)  # cheap header check first: bad frames are refused even when not sampled
        ts = self._clock() if timestamp is None else timestamp
        if self.sampler is not None and not self.sampler.accept(ts):
            self.skipped += 1
            return False
        image = await asyncio.to_thread(decode_image, data, self.limits, self.max_width)
        await self._put(Frame(ts, image))
        return True

    async def push_image(self, image: np.ndarray, timestamp: float | None = None) -> bool:
        """Queue an already-decoded frame (BGR/grey uint8); same rules as `push`."""
        self._check_open()
        ts = self._clock() if timestamp is None else timestamp
        if self.sampler is not None and not self.sampler.accept(ts):
            self.skipped += 1
            return False
        await self._put(Frame(ts, self._prepare(image)))
        return True

    async def end(self, detail: str = "sender finished") -> None:
        """No more frames will come; the consumer gets the queued ones, then the iteration ends."""
        async with self._cond:
            if not self._ended:
                self._ended = True
                self._end_detail = detail
            self._cond.notify_all()

    def _check_open(self) -> None:
        if self._ended:
            raise FailedPrecondition(f"source {self.name} has ended; open a new stream to push frames")

    async def _put(self, frame: Frame) -> None:
        async with self._cond:
            if self.drop_oldest:
                while len(self._items) >= self.maxsize:
                    self._items.popleft()
                    self.dropped += 1
            else:
                await self._cond.wait_for(lambda: len(self._items) < self.maxsize or self._ended)
            self._check_open()
            self._items.append(frame)
            self.reads += 1
            if self.state is not SourceState.CONNECTED:
                self._emit(SourceState.CONNECTED, "receiving pushed frames")
            self._cond.notify_all()

    async def _generate(self) -> AsyncGenerator[Frame, None]:
        try:
            while True:
                async with self._cond:
                    await self._cond.wait_for(lambda: bool(self._items) or self._ended)
                    if not self._items:
                        self._emit(SourceState.ENDED, self._end_detail)
                        return
                    frame = self._items.popleft()
                    self._cond.notify_all()
                yield frame
        finally:
            # Wake senders waiting for room: they get FailedPrecondition instead of waiting forever.
            self._ended = True
            self._items.clear()
            async with self._cond:
                self._cond.notify_all()
            self._finish("stopped by the consumer")


def open_source(
    url: str,
    *,
    name: str,
    loop: bool = False,
    realtime: bool = False,
    options: StreamOptions | None = None,
    sampler: FrameRateSampler | None = None,
    max_width: int | None = None,
    limits: FrameLimits | None = None,
    on_state: StateCallback | None = None,
) -> FrameSource:
    """A source for a camera URL: `rtsp://`, `rtsps://`, `rtmp://`, `http(s)://` streams, or a file
    path / `file:///absolute/path` URL (`loop` and `realtime` apply to files only).
    Raises `InvalidInput` for any other scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    common: dict[str, Any] = {
        "name": name, "sampler": sampler, "max_width": max_width, "limits": limits, "on_state": on_state,
    }
    if scheme in STREAM_SCHEMES:
        return StreamSource(url, options=options, **common)
    if scheme == "file":
        return FileSource(parts.path, loop=loop, realtime=realtime, **common)
    if scheme == "":
        return FileSource(url, loop=loop, realtime=realtime, **common)
    raise InvalidInput(
        f"unsupported camera URL scheme {scheme!r} in {redact_url(url)!r}; "
        "use rtsp://, rtsps://, rtmp://, http(s):// or a file path"
    )
