"""Per-country plate layouts and the repair of raw OCR text into the most plausible plate.

A layout is a sequence of character groups (which characters, how many). Repair fits a raw read to
each enabled layout, replacing a character only by one of its OCR look-alikes (`basira.common.
plate_text.CONFUSABLE_CLASSES`) when the slot demands it (a letter `O` in a digit slot becomes `0`), and
optionally dropping a few characters at either end (the EU band's country code, a sticker, a screw).
Every fit is scored; the caller combines that score with the recogniser's own confidence.

The layouts cover the current series of the countries Basira is deployed in or sees most in the test
set, plus a generic fallback for vanity and unknown plates. They are deliberately strict about
letters a country never issues (e.g. no I/O/U on French plates), because that is what lets repair
choose between `O` and `0`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from basira.common.plate_text import (
    LATIN_TO_MOROCCAN,
    MOROCCAN_LATIN_ALIASES,
    confusable_alternatives,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS

REPAIR_PENALTY = 0.1
"""Score lost per look-alike substitution forced by a layout."""

TRIM_PENALTY = 0.25
"""Score lost per character dropped at either end of the read (unless it is the country's band code)."""

BAND_CODE_BONUS = 0.04
"""Score gained when the read starts with the layout's own EU-band country code (evidence for it)."""

MAX_TRIM_START = 3
MAX_TRIM_END = 2


def _no(excluded: str, base: str = LETTERS) -> str:
    return "".join(ch for ch in base if ch not in excluded)


@dataclass(frozen=True, slots=True)
class Group:
    """A run of `low`..`high` characters, each one of `allowed`."""

    allowed: str
    low: int
    high: int | None = None

    @property
    def max_len(self) -> int:
        return self.low if self.high is None else self.high


def L(n: int, high: int | None = None, allowed: str = LETTERS) -> Group:  # noqa: N802 - reads like the layout
    return Group(allowed, n, high)


def D(n: int, high: int | None = None, allowed: str = DIGITS) -> Group:  # noqa: N802
    return Group(allowed, n, high)


def A(n: int, high: int | None = None, allowed: str = ALNUM) -> Group:  # noqa: N802
    return Group(allowed, n, high)


Display = Callable[[Sequence[str]], str]


def _joined(*separators: str) -> Display:
    """Display by putting separators[i] between group i and group i+1."""

    def display(parts: Sequence[str]) -> str:
        out = parts[0]
        for sep, part in zip(separators, parts[1:], strict=True):
            out += sep + part
        return out

    return display


def _moroccan_display(parts: Sequence[str]) -> str:
    serial, letter, region = parts
    return f"{serial} | {LATIN_TO_MOROCCAN[letter]} | {region}"


@dataclass(frozen=True, slots=True)
class PlateFormat:
    """One layout of one country's plates.

    country: ISO 3166-1 alpha-2 code ("" for the generic fallback); name: which series;
    groups: the layout; display: how the plate is written for people, from the fitted groups;
    prior: how much an exact fit is worth (specific layouts 1.0, the generic fallback less);
    band_codes: what the EU band / oval on that country's plates says, which OCR often reads as a
    prefix; canonical: rewrites of fitted groups into the canonical key (Moroccan E → W);
    min_digits: fewest digits a fit must have.
    """

    country: str
    name: str
    groups: tuple[Group, ...]
    display: Display
    prior: float = 1.0
    band_codes: tuple[str, ...] = ()
    canonical: Callable[[list[str]], list[str]] | None = None
    min_digits: int = 0

    @property
    def max_len(self) -> int:
        return sum(g.max_len for g in self.groups)

    @property
    def min_len(self) -> int:
        return sum(g.low for g in self.groups)


@dataclass(frozen=True, slots=True)
class FormatFit:
    """The outcome of fitting one raw read to one layout.

    text: canonical key (A-Z0-9); display: as written on the plate; score in [0, 1];
    repairs: look-alike substitutions made; trimmed: characters dropped at the ends.
    """

    country: str
    text: str
    display: str
    score: float
    format_name: str
    repairs: int
    trimmed: int


def _moroccan_canonical(parts: list[str]) -> list[str]:
    serial, letter, region = parts
    return [serial, MOROCCAN_LATIN_ALIASES.get(letter, letter), region]


_MA_LETTERS = "".join(sorted(set(LATIN_TO_MOROCCAN) | set(MOROCCAN_LATIN_ALIASES)))
_PL_RESOURCE_LETTERS = _no("BDIOZ")  # Polish plates avoid letters that look like digits
_PL_PATTERNS_2 = ("DDDDD", "DDDDL", "DDDLL", "DLDDD", "DLLDD")
_PL_PATTERNS_3 = ("LDDD", "DDLL", "DLDD", "DDLD", "DLLD", "LLDD", "DDDD")


def _pattern_groups(pattern: str) -> tuple[Group, ...]:
    return tuple(
        D(1) if ch == "D" else L(1, allowed=_PL_RESOURCE_LETTERS) for ch in pattern
    )


def _polish_formats() -> list[PlateFormat]:
    formats = []
    for district, patterns in ((2, _PL_PATTERNS_2), (3, _PL_PATTERNS_3)):
        for pattern in patterns:
            groups = (L(district), *_pattern_groups(pattern))
            seps = (" ",) + ("",) * (len(groups) - 2)
            formats.append(PlateFormat("PL", f"{district}-letter district {pattern}", groups, _joined(*seps),
                                       band_codes=("PL",)))
    return formats


FORMATS: tuple[PlateFormat, ...] = (
    PlateFormat("SK", "1997 district series", (L(2), D(3), L(2)), _joined("-", ""), band_codes=("SK",)),
    PlateFormat("CZ", "2001 series", (D(1), L(1, allowed="ABCEHJKLMPSTUZ"), A(1, allowed=_no("GOQW", ALNUM)),
                                       D(4)), _joined("", "", " "), band_codes=("CZ",)),
    PlateFormat("CZ", "1960 district series", (L(3), D(4)), _joined(" "), prior=0.9),
    *_polish_formats(),
    PlateFormat("DE", "area letters digits", (L(2, 5), D(1, 4)), _joined(" "), band_codes=("D",)),
    PlateFormat("GB", "2001 series", (L(2, allowed=_no("IQZ")), D(2), L(3, allowed=_no("IQ"))), _joined("", " "),
                band_codes=("GB", "UK")),
    PlateFormat("GB", "prefix series", (L(1, allowed=_no("IQUZ")), D(1, 3), L(3, allowed=_no("IQ"))),
                _joined("", " "), prior=0.9),
    PlateFormat("FR", "SIV", (L(2, allowed=_no("IOU")), D(3), L(2, allowed=_no("IOU"))), _joined("-", "-"),
                band_codes=("F",)),
    PlateFormat("IT", "1994 series", (L(2, allowed=_no("IOQU")), D(3), L(2, allowed=_no("IOQU"))),
                _joined(" ", ""), band_codes=("I",)),
    PlateFormat("ES", "2000 series", (D(4), L(3, allowed=_no("AEIOUQ"))), _joined(" "), band_codes=("E",)),
    PlateFormat("HR", "district series", (L(2), D(3, 4), L(1, 2)), _joined(" ", "-"), band_codes=("HR",)),
    PlateFormat("US", "digit-3 letters-3 digits", (D(1), L(3), D(3)), _joined("", " ")),
    PlateFormat("US", "3 letters-4 digits", (L(3), D(4)), _joined("-")),
    PlateFormat("MA", "2000 series", (D(1, 5), L(1, allowed=_MA_LETTERS), D(1, 2)), _moroccan_display,
                band_codes=("MA",), canonical=_moroccan_canonical),
    PlateFormat("", "letters and digits", (A(2, 10),), _joined(), prior=0.7, min_digits=1),
    PlateFormat("", "letters only", (L(4, 8),), _joined(), prior=0.5),
)
"""Every layout repair knows, in default preference order (earlier wins a tie)."""

COUNTRIES: tuple[str, ...] = tuple(dict.fromkeys(f.country for f in FORMATS if f.country))


def formats_for(countries: Iterable[str] | None = None) -> tuple[PlateFormat, ...]:
    """The layouts of `countries` in the order given, then the generic fallback; None means all.

    Raises ValueError naming any country code that has no layout.
    """
    if countries is None:
        return FORMATS
    wanted = [c.upper() for c in countries]
    unknown = sorted(set(wanted) - set(COUNTRIES))
    if unknown:
        raise ValueError(f"no plate layouts for {unknown}; known: {list(COUNTRIES)}")
    chosen = [f for country in wanted for f in FORMATS if f.country == country]
    return (*chosen, *(f for f in FORMATS if not f.country))


def _char_cost(ch: str, allowed: str) -> tuple[int, str] | None:
    """(repairs, character) to put `ch` in a slot allowing `allowed`; None if impossible."""
    if ch in allowed:
        return 0, ch
    for alternative in confusable_alternatives(ch):
        if alternative in allowed:
            return 1, alternative
    return None


def _fit_groups(text: str, groups: Sequence[Group]) -> tuple[int, list[str]] | None:
    """Fewest repairs splitting all of `text` into `groups`, with the repaired groups; None if impossible."""
    n = len(text)
    # best[k][i]: (repairs, parts) for the first k groups covering text[:i]
    best: list[dict[int, tuple[int, list[str]]]] = [{0: (0, [])}]
    for group in groups:
        layer: dict[int, tuple[int, list[str]]] = {}
        for start, (repairs, parts) in best[-1].items():
            run_cost = 0
            run: list[str] = []
            for length in range(1, group.max_len + 1):
                end = start + length
                if end > n:
                    break
                step = _char_cost(text[end - 1], group.allowed)
                if step is None:
                    break
                run_cost += step[0]
                run.append(step[1])
                if length >= group.low:
                    total = repairs + run_cost
                    if end not in layer or total < layer[end][0]:
                        layer[end] = (total, [*parts, "".join(run)])
        if not layer:
            return None
        best.append(layer)
    return best[-1].get(n)


def _fit_one(text: str, fmt: PlateFormat, trimmed: int, band_bonus: float) -> FormatFit | None:
    if not fmt.min_len <= len(text) <= fmt.max_len:
        return None
    fitted = _fit_groups(text, fmt.groups)
    if fitted is None:
        return None
    repairs, parts = fitted
    if sum(ch.isdigit() for part in parts for ch in part) < fmt.min_digits:
        return None
    if fmt.canonical is not None:
        parts = fmt.canonical(parts)
    score = fmt.prior - REPAIR_PENALTY * repairs - TRIM_PENALTY * trimmed + band_bonus
    return FormatFit(
        country=fmt.country,
        text="".join(parts),
        display=fmt.display(parts),
        score=max(0.0, min(1.0, score)),
        format_name=fmt.name,
        repairs=repairs,
        trimmed=trimmed,
    )


def repair(raw: str, countries: Iterable[str] | None = None) -> list[FormatFit]:
    """Every plausible reading of `raw` (canonical A-Z0-9 text), best first, at most one per layout.

    `countries` limits and orders the layouts (see formats_for); among equal scores the earlier layout
    wins. Returns [] when `raw` is empty or no layout, not even the generic one, fits.
    """
    formats = formats_for(countries)
    fits: list[tuple[float, int, FormatFit]] = []
    for order, fmt in enumerate(formats):
        best: FormatFit | None = None
        for start in range(0, min(MAX_TRIM_START, len(raw)) + 1):
            prefix = raw[:start]
            is_band = bool(prefix) and prefix in fmt.band_codes
            for end_trim in range(0, MAX_TRIM_END + 1):
                end = len(raw) - end_trim
                if end - start < fmt.min_len:
                    break
                trimmed = end_trim + (0 if is_band else start)
                fit = _fit_one(raw[start:end], fmt, trimmed, BAND_CODE_BONUS if is_band else 0.0)
                if fit is not None and (best is None or fit.score > best.score):
                    best = fit
        if best is not None:
            fits.append((-best.score, order, best))
    fits.sort(key=lambda item: (item[0], item[1]))
    return [fit for _, _, fit in fits]


def best_fit(raw: str, countries: Iterable[str] | None = None) -> FormatFit | None:
    """The best reading of `raw` (see repair), or None if nothing fits."""
    fits = repair(raw, countries)
    return fits[0] if fits else None
