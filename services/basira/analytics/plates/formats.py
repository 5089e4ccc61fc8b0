"""Per-country plate layouts and the repair of raw OCR text into the most plausible plate.

A layout is a sequence of character groups (which characters, how many), optionally with a slot where
that country's plates carry a seal, sticker or emblem that OCR tends to read as one more character.
Repair fits a raw read to every enabled layout, at a cost:
- a character the slot allows costs nothing;
- a character replaced by one of its OCR look-alikes (`basira.common.plate_text.CONFUSABLE_CLASSES`)
  because the slot demands it (a letter `O` in a digit slot becomes `0`) costs REPAIR_PENALTY;
- a character read where the layout has a sticker slot costs STICKER_PENALTY;
- a character dropped costs in proportion to how sure the recogniser was of it (squared), less at
  the ends of the read (EU band, screws, frame) than in the middle; a leading EU-band country code of
  the layout's own country is dropped for free (and, if two letters long, counts as evidence).
A fit's score is the layout's prior minus its costs, in [0, 1]; the caller multiplies it with the
recogniser's confidence.

The layouts cover Morocco (Basira's home), Iraq's 2021 national series (governorate code, series
letter, five digits; from public descriptions, not yet checked on labelled photos; the letter, Arabic
on the plate, is classified by the engine, never repaired from a Latin look-alike), the current series
of common European countries and the commonest US layouts, plus generic fallbacks for vanity and
unknown plates. They are strict about
letters a country never issues (no I/O/U on French plates, no G/O/Q/W in the Czech series letter),
because that is what lets repair choose between `O` and `0`. Loose layouts (variable group lengths)
get a lower prior than fixed ones: a fit to a layout that accepts almost anything is weaker evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from basira.common.plate_text import (
    LATIN_TO_MOROCCAN,
    MOROCCAN_LATIN_ALIASES,
    confusable_alternatives,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS

REPAIR_PENALTY = 0.1
"""Cost of one look-alike substitution forced by a layout."""

CharProbabilities = Mapping[str, float]
"""For one read character: the recogniser's probability of each plate character (A-Z, 0-9) there."""

LOOKALIKE_WEIGHT: dict[frozenset[str], float] = {
    **{frozenset(pair): 0.8 for pair in ("0O", "1I")},
    **{frozenset(pair): 1.3 for pair in ("4A", "6G", "7T", "0Q", "OQ", "DQ", "UV")},
}
"""REPAIR_PENALTY multiplier for look-alike pairs that plate fonts make more (<1) or less (>1) alike
than the rest of CONFUSABLE_CLASSES: in DIN 1451, FE-Schrift or Charles Wright, 0/O and 1/I are all but
identical, while 4/A, 6/G and 7/T differ by a whole stroke."""

STICKER_PENALTY = 0.1
"""Cost of reading a character where the layout has a seal / sticker / emblem slot."""

DELETE_PENALTY = 0.5
"""Cost of dropping, inside the plate text, a character read with confidence 1 (scaled by confidence²)."""

END_DELETE_PENALTY = 0.25
"""Cost of dropping a confidence-1 character before or after the plate text (scaled by confidence²)."""

MAX_DELETIONS = 2
"""Most characters a fit may drop (besides a leading EU-band country code)."""

BAND_CODE_BONUS = 0.04
"""Score gained when the read starts with the layout's own two-letter EU-band country code (a
one-letter code such as Germany's D is as likely the plate's own first letter: dropped free, no bonus)."""


def _no(excluded: str, base: str = LETTERS) -> str:
    return "".join(ch for ch in base if ch not in excluded)


@dataclass(frozen=True, slots=True)
class Group:
    """A run of `low`..`high` characters, each one of `allowed`; a sticker group's text is discarded.

    `repairable` False: no look-alike may be forced into the slot (a Moroccan or Iraqi series letter is
    Arabic: a Latin recogniser's 4 or 7 there is never an أ or a ط misread, so 12345 must not become
    123A5; the engine classifies the letter itself, see `series`).
    """

    allowed: str
    low: int
    high: int
    sticker: bool = False
    repairable: bool = True


