"""Frame sources: files, pushed frames and network streams — reading, looping, pacing, backpressure,
reconnecting with backoff, and stopping promptly when a stream never answers."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from basira.common.errors import ConfigError, FailedPrecondition, InvalidInput, NotFound, Unavailable
from basira.ingest.frames import encode_jpeg
from basira.ingest.sampling import FrameRateSampler
from basira.ingest.sources import (
    Backoff,
    FileSource,
    FrameSource,
    PushedSource,
    SourceEvent,
    SourceState,
    StreamOptions,
    StreamSource,
    open_source,
    redact_url,
)

pytestmark = pytest.mark.timeout(60)

FAST_BACKOFF = Backoff(initial_s=0.05, max_s=0.2, multiplier=2.0, jitter=0.2)


def _states(events: list[SourceEvent]) -> list[str]:
    return [e.state.value for e in events]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def _capture_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"capture-{name}")]


async def _consume(source: FrameSource, into: list) -> None:
    async for frame in source:
        into.append(frame)


# --- files ---------------------------------------------------------------------------------------


async def test_file_source_reads_every_frame_of_the_mp4(car_clip: Path) -> None:
    events: list[SourceEvent] = []
    source = FileSource(car_clip, name="cam-file", on_state=events.append)
    async with source:
        frames = [f async for f in source]
    assert len(frames) == 377 == source.reads == source.delivered
    assert all(f.image.shape == (432, 768, 3) for f in frames[:5])
    stamps = [f.timestamp for f in frames]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert stamps[-1] - stamps[0] == pytest.approx(376 * 0.08, abs=0.01)
    assert _states(events) == ["connecting", "connected", "ended"]
    assert events[0].source == "cam-file" and "377 frames" in events[-1].detail


async def test_file_source_reads_the_gif(people_gif: Path) -> None:
    async with FileSource(people_gif) as source:
        frames = [f async for f in source]
    assert len(frames) == 23
    assert frames[0].image.shape == (270, 480, 3)


async def test_looping_file_continues_time_across_passes(people_gif: Path) -> None:
    events: list[SourceEvent] = []
    source = FileSource(people_gif, loop=True, on_state=events.append)
    frames = []
    async with source:
        async for frame in source:
            frames.append(frame)
            if len(frames) == 60:
                break
    assert source.passes == 2  # 23 + 23 + 14
    stamps = [f.timestamp for f in frames]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert np.array_equal(frames[0].image, frames[23].image)  # the second pass starts over
    assert _states(events) == ["connecting", "connected", "ended"]  # ended only when we stopped


async def test_realtime_pacing(people_gif: Path) -> None:
    started = time.monotonic()
    async with FileSource(people_gif, realtime=True, speed=2.0) as source:
        frames = [f async for f in source]
    elapsed = time.monotonic() - started
    media = frames[-1].timestamp - frames[0].timestamp  # 1.83 s
    assert elapsed >= media / 2.0 - 0.05
    assert elapsed < media / 2.0 + 1.5


async def test_file_source_downscales_to_analysis_width(car_clip: Path) -> None:
    async with FileSource(car_clip, max_width=320) as source:
        frame = await source.__anext__()
    assert frame.image.shape == (180, 320, 3)


async def test_missing_file_fails_with_not_found(tmp_path: Path) -> None:
    events: list[SourceEvent] = []
    source = FileSource(tmp_path / "nope.mp4", on_state=events.append)
    with pytest.raises(NotFound):
        await source.__anext__()
    assert _states(events) == ["connecting", "failed"]


async def test_non_video_file_fails_with_invalid_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(InvalidInput):
        await FileSource(junk).__anext__()


async def test_slow_consumer_slows_the_reader(car_clip: Path) -> None:
    source = FileSource(car_clip)
    async with source:
        for _ in range(5):
            await source.__anext__()
            await asyncio.sleep(0.1)  # a slow analytics tier
            assert source.reads == source.delivered  # nothing is read ahead
    assert source.reads == 5


async def test_aclose_before_reading_ends_iteration(car_clip: Path) -> None:
    source = FileSource(car_clip)
    await source.aclose()
    with pytest.raises(StopAsyncIteration):
        await source.__anext__()
    assert source.reads == 0


# --- pushed frames -------------------------------------------------------------------------------


async def test_pushed_frames_flow_through_and_end(sample_jpeg: bytes) -> None:
    events: list[SourceEvent] = []
    source = PushedSource("bodycam-7", on_state=events.append)
    assert await source.push(sample_jpeg, timestamp=10.0)
    assert await source.push(sample_jpeg, timestamp=10.5)
    await source.end("officer stopped recording")
    frames = [f async for f in source]
    assert [f.timestamp for f in frames] == [10.0, 10.5]
    assert frames[0].image.shape == (432, 768, 3)
    assert _states(events) == ["connected", "ended"]
    assert events[-1].detail == "officer stopped recording"
    with pytest.raises(FailedPrecondition):
        await source.push(sample_jpeg)


async def test_bad_pushed_frames_are_refused_to_the_sender(sample_jpeg: bytes) -> None:
    source = PushedSource("bodycam-7")
    with pytest.raises(InvalidInput):
        await source.push(b"")
    with pytest.raises(InvalidInput, match="truncated"):
        await source.push(sample_jpeg[:1000])
    with pytest.raises(InvalidInput):
        await source.push(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert source.reads == 0


async def test_full_queue_makes_the_sender_wait(sample_jpeg: bytes) -> None:
    source = PushedSource("bodycam-7", maxsize=2)
    await source.push(sample_jpeg, 1.0)
    await source.push(sample_jpeg, 2.0)
    third = asyncio.create_task(source.push(sample_jpeg, 3.0))
    await asyncio.sleep(0.2)
    assert not third.done()  # backpressure: the sender is held, memory does not grow
    assert (await source.__anext__()).timestamp == 1.0
    assert await asyncio.wait_for(third, 2.0)
    assert [(await source.__anext__()).timestamp for _ in range(2)] == [2.0, 3.0]


async def test_drop_oldest_keeps_the_latest(sample_jpeg: bytes) -> None:
    source = PushedSource("drone-2", maxsize=2, drop_oldest=True)
    for t in range(5):
        await asyncio.wait_for(source.push(sample_jpeg, float(t)), 2.0)
    assert source.dropped == 3
    await source.end()
    assert [f.timestamp async for f in source] == [3.0, 4.0]


async def test_consumer_stopping_releases_a_waiting_sender(sample_jpeg: bytes) -> None:
    source = PushedSource("bodycam-7", maxsize=1)
    await source.push(sample_jpeg, 1.0)
    await source.__anext__()
    await source.push(sample_jpeg, 2.0)
    waiting = asyncio.create_task(source.push(sample_jpeg, 3.0))
    await asyncio.sleep(0.05)
    await source.aclose()
    with pytest.raises(FailedPrecondition):
        await asyncio.wait_for(waiting, 2.0)


async def test_pushed_sampler_skips_before_decoding(sample_jpeg: bytes) -> None:
    source = PushedSource("bodycam-7", sampler=FrameRateSampler(1.0), max_width=320)
    results = [await source.push(sample_jpeg, t) for t in (0.0, 0.4, 0.8, 1.0)]
    assert results == [True, False, False, True]
    assert source.skipped == 2
    frame = await source.__anext__()
    assert frame.image.shape == (180, 320, 3)


async def test_push_image_checks_the_array() -> None:
    source = PushedSource("bodycam-7")
    assert await source.push_image(np.zeros((20, 30), np.uint8), 1.0)
    assert (await source.__anext__()).image.shape == (20, 30, 3)
    with pytest.raises(InvalidInput):
        await source.push_image(np.zeros((20, 30, 3), np.float64), 2.0)


# --- network streams -----------------------------------------------------------------------------


@dataclass
class MjpegServer:
    """An HTTP MJPEG camera on loopback that serves real frames, then closes or stalls each connection."""

    jpegs: list[bytes]
    frames_per_connection: int
    after: str  # "close" or "stall"
    period_s: float = 0.02
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n\r\n"
            )
            for i in range(self.frames_per_connection):
                jpeg = self.jpegs[i % len(self.jpegs)]
                writer.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                    + jpeg + b"\r\n"
                )
                await writer.drain()
                await asyncio.sleep(self.period_s)
            if self.after == "stall":
                await asyncio.sleep(3600)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    @asynccontextmanager
    async def running(self) -> AsyncIterator[MjpegServer]:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()


@pytest.fixture(scope="module")
def jpegs(car_frames: list) -> list[bytes]:
    return [encode_jpeg(f, 80) for _, f in car_frames[:10]]


async def test_mjpeg_stream_reconnects_after_a_stall(jpegs: list[bytes]) -> None:
    events: list[SourceEvent] = []
    options = StreamOptions(open_timeout_s=3, read_timeout_s=1, stall_grace_s=2, backoff=FAST_BACKOFF)
    async with MjpegServer(jpegs, frames_per_connection=5, after="stall").running() as server:
        source = StreamSource(server.url, name="cam-mjpeg", options=options, on_state=events.append)
        frames = []
        started = time.monotonic()
        async with source:
            async for frame in source:
                frames.append(frame)
                if len(frames) == 8:
                    break
        elapsed = time.monotonic() - started
    assert frames[0].image.shape == (432, 768, 3)
    assert server.connections == 2 and source.connects == 2
    assert _states(events) == ["connecting", "connected", "lost", "reconnecting", "connected", "ended"]
    lost = events[2]
    assert "no frame within 1 s" in lost.detail
    assert events[3].retry_in is not None and events[3].retry_in <= FAST_BACKOFF.initial_s
    assert elapsed < 6
    stamps = [f.timestamp for f in frames]
    assert all(b >= a for a, b in itertools.pairwise(stamps))


async def test_mjpeg_stream_closed_by_server_is_lost_then_back(jpegs: list[bytes]) -> None:
    events: list[SourceEvent] = []
    options = StreamOptions(open_timeout_s=3, read_timeout_s=2, backoff=FAST_BACKOFF)
    async with MjpegServer(jpegs, frames_per_connection=4, after="close").running() as server:
        source = StreamSource(server.url, options=options, on_state=events.append)
        async with source:
            count = 0
            async for _ in source:
                count += 1
                if count == 10:
                    break
    assert source.connects >= 3
    assert _states(events)[:5] == ["connecting", "connected", "lost", "reconnecting", "connected"]


async def test_slow_consumer_does_not_make_the_stream_reader_run_ahead(jpegs: list[bytes]) -> None:
    options = StreamOptions(open_timeout_s=3, read_timeout_s=2, backoff=FAST_BACKOFF)
    async with MjpegServer(jpegs, frames_per_connection=10_000, after="close", period_s=0.01).running() as s:
        source = StreamSource(s.url, options=options)
        async with source:
            for _ in range(6):
                await source.__anext__()
                await asyncio.sleep(0.15)  # the server sends ~15 frames meanwhile
                assert source.reads == source.delivered
        assert source.reads == 6


async def test_stream_sampler_skips_decoding(jpegs: list[bytes]) -> None:
    options = StreamOptions(open_timeout_s=3, read_timeout_s=2, backoff=FAST_BACKOFF)
    async with MjpegServer(jpegs, frames_per_connection=10_000, after="close", period_s=0.02).running() as s:
        source = StreamSource(s.url, options=options, sampler=FrameRateSampler(5.0), max_width=320)
        async with source:
            stamps = []
            async for frame in source:
                assert frame.image.shape == (180, 320, 3)
                stamps.append(frame.timestamp)
                if len(stamps) == 6:
                    break
    # 5 fps out of a ~50 fps stream. Due times sit on a 0.2 s grid, so one gap can be shorter than
    # 0.2 s when the frame before it arrived late; the mean holds the rate.
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) > 0.1
    assert 0.18 <= sum(gaps) / len(gaps) <= 0.3
    assert source.reads > 3 * source.delivered


class _StallingOnce(StreamSource):
    """A stream whose second grab hangs in OpenCV past every deadline (a wedged FFmpeg call)."""

    grabs = 0

    def _grab(self, capture: Any) -> bool:
        self.grabs += 1
        if self.grabs == 2:
            time.sleep(1.5)
        return super()._grab(capture)


async def test_a_wedged_read_is_abandoned_and_the_stream_reopened(jpegs: list[bytes]) -> None:
    events: list[SourceEvent] = []
    options = StreamOptions(open_timeout_s=3, read_timeout_s=0.2, stall_grace_s=0.3, backoff=FAST_BACKOFF)
    async with MjpegServer(jpegs, frames_per_connection=10_000, after="close").running() as server:
        source = _StallingOnce(server.url, name="cam-wedged", options=options, on_state=events.append)
        started = time.monotonic()
        async with source:
            frames = []
            async for frame in source:
                frames.append(frame)
                if len(frames) == 3:
                    break
        elapsed = time.monotonic() - started
    assert _states(events) == ["connecting", "connected", "lost", "reconnecting", "connected", "ended"]
    assert "stalled" in events[2].detail
    assert elapsed < 1.5  # we did not wait for the wedged call
    assert source.connects == 2
    await _until(lambda: not _capture_threads("cam-wedged"), timeout=3)


async def test_refused_rtsp_reports_backoff_and_stops_on_cancel() -> None:
    events: list[SourceEvent] = []
    url = f"rtsp://admin:s3cret@127.0.0.1:{_closed_port()}/stream1"
    options = StreamOptions(open_timeout_s=2, backoff=FAST_BACKOFF)
    source = StreamSource(url, name="cam-refused", options=options, on_state=events.append)
    frames: list = []
    task = asyncio.create_task(_consume(source, frames))
    await _until(lambda: sum(e.state is SourceState.RECONNECTING for e in events) >= 4, timeout=10)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - cancelled_at < 0.5
    assert frames == []
    retries = [e for e in events if e.state is SourceState.RECONNECTING]
    assert [e.attempt for e in retries[:4]] == [1, 2, 3, 4]
    assert all("refused" in e.detail for e in retries)
    assert all(e.retry_in is not None and e.retry_in <= FAST_BACKOFF.max_s for e in retries)
    first, third = retries[0].retry_in, retries[2].retry_in
    assert first is not None and third is not None and third > first  # backing off
    assert events[0].state is SourceState.CONNECTING and events[-1].state is SourceState.ENDED
    assert all("s3cret" not in e.detail and "s3cret" not in e.source for e in events)
    await _until(lambda: not _capture_threads("cam-refused"), timeout=3)


async def test_http_camera_that_never_answers() -> None:
    """A server that accepts the connection and never sends a byte: each open times out, the
    source reports it and backs off, and cancelling returns at once; the stuck open thread then
    finishes within the open timeout."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    events: list[SourceEvent] = []
    options = StreamOptions(open_timeout_s=1, read_timeout_s=1, stall_grace_s=2, backoff=FAST_BACKOFF)
    source = StreamSource(
        f"http://127.0.0.1:{port}/mjpg/video.mjpg", name="cam-silent", options=options, on_state=events.append
    )
    task = asyncio.create_task(_consume(source, []))
    try:
        await _until(lambda: sum(e.state is SourceState.RECONNECTING for e in events) >= 2, timeout=10)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - cancelled_at < 0.5
    finally:
        server.close()
        for writer in held:
            writer.close()
    retries = [e for e in events if e.state is SourceState.RECONNECTING]
    assert all("no answer" in e.detail and "within 1 s" in e.detail for e in retries)
    assert len(held) >= 2
    assert events[-1].state is SourceState.ENDED
    await _until(lambda: not _capture_threads("cam-silent"), timeout=3)


