"""Plate layouts and repair: one table of raw reads per country, then the cost rules that rank fits."""

from __future__ import annotations

import pytest

from basira.analytics.plates.formats import (
    COUNTRIES,
    FORMATS,
    best_fit,
    formats_for,
    readings,
    repair,
)
from basira.common.plate_text import normalize_plate


def sure(text: str, unsure: dict[int, float] | None = None) -> list[dict[str, float]]:
    """Recogniser probabilities for `text`: every character certain unless listed in `unsure`."""
    unsure = unsure or {}
    return [{ch: unsure.get(i, 1.0)} for i, ch in enumerate(text)]


# (raw read, countries enabled, expected country, canonical text, display)
CASES = [
    # Slovakia: district, three digits, two letters; 1/I and 0/O repaired in the letter slots
    ("RK099AN", ["SK"], "SK", "RK099AN", "RK-099AN"),
    ("RK857A1", ["SK"], "SK", "RK857AI", "RK-857AI"),
    ("BA3020Z", ["SK"], "SK", "BA302OZ", "BA-302OZ"),
    ("RKO99AN", ["SK"], "SK", "RK099AN", "RK-099AN"),  # a letter O where digits go becomes 0
    ("SKRK857A1", ["SK"], "SK", "RK857AI", "RK-857AI"),  # the EU band's "SK" read as a prefix
    # Czechia: digit, region letter, letter or digit, four digits; inspection stickers in the middle
    ("1B80338", ["CZ"], "CZ", "1B80338", "1B8 0338"),
    ("4BO4979", ["CZ"], "CZ", "4B04979", "4B0 4979"),  # Czech series never use O
    ("IB80338", ["CZ"], "CZ", "1B80338", "1B8 0338"),
    ("BSE5579", ["CZ"], "CZ", "BSE5579", "BSE 5579"),  # 1960-2001 district series
    # Poland
    ("WA56660", ["PL"], "PL", "WA56660", "WA 56660"),
    # Germany: seals between the area and the letters may be read as a round glyph
    ("BOB8AB123", ["DE"], "DE", "BOBAB123", "BOBAB 123"),
    ("DMW1234", ["DE"], "DE", "DMW1234", "DMW 1234"),
    # Great Britain: 2001 series, with O/0 repaired in the age digits
    ("OY09FEU", ["GB"], "GB", "OY09FEU", "OY09 FEU"),
    ("OYO9FEU", ["GB"], "GB", "OY09FEU", "OY09 FEU"),
    ("GBOY09FEU", ["GB"], "GB", "OY09FEU", "OY09 FEU"),
    # France: SIV never issues I, O or U, so a 0 in a letter slot becomes D
    ("AB123CD", ["FR"], "FR", "AB123CD", "AB-123-CD"),
    ("AB123C0", ["FR"], "FR", "AB123CD", "AB-123-CD"),
    # Italy, Spain, Croatia
    ("EX123YZ", ["IT"], "IT", "EX123YZ", "EX 123YZ"),
    ("1234BCD", ["ES"], "ES", "1234BCD", "1234 BCD"),
    ("ZG1234AB", ["HR"], "HR", "ZG1234AB", "ZG 1234-AB"),
    # United States (common passenger layouts)
    ("7ABC123", ["US"], "US", "7ABC123", "7ABC 123"),
    ("ABC1234", ["US"], "US", "ABC1234", "ABC-1234"),
    # Morocco: serial | Arabic series letter | region, displayed as printed
    ("12345B6", ["MA"], "MA", "12345B6", "12345 | ب | 6"),
    ("12345E6", ["MA"], "MA", "12345W6", "12345 | و | 6"),  # E is a Latin spelling of و
    ("7A40", ["MA"], "MA", "7A40", "7 | أ | 40"),
    ("1234SB26", ["MA"], "MA", "12345B26", "12345 | ب | 26"),  # S in the serial is a 5
    # nothing national fits: the generic layouts keep the read as it is
    ("GWAGEN", ["SK"], "", "GWAGEN", "GWAGEN"),
    ("M5XSX", ["SK"], "", "M5XSX", "M5XSX"),
]


@pytest.mark.parametrize(("raw", "countries", "country", "text", "display"), CASES)
def test_repair_table(raw: str, countries: list[str], country: str, text: str, display: str) -> None:
    fit = best_fit(raw, countries)
    assert fit is not None
    assert (fit.country, fit.text, fit.display) == (country, text, display)
    assert 0.0 <= fit.score <= 1.0


def test_moroccan_text_typed_in_arabic_reaches_the_same_fit() -> None:
    typed = best_fit(normalize_plate("12345 | ب | 6"), ["MA"])
    read = best_fit("12345B6", ["MA"])
    assert typed == read


def test_exact_fit_scores_above_a_repaired_one() -> None:
    exact = best_fit("RK099AN", ["SK"])
    repaired = best_fit("RKO99AN", ["SK"])
    assert exact is not None and repaired is not None
    assert exact.repairs == 0 and repaired.repairs == 1
    assert exact.score > repaired.score


def test_own_band_code_is_evidence_for_the_country() -> None:
    with_band = best_fit("SKRK099AN", ["SK"])
    without = best_fit("RK099AN", ["SK"])
    assert with_band is not None and without is not None
    assert with_band.text == without.text
    assert with_band.score >= without.score