# L(2) = two letters, D(1, 4) = one to four digits, A(1) = one letter or digit: reads like a layout.
def L(n: int, high: int | None = None, allowed: str = LETTERS) -> Group:
    return Group(allowed, n, n if high is None else high)


def D(n: int, high: int | None = None, allowed: str = DIGITS) -> Group:
    return Group(allowed, n, n if high is None else high)


def A(n: int, high: int | None = None, allowed: str = ALNUM) -> Group:
    return Group(allowed, n, n if high is None else high)


STICKER = Group("0OQDCGB869", 0, 1, sticker=True)
"""Where round seals or inspection stickers sit between groups: read as at most one round glyph."""

Display = Callable[[Sequence[str]], str]


def _joined(*separators: str) -> Display:
    """Display by putting separators[i] between text group i and text group i+1."""

    def display(parts: Sequence[str]) -> str:
        out = parts[0]
        for sep, part in zip(separators, parts[1:], strict=True):
            out += sep + part
        return out

    return display


def _moroccan_display(parts: Sequence[str]) -> str:
    serial, letter, region = parts
    return f"{serial} | {LATIN_TO_MOROCCAN[letter]} | {region}"


def _moroccan_canonical(parts: list[str]) -> list[str]:
    serial, letter, region = parts
    return [serial, MOROCCAN_LATIN_ALIASES.get(letter, letter), region]


