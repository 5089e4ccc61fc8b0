"""Plate text: canonical keys, Moroccan forms, look-alikes and the look-alike-aware distance."""

from __future__ import annotations

import pytest

from basira.common.errors import InvalidInput
from basira.common.plate_text import (
    CONFUSABLE_CLASSES,
    LATIN_TO_MOROCCAN,
    MAX_PLATE_LENGTH,
    MOROCCAN_LETTERS,
    PlateTextError,
    are_confusable,
    confusable_alternatives,
    confusable_skeleton,
    is_canonical,
    normalize_plate,
    parse_moroccan,
    plate_distance,
    plates_match,
)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("RK099AN", "RK099AN"),
        (" rk-099 an ", "RK099AN"),
        ("B.A. 302-OZ", "BA302OZ"),
        ("OY09 FEU", "OY09FEU"),
        ("1B8\u00a00338", "1B80338"),
        ("ＡＢ１２３", "AB123"),  # full-width forms from some keyboards
        ("12345-B-6", "12345B6"),
        ("12345|ب|6", "12345B6"),
        ("12345 | ب | 6", "12345B6"),
        ("١٢٣٤٥ | ب | ٦", "12345B6"),  # Arabic-Indic digits
        ("۱۲۳۴۵-ب-۶", "12345B6"),  # Eastern Arabic-Indic (Persian) digits
        ("17 ع 48213", "17E48213"),  # an Iraqi series letter (IRAQI_LETTERS)
        ("4567 | هـ | 26", "4567H26"),  # هـ: hā' with tatweel, as printed
        ("\u200f12345\u200f|\u200fأ\u200f|\u200f1", "12345A1"),  # right-to-left marks from RTL text
    ],
)
def test_normalize_gives_the_canonical_key(text: str, key: str) -> None:
    assert normalize_plate(text) == key
    assert is_canonical(key)


def test_arabic_and_latin_moroccan_forms_share_a_key() -> None:
    pairs = [("أ", "A"), ("ب", "B"), ("د", "D"), ("هـ", "H"), ("و", "W"), ("ط", "T"), ("ي", "Y")]
    for arabic, latin in pairs:
        assert normalize_plate(f"12345|{arabic}|6") == normalize_plate(f"12345-{latin}-6") == f"12345{latin}6"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no letter or digit"),
        (" - . | ", "no letter or digit"),
        ("AB@123", "'@'"),
        ("京A12345", "'京'"),
        ("12345|ش|6", "'ش'"),  # an Arabic letter no plate series uses
        ("ÄB123", "'Ä'"),
        ("A" * (MAX_PLATE_LENGTH + 1), "more than"),
    ],
)
def test_malformed_text_raises_a_value_error_naming_the_problem(text: str, reason: str) -> None:
    with pytest.raises(PlateTextError, match=reason) as caught:
        normalize_plate(text)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, InvalidInput)  # maps to INVALID_ARGUMENT at the gRPC edge


@pytest.mark.parametrize("value", [None, 12345, b"RK099AN"])
def test_non_string_input_raises(value: object) -> None:
    with pytest.raises(PlateTextError, match="must be a string"):
        normalize_plate(value)  # type: ignore[arg-type]


def test_parse_moroccan_reads_arabic_and_latin_forms_alike() -> None:
    arabic = parse_moroccan("12345 | ب | 6")
    latin = parse_moroccan("12345-B-6")
    assert arabic == latin
    assert (arabic.serial, arabic.letter, arabic.region) == ("12345", "B", "6")
    assert arabic.key == "12345B6"
    assert arabic.latin == "12345-B-6"
    assert arabic.arabic == "12345 | ب | 6"


def test_parse_moroccan_accepts_e_as_waw() -> None:
    assert parse_moroccan("789-E-40") == parse_moroccan("789|و|40")
    assert parse_moroccan("789-E-40").key == "789W40"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("12345-X-6", "not a Moroccan series letter"),
        ("123456", "not a Moroccan plate"),
        ("123456-B-6", "not a Moroccan plate"),  # six serial digits
        ("12345-B-123", "not a Moroccan plate"),  # three region digits
        ("12345-B-0", "start at 1"),
        ("RK099AN", "not a Moroccan plate"),
    ],
)
def test_parse_moroccan_rejects_other_layouts(text: str, reason: str) -> None:
    with pytest.raises(PlateTextError, match=reason):
        parse_moroccan(text)


