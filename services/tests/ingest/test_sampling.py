"""The sampler holds the configured analysis rate by timestamps, on synthetic and real video."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from basira.common.errors import ConfigError
from basira.ingest.sampling import FrameRateSampler
from basira.ingest.sources import FileSource


def _kept(sampler: FrameRateSampler, timestamps: list[float]) -> list[float]:
    return [t for t in timestamps if sampler.accept(t)]


def test_12_5_fps_to_5_fps_keeps_two_of_every_five() -> None:
    timestamps = [i * 0.08 for i in range(125)]  # 10 s at 12.5 fps
    kept = _kept(FrameRateSampler(5.0), timestamps)
    assert len(kept) == 50
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    assert min(gaps) >= 0.16 - 1e-9 and max(gaps) <= 0.24 + 1e-9


@pytest.mark.parametrize(("source_fps", "target_fps"), [(25, 2), (30, 7), (12.5, 1), (29.97, 10)])
def test_long_run_rate_matches_target(source_fps: float, target_fps: float) -> None:
    seconds = 60
    timestamps = [i / source_fps for i in range(int(seconds * source_fps))]
    kept = _kept(FrameRateSampler(target_fps), timestamps)
    assert abs(len(kept) - seconds * target_fps) <= 1


def test_slower_source_than_target_keeps_everything() -> None:
    timestamps = [i * 0.5 for i in range(20)]
    assert len(_kept(FrameRateSampler(5.0), timestamps)) == 20


def test_no_burst_after_a_gap() -> None:
    sampler = FrameRateSampler(2.0)
    before = _kept(sampler, [i * 0.04 for i in range(50)])  # 0–2 s
    after = _kept(sampler, [10 + i * 0.04 for i in range(50)])  # a 8 s gap, then 2 s more
    assert len(before) == 4 and len(after) == 4
    assert after[0] == 10


def test_time_going_backwards_restarts_the_grid() -> None:
    sampler = FrameRateSampler(1.0)
    assert sampler.accept(100.0)
    assert not sampler.accept(100.5)
    assert sampler.accept(3.0)  # clock reset: keep at once instead of waiting ~97 s
    assert not sampler.accept(3.5)
    assert sampler.accept(4.0)


def test_no_rate_keeps_everything_and_counts() -> None:
    sampler = FrameRateSampler(None)
    assert all(sampler.accept(t) for t in [0.0, 0.0, 0.01])
    assert (sampler.seen, sampler.kept) == (3, 3)


def test_negative_rate_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        FrameRateSampler(-1)


async def test_real_clip_sampled_at_2_fps(car_clip: Path) -> None:
    sampler = FrameRateSampler(2.0)
    source = FileSource(car_clip, sampler=sampler)
    async with source:
        stamps = [frame.timestamp async for frame in source]
    duration = 377 / 12.5  # 30.16 s of media
    assert source.reads == 377  # every frame was read (grabbed) …
    assert abs(len(stamps) - duration * 2) <= 1.5  # … but only 2 per second were decoded and delivered
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.5 - 0.08 - 1e-6 and max(gaps) <= 0.5 + 0.08 + 1e-6