@dataclass(frozen=True, slots=True)
class PlateFormat:
    """One layout of one country's plates.

    country: ISO 3166-1 alpha-2 code ("" for the generic fallbacks); name: which series;
    groups: the layout; display: how the plate is written for people, from the text groups (sticker
    groups left out); prior: the score of an exact fit; band_codes: what the EU band / oval of that
    country says, which OCR often reads as a prefix; canonical: rewrites text groups into the
    canonical key (Moroccan E → W); min_digits: fewest digits a fit must have.
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
    def min_len(self) -> int:
        return sum(g.low for g in self.groups)

    @property
    def max_len(self) -> int:
        return sum(g.high for g in self.groups)


@dataclass(frozen=True, slots=True)
class FormatFit:
    """The outcome of fitting one raw read to one layout.

    text: canonical key (A-Z0-9); display: as written on the plate; score in [0, 1];
    repairs: look-alike substitutions made; deleted: characters of the read left out (stickers and a
    leading band code included).
    """

    country: str
    text: str
    display: str
    score: float
    format_name: str
    repairs: int
    deleted: int


_MA_LETTERS = "".join(sorted(set(LATIN_TO_MOROCCAN) | set(MOROCCAN_LATIN_ALIASES)))
_PL_RESOURCE_LETTERS = _no("BDIOZ")  # Polish serials avoid letters that look like digits
_PL_PATTERNS = {
    2: ("DDDDD", "DDDDL", "DDDLL", "DLDDD", "DLLDD"),
    3: ("LDDD", "DDLL", "DLDD", "DDLD", "DLLD", "LLDD"),
}


def _polish_formats() -> list[PlateFormat]:
    formats = []
    for district, patterns in _PL_PATTERNS.items():
        for pattern in patterns:
            serial = [D(1) if ch == "D" else L(1, allowed=_PL_RESOURCE_LETTERS) for ch in pattern]
            separators = (" ",) + ("",) * (len(serial) - 1)
            formats.append(PlateFormat("PL", f"{district}-letter district {pattern}", (L(district), *serial),
                                       _joined(*separators), band_codes=("PL",)))
    return formats


def _german_display(parts: Sequence[str]) -> str:
    area, letters, digits = parts
    return f"{area}{letters} {digits}"  # where area ends and letters begin is only known from the seals


FORMATS: tuple[PlateFormat, ...] = (
    PlateFormat("MA", "2000 series", (D(1, 5), Group(_MA_LETTERS, 1, 1, repairable=False), D(1, 2)),
                _moroccan_display,
                prior=0.9, band_codes=("MA",), canonical=_moroccan_canonical),
    PlateFormat("CZ", "2001 series", (D(1), L(1, allowed="ABCEHJKLMPSTUZ"), A(1, allowed=_no("GOQW", ALNUM)),
                                       STICKER, D(4)), _joined("", "", " "), band_codes=("CZ",)),
    PlateFormat("CZ", "1960 district series", (L(3), D(4)), _joined(" "), prior=0.95),
    PlateFormat("DE", "area, letters, digits", (L(1, 3), STICKER, L(1, 2), D(1, 4)), _german_display,
                prior=0.9, band_codes=("D",)),
    PlateFormat("ES", "2000 series", (D(4), L(3, allowed=_no("AEIOUQ"))), _joined(" "), band_codes=("E",)),
    PlateFormat("FR", "SIV", (L(2, allowed=_no("IOU")), D(3), L(2, allowed=_no("IOU"))), _joined("-", "-"),
                band_codes=("F",)),
    PlateFormat("GB", "2001 series", (L(2, allowed=_no("IQZ")), D(2), L(3, allowed=_no("IQ"))),
                _joined("", " "), band_codes=("GB", "UK")),
    PlateFormat("GB", "prefix series", (L(1, allowed=_no("IQUZ")), D(1, 3), L(3, allowed=_no("IQ"))),
                _joined("", " "), prior=0.9),
    PlateFormat("HR", "district series", (L(2), D(3, 4), L(1, 2)), _joined(" ", "-"), prior=0.9,
                band_codes=("HR",)),
    PlateFormat("IQ", "2021 national series", (D(2), Group(LETTERS, 1, 1, repairable=False), D(5)),
                _joined(" ", " "), prior=0.95,
                band_codes=("IRQ", "IQ")),
    PlateFormat("IT", "1994 series", (L(2, allowed=_no("IOQU")), D(3), L(2, allowed=_no("IOQU"))),
                _joined(" ", ""), band_codes=("I",)),
    *_polish_formats(),
    PlateFormat("SK", "1997 district series", (L(2), D(3), L(2)), _joined("-", ""), band_codes=("SK",)),
    PlateFormat("US", "digit, 3 letters, 3 digits", (D(1), L(3), D(3)), _joined("", " ")),
    PlateFormat("US", "3 letters, 4 digits", (L(3), D(4)), _joined("-")),
    PlateFormat("", "letters and digits", (A(2, 10),), _joined(), prior=0.7, min_digits=1),
    PlateFormat("", "letters only", (L(4, 8),), _joined(), prior=0.7),
)
"""Every layout repair knows, in default preference order (earlier wins a tie): Morocco, Basira's home,
first, then the others alphabetically by country code, then the generic fallbacks. A deployment puts
its own country first with `countries`; that order only decides exact ties."""

COUNTRIES: tuple[str, ...] = tuple(dict.fromkeys(f.country for f in FORMATS if f.country))


def formats_for(countries: Iterable[str] | None = None) -> tuple[PlateFormat, ...]:
    """The layouts of `countries` in the order given, then the generic fallbacks; None means all.

    Raises ValueError naming any country code that has no layout.
    """
    if countries is None:
        return FORMATS
    wanted = [c.upper() for c in countries]
    unknown = sorted(set(wanted) - set(COUNTRIES))
    if unknown:
        raise ValueError(f"no plate layouts for {unknown}; known: {list(COUNTRIES)}")
    chosen = [f for country in dict.fromkeys(wanted) for f in FORMATS if f.country == country]
    return (*chosen, *(f for f in FORMATS if not f.country))


def _char_cost(ch: str, group: Group) -> tuple[float, int, str] | None:
    """(cost, repairs, character) to put `ch` in a slot of `group`; None if it cannot go there.

    The cheapest allowed look-alike wins (LOOKALIKE_WEIGHT; ties go to the class's preference order),
    so `0` becomes `O` rather than `D`, and `1` becomes `I` rather than `A` becoming `4`, whatever
    order the layouts are tried in. The recogniser's runner-up probabilities are not used: measured
    on the eu set, they pick D over O and 4 over A more often than they are right.
    """
    if group.sticker:
        return (STICKER_PENALTY, 0, "") if ch in group.allowed else None
    if ch in group.allowed:
        return 0.0, 0, ch
    if not group.repairable:
        return None
    best: tuple[float, int, str] | None = None
    for alternative in confusable_alternatives(ch):
        if alternative in group.allowed:
            cost = REPAIR_PENALTY * LOOKALIKE_WEIGHT.get(frozenset((ch, alternative)), 1.0)
            if best is None or cost < best[0] - 1e-12:
                best = (cost, 1, alternative)
    return best


@dataclass(frozen=True, slots=True)
class _Partial:
    cost: float
    repairs: int
    deleted: int
    parts: tuple[str, ...]  # one entry per group opened so far


_DONE = (-1, -1)  # state after the plate text ended: only trailing deletions follow


def _offer(states: dict[tuple[int, int], _Partial], key: tuple[int, int], candidate: _Partial) -> None:
    known = states.get(key)
    if known is None or candidate.cost < known.cost - 1e-12:
        states[key] = candidate


def _fit_groups(
    text: str, probabilities: Sequence[CharProbabilities | None], groups: Sequence[Group]
) -> _Partial | None:
    """Cheapest way to lay all of `text` into `groups` (see module docstring), or None.

    A dynamic programme over states (group, characters placed in it); a group whose minimum is met
    can be closed, which opens the next one (possibly empty, e.g. a sticker slot nothing was read in).
    """
    last = len(groups) - 1

    def closure(states: dict[tuple[int, int], _Partial]) -> dict[tuple[int, int], _Partial]:
        out = dict(states)
        for g in range(len(groups) - 1):
            for (sg, count), partial in list(out.items()):
                if sg == g and count >= groups[g].low:
                    key = (g + 1, 0)
                    moved = _Partial(partial.cost, partial.repairs, partial.deleted, (*partial.parts, ""))
                    if key not in out or moved.cost < out[key].cost:
                        out[key] = moved
        return out

    def is_final(key: tuple[int, int]) -> bool:
        return key == _DONE or (key[0] == last and key[1] >= groups[last].low)

    states = closure({(0, 0): _Partial(0.0, 0, 0, ("",))})
    for ch, char_probabilities in zip(text, probabilities, strict=True):
        following: dict[tuple[int, int], _Partial] = {}
        confidence = 1.0 if char_probabilities is None else char_probabilities.get(ch, 0.0)
        certainty = confidence * confidence
        for key, partial in states.items():
            if partial.deleted < MAX_DELETIONS:
                leading = all(not part for part in partial.parts) and key != _DONE
                if leading or is_final(key):
                    to = key if leading else _DONE
                    cost = END_DELETE_PENALTY * certainty
                else:
                    to, cost = key, DELETE_PENALTY * certainty
                _offer(following, to, _Partial(partial.cost + cost, partial.repairs, partial.deleted + 1,
                                               partial.parts))
            if key == _DONE:
                continue
            g, count = key
            if count < groups[g].high:
                step = _char_cost(ch, groups[g])
                if step is not None:
                    cost, repairs, placed = step
                    _offer(following, (g, count + 1),
                           _Partial(partial.cost + cost, partial.repairs + repairs,
                                    partial.deleted + (1 if groups[g].sticker else 0),
                                    (*partial.parts[:-1], partial.parts[-1] + placed)))
        states = closure(following)
        if not states:
            return None
    finals = [partial for key, partial in states.items() if is_final(key)]
    return min(finals, key=lambda p: p.cost) if finals else None


def _fit_one(
    text: str, probabilities: Sequence[CharProbabilities | None], fmt: PlateFormat, band_bonus: float
) -> FormatFit | None:
    if len(text) < fmt.min_len or len(text) > fmt.max_len + MAX_DELETIONS:
        return None
    fitted = _fit_groups(text, probabilities, fmt.groups)
    if fitted is None:
        return None
    parts = [part for part, group in zip(fitted.parts, fmt.groups, strict=True) if not group.sticker]
    if sum(ch.isdigit() for part in parts for ch in part) < fmt.min_digits:
        return None
    if fmt.canonical is not None:
        parts = fmt.canonical(parts)
    score = fmt.prior - fitted.cost + band_bonus
    return FormatFit(
        country=fmt.country,
        text="".join(parts),
        display=fmt.display(parts),
        score=round(max(0.0, min(1.0, score)), 6),
        format_name=fmt.name,
        repairs=fitted.repairs,
        deleted=fitted.deleted,
    )


def repair(
    raw: str,
    countries: Iterable[str] | None = None,
    probabilities: Sequence[CharProbabilities] | None = None,
) -> list[FormatFit]:
    """Every plausible reading of `raw` (A-Z0-9 text), best first, at most one per layout.

    `countries` limits and orders the layouts (see formats_for); among equal scores the earlier layout
    wins. `probabilities` (one mapping per character of `raw`, see CharProbabilities) make dropping
    unsure characters cheap; without them every character counts as certain. Returns [] when no
    layout, not even a generic one, fits.
    Raises ValueError if `probabilities` does not match `raw` in length.
    """
    per_char: Sequence[CharProbabilities | None]
    if probabilities is None:
        per_char = [None] * len(raw)
    elif len(probabilities) != len(raw):
        raise ValueError(f"{len(probabilities)} probability maps for {len(raw)} characters of {raw!r}")
    else:
        per_char = probabilities
    fits: list[tuple[float, int, FormatFit]] = []
    for order, fmt in enumerate(formats_for(countries)):
        best: FormatFit | None = None
        for start in [0] + [len(code) for code in fmt.band_codes if raw.startswith(code)]:
            fit = _fit_one(raw[start:], per_char[start:], fmt, BAND_CODE_BONUS if start >= 2 else 0.0)
            if fit is not None and (best is None or fit.score > best.score):
                best = fit
        if best is not None:
            fits.append((-best.score, order, best))
    fits.sort(key=lambda item: (item[0], item[1]))
    return [fit for _, _, fit in fits]


def readings(
    raw: str,
    countries: Iterable[str] | None = None,
    probabilities: Sequence[CharProbabilities] | None = None,
) -> list[FormatFit]:
    """The plausible readings of `raw` with distinct texts, best first (see repair); [] if nothing fits.

    When another country's layout reads the best text equally well (Slovak, French, Italian and
    Polish plates share LL DDD LL), the country is not knowable from the text: the best fit keeps the
    preferred layout's display but its country is "". The raw read itself stays among the readings
    through the generic layouts, so a repair only wins when it scores higher.
    """
    fits = repair(raw, countries, probabilities)
    if not fits:
        return []
    best = fits[0]
    rivals = {f.country for f in fits[1:] if f.text == best.text and f.score >= best.score - 1e-9}
    if rivals - {best.country}:
        best = replace(best, country="")
    distinct = [best]
    for fit in fits[1:]:
        if all(fit.text != kept.text for kept in distinct):
            distinct.append(fit)
    return distinct


def best_fit(
    raw: str,
    countries: Iterable[str] | None = None,
    probabilities: Sequence[CharProbabilities] | None = None,
) -> FormatFit | None:
    """The best reading of `raw` (see readings), or None if nothing fits."""
    found = readings(raw, countries, probabilities)
    return found[0] if found else None