async def test_gives_up_after_max_attempts() -> None:
    events: list[SourceEvent] = []
    backoff = Backoff(initial_s=0.01, max_s=0.02, max_attempts=3)
    source = StreamSource(
        f"rtsp://127.0.0.1:{_closed_port()}/x", options=StreamOptions(backoff=backoff), on_state=events.append
    )
    with pytest.raises(Unavailable, match="after 3 failed attempts"):
        async with source:
            async for _ in source:
                pass
    assert _states(events) == ["connecting", "reconnecting", "reconnecting", "failed"]


async def test_unresolvable_host_is_explained() -> None:
    events: list[SourceEvent] = []
    backoff = Backoff(initial_s=0.01, max_s=0.02, max_attempts=1)
    source = StreamSource(
        "rtsp://camera.invalid/x", options=StreamOptions(open_timeout_s=3, backoff=backoff),
        on_state=events.append,
    )
    with pytest.raises(Unavailable):
        await source.__anext__()
    assert "could not be resolved" in events[-1].detail or "no answer" in events[-1].detail


# --- pure helpers --------------------------------------------------------------------------------


def test_backoff_grows_is_bounded_and_jittered() -> None:
    backoff = Backoff(initial_s=0.5, max_s=30, multiplier=2, jitter=0.2)
    rng = random.Random(4)
    delays = [backoff.delay(n, rng) for n in range(1, 12)]
    assert all(0.5 * 0.8 <= d <= 0.5 for d in delays[:1])
    assert all(b > a for a, b in itertools.pairwise(delays[:6]))
    assert all(24 <= d <= 30 for d in delays[7:])
    assert len({round(backoff.delay(3, rng), 6) for _ in range(10)}) > 1  # jitter spreads retries


