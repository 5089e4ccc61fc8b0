"""Trajectory maths: distances, speeds judged against limits, passages, on plain sightings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from basira.search.domain import KIND_PLATE, SightingRow
from basira.search.servicer import trajectory_response
from basira.search.trajectory import SpeedLimits, haversine_m, legs, passages

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Three cameras on a line of latitude, ~1.1 km and then ~11 km apart (0.01° and 0.1° of longitude at
# 34° N: 0.01° × 111.32 km × cos 34° ≈ 0.923 km).
A, B, C = (34.0, -6.80), (34.0, -6.79), (34.0, -6.69)


def sighting(camera: str, at_s: float, where: tuple[float, float] | None) -> SightingRow:
    lat, lon = where if where else (None, None)
    return SightingRow(id=f"{camera}-{at_s}", kind=KIND_PLATE, camera_id=camera, zone="ring-road",
                       seen=T0 + timedelta(seconds=at_s), plate_key="12345B6", latitude=lat, longitude=lon)


CAR = SpeedLimits(max_kmh=250)


def test_haversine_matches_known_distances() -> None:
    assert haversine_m(*A, *A) == 0
    assert haversine_m(*A, *B) == pytest.approx(922.9, rel=0.01)
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=0.001)  # one degree of meridian


def test_plausible_moves_are_not_flagged_and_an_impossible_one_is() -> None:
    route = [sighting("cam-a", 0, A), sighting("cam-b", 60, B), sighting("cam-c", 90, C)]
    first, second = legs(route, CAR)
    assert not first.implausible and first.speed_kmh == pytest.approx(55.4, rel=0.02)
    assert second.implausible and second.speed_kmh > 1000
    assert "cam-b to cam-c" in second.reason and "250 km/h" in second.reason


def test_near_cameras_unknown_positions_and_clock_jitter() -> None:
    near = (A[0], A[1] + 0.0002)  # ~18 m away: one place
    route = [sighting("cam-a", 0, A), sighting("cam-a2", 0.01, near), sighting("bwc-1", 5, None),
             sighting("cam-b", 5.5, B)]
    same_place, no_position, unknown = legs(route, CAR)
    assert not same_place.implausible and same_place.speed_kmh == 0
    assert (no_position.distance_m, no_position.speed_kmh, no_position.implausible) == (-1, -1, False)
    assert "bwc-1 has no position" in no_position.reason and not unknown.implausible
    # the same second at two cameras 1 km apart: judged as if it took min_seconds, and flagged
    (jitter,) = legs([sighting("cam-a", 0, A), sighting("cam-b", 0, B)], CAR)
    assert jitter.implausible and jitter.speed_kmh == pytest.approx(922.9 * 3.6, rel=0.01)


def test_people_have_a_lower_limit_than_vehicles() -> None:
    walk = [sighting("cam-a", 0, A), sighting("cam-b", 120, B)]  # ~28 km/h: a run
    assert not legs(walk, SpeedLimits(max_kmh=45))[0].implausible
    assert legs([sighting("cam-a", 0, A), sighting("cam-b", 40, B)], SpeedLimits(max_kmh=45))[0].implausible


def test_out_of_order_sightings_are_refused() -> None:
    with pytest.raises(ValueError, match="time order"):
        legs([sighting("cam-b", 60, B), sighting("cam-a", 0, A)], CAR)


def test_passages_split_on_long_gaps() -> None:
    route = [sighting("cam-a", 0, A), sighting("cam-b", 60, B), sighting("cam-c", 4000, C),
             sighting("cam-a", 4100, A)]
    first, second = passages(route, max_gap_s=900)
    assert (first.first_index, first.last_index, first.camera_ids) == (0, 1, ("cam-a", "cam-b"))
    assert (second.first_index, second.last_index, second.camera_ids) == (2, 3, ("cam-c", "cam-a"))
    assert second.start == T0 + timedelta(seconds=4000) and passages([], 900) == []


def test_trajectory_response_carries_sightings_legs_and_passages() -> None:
    route = [sighting("cam-a", 0, A), sighting("cam-b", 60, B), sighting("cam-c", 90, C)]
    response = trajectory_response(route, CAR, 900)
    assert [s.camera_id for s in response.sightings] == ["cam-a", "cam-b", "cam-c"]
    assert [leg.implausible for leg in response.legs] == [False, True]
    assert response.sightings[1].position.longitude == pytest.approx(B[1])
    assert len(response.passages) == 1 and response.max_speed_kmh == 250