def test_every_display_letter_maps_back_to_its_key_letter() -> None:
    for latin, printed in LATIN_TO_MOROCCAN.items():
        assert MOROCCAN_LETTERS[printed.rstrip("\u0640")] == latin


def test_confusable_classes_are_disjoint() -> None:
    seen: set[str] = set()
    for cls in CONFUSABLE_CLASSES:
        assert not seen & set(cls)
        seen |= set(cls)


@pytest.mark.parametrize(("a", "b"), [("O", "0"), ("0", "D"), ("Q", "O"), ("I", "1"), ("L", "1"), ("B", "8"),
                                      ("S", "5"), ("Z", "2"), ("G", "6"), ("A", "4"), ("T", "7")])
def test_look_alikes_are_confusable_both_ways(a: str, b: str) -> None:
    assert are_confusable(a, b)
    assert are_confusable(b, a)


@pytest.mark.parametrize(("a", "b"), [("A", "A"), ("A", "B"), ("0", "8"), ("K", "X"), ("-", "-")])
def test_other_pairs_are_not_confusable(a: str, b: str) -> None:
    assert not are_confusable(a, b)


def test_alternatives_follow_the_repair_preference_order() -> None:
    assert confusable_alternatives("0") == "ODQ"
    assert confusable_alternatives("O") == "0DQ"
    assert confusable_alternatives("1") == "IL"
    assert confusable_alternatives("K") == ""


def test_skeleton_is_shared_by_look_alike_spellings_only() -> None:
    assert confusable_skeleton("RKO99AN") == confusable_skeleton("RK099AN") == confusable_skeleton("RKD99AN")
    assert confusable_skeleton("BA268IM") == confusable_skeleton("8A2681M")
    assert confusable_skeleton("RK099AN") != confusable_skeleton("RK099AM")


def test_distance_counts_look_alikes_cheaper_than_other_edits() -> None:
    assert plate_distance("RK099AN", "RK099AN") == 0.0
    assert plate_distance("RK099AN", "RKO99AN") == pytest.approx(0.3)
    assert plate_distance("RK099AN", "RKO99AN", confusable_cost=0.1) == pytest.approx(0.1)
    assert plate_distance("RK099AN", "RKX99AN") == pytest.approx(1.0)  # X is no look-alike of 0
    assert plate_distance("RK099AN", "RK099A") == pytest.approx(1.0)  # one missing character
    assert plate_distance("RK099AN", "XRK099AN") == pytest.approx(1.0)  # one extra character
    assert plate_distance("BA268IM", "8A2681M") == pytest.approx(0.6)
    assert plate_distance("", "ABC") == pytest.approx(3.0)


def test_distance_without_tolerance_is_levenshtein() -> None:
    assert plate_distance("RK099AN", "RKO99AN", confusable_tolerant=False) == pytest.approx(1.0)
    assert plate_distance("KITTEN", "SITTING", confusable_tolerant=False) == pytest.approx(3.0)


def test_distance_is_symmetric() -> None:
    pairs = [("RK099AN", "RKO9AN"), ("12345B6", "I2345B"), ("AB", "BA")]
    for a, b in pairs:
        assert plate_distance(a, b) == pytest.approx(plate_distance(b, a))


def test_distance_rejects_a_cost_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="confusable_cost"):
        plate_distance("A", "4", confusable_cost=1.5)


def test_plates_match_normalises_then_compares() -> None:
    assert plates_match("rk-099 an", "RK099AN")
    assert plates_match("12345|ب|6", "12345-B-6")
    assert not plates_match("RK-099AN", "RKO99AN")  # different keys, no tolerance asked
    assert plates_match("RK-099AN", "RKO99AN", max_distance=0.3)
    assert not plates_match("RK-099AN", "RKO99AN", max_distance=0.3, confusable_tolerant=False)
    assert plates_match("RK-099AN", "RKO99AN", max_distance=1.0, confusable_tolerant=False)
    assert not plates_match("RK099AN", "RK099", max_distance=1.0)  # two characters apart


def test_plates_match_raises_on_malformed_input() -> None:
    with pytest.raises(PlateTextError):
        plates_match("RK099AN", "R@K")
    with pytest.raises(ValueError, match="max_distance"):
        plates_match("RK099AN", "RK099AN", max_distance=-1)