@pytest.mark.parametrize(
    "kwargs", [{"initial_s": 0}, {"initial_s": 5, "max_s": 1}, {"jitter": 1.0}, {"max_attempts": 0}]
)
def test_backoff_rejects_bad_settings(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        Backoff(**kwargs)


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/s1", "rtsp://admin:***@10.0.0.5:554/s1"),
        ("rtsp://viewer@10.0.0.5/s1", "rtsp://viewer@10.0.0.5/s1"),
        ("http://cam/video.cgi?user=a&password=b&res=hd", "http://cam/video.cgi?user=a&password=***&res=hd"),
        ("http://cam/mjpg?token=abc", "http://cam/mjpg?token=***"),
    ],
)
def test_redact_url(url: str, safe: str) -> None:
    assert redact_url(url) == safe


def test_open_source_picks_the_right_kind(car_clip: Path) -> None:
    assert isinstance(open_source("rtsp://10.0.0.5/s1", name="a"), StreamSource)
    assert isinstance(open_source("https://cam.example/mjpg", name="b"), StreamSource)
    assert isinstance(open_source(str(car_clip), name="c", loop=True), FileSource)
    assert isinstance(open_source(f"file://{car_clip}", name="d"), FileSource)
    with pytest.raises(InvalidInput, match="unsupported camera URL scheme"):
        open_source("ftp://cam/x", name="e")
    with pytest.raises(InvalidInput):
        StreamSource("/not/a/url")