def test_an_unsure_sticker_character_is_dropped_a_sure_one_is_not() -> None:
    # a Czech plate with the inspection sticker read as "8" between the 3rd and 4th characters
    fit = best_fit("4B389376", ["CZ"], sure("4B389376", {3: 0.86}))
    assert fit is not None and (fit.country, fit.text) == ("CZ", "4B39376")
    # an unsure extra character elsewhere is dropped, a sure one costs more than it is worth
    unsure = best_fit("PPP587AO", ["SK"], sure("PPP587AO", {0: 0.5}))
    certain = best_fit("PPP587AO", ["SK"], sure("PPP587AO"))
    assert unsure is not None and certain is not None
    assert unsure.text == "PP587AO"
    assert unsure.score > certain.score


def test_look_alike_choice_does_not_depend_on_layout_order() -> None:
    # SK repairs 0 -> O, FR (no O) would need 0 -> D: the likelier look-alike wins either way
    for countries in (["SK", "FR"], ["FR", "SK"]):
        fit = best_fit("RK101A0", countries)
        assert fit is not None and (fit.country, fit.text) == ("SK", "RK101AO")
    # 1 -> I (SK) is likelier than A -> 4 (PL's all-digit serial)
    for countries in (["SK", "PL"], ["PL", "SK"]):
        fit = best_fit("LM298A1", countries)
        assert fit is not None and (fit.country, fit.text) == ("SK", "LM298AI")


def test_a_text_two_countries_read_equally_has_no_country() -> None:
    first_sk = best_fit("RK099AN", ["SK", "PL"])
    first_pl = best_fit("RK099AN", ["PL", "SK"])
    assert first_sk is not None and first_pl is not None
    assert first_sk.text == first_pl.text == "RK099AN"
    assert first_sk.country == first_pl.country == ""
    assert (first_sk.display, first_pl.display) == ("RK-099AN", "RK 099AN")  # the preferred layout's
    only_sk = best_fit("RK099AN", ["SK"])
    assert only_sk is not None and only_sk.country == "SK"


def test_repair_lists_every_fitting_layout_best_first() -> None:
    fits = repair("RK099AN")
    scores = [f.score for f in fits]
    assert scores == sorted(scores, reverse=True)
    assert {"SK", "PL", ""} <= {f.country for f in fits}
    assert len({(f.country, f.format_name) for f in fits}) == len(fits)


@pytest.mark.parametrize("raw", ["", "A", "KIA!"])
def test_nothing_fits_text_that_cannot_be_a_plate(raw: str) -> None:
    assert repair(raw, ["SK"]) == []
    assert best_fit(raw, ["SK"]) is None


def test_letters_only_reads_need_four_letters() -> None:
    assert best_fit("KIA", ["SK"]) is None
    fit = best_fit("TAXI", ["SK"])
    assert fit is not None and fit.country == ""


def test_unknown_country_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="XX"):
        formats_for(["SK", "XX"])


def test_probabilities_must_match_the_read() -> None:
    with pytest.raises(ValueError, match="2 probability maps for 3 characters"):
        repair("ABC", ["SK"], [{"A": 1.0}, {"B": 1.0}])


def test_formats_for_keeps_the_given_order_then_the_generic_layouts() -> None:
    chosen = formats_for(["gb", "sk"])
    countries = [f.country for f in chosen]
    assert countries[0] == "GB" and "SK" in countries
    assert countries.index("SK") > max(i for i, c in enumerate(countries) if c == "GB")
    assert countries[-2:] == ["", ""]
    assert formats_for(None) == FORMATS
    assert set(COUNTRIES) == {f.country for f in FORMATS if f.country}


def test_readings_keep_the_raw_read_beside_the_repair() -> None:
    found = readings("RKO99AN", ["SK"])
    assert [f.text for f in found][:2] == ["RK099AN", "RKO99AN"]
    assert found[0].score > found[1].score
    assert len({f.text for f in found}) == len(found)


def test_iraqi_2021_plates_fit_with_their_band_and_a_repaired_digit() -> None:
    plain = best_fit("11A12345", ["IQ"])
    assert plain is not None and (plain.display, plain.country) == ("11 A 12345", "IQ")
    banded = best_fit("IRQ22B58941", ["IQ"])
    assert banded is not None and (banded.text, banded.country) == ("22B58941", "IQ")
    repaired = best_fit("11B1234S", ["IQ"])
    assert repaired is not None and repaired.text == "11B12345"


def test_no_digit_is_forced_into_the_arabic_letter_of_a_moroccan_plate() -> None:
    # A Latin recogniser that missed the Arabic letter reads 12345 | ب | 6 as digits: a 4 read there
    # is a 4, not an أ.
    assert all(f.country != "MA" for f in readings("123456", ["MA"]))
    assert any(f.country == "MA" for f in readings("123A5", ["MA"]))  # a letter actually read still fits


def test_no_digit_is_forced_into_the_series_letter_of_an_iraqi_plate() -> None:
    # 17 | ع | 48213 read with the letter as an 8 is not 17B48213: the engine classifies the letter.
    assert all(f.country != "IQ" for f in readings("17848213", ["IQ"]))
    assert any(f.country == "IQ" for f in readings("17E48213", ["IQ"]))


@pytest.mark.parametrize("raw", ["GWAGEN", "BIMMIAN"])
def test_a_confidently_read_vanity_plate_passes_through_unrepaired_with_every_layout(raw: str) -> None:
    # Letters-only plates of designs repair was not written for (vanity plates, other countries' series)
    # must not be cut and substituted into a national layout (GWAGEN -> W4GEN with all countries).
    fit = best_fit(raw)
    assert fit is not None and fit.text == raw
