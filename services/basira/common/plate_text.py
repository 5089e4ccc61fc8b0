"""Plate text as data: one canonical key per plate, OCR look-alikes, and a look-alike-aware distance.

Shared by the plate reader, hotlist matching and plate search, so that a plate typed by an officer
(`rk-099 an`, `12345 | ب | 6`) and a plate read by a camera (`RK099AN`, `12345B6`) meet on the same
key. Pure functions, no I/O.

Canonical key: upper-case Latin letters A-Z and digits 0-9 only, in the plate's left-to-right visual
order. Separators (spaces, dashes, dots, pipes, colons, slashes) are dropped, Arabic-Indic digits become
0-9, and the Arabic series letters of Moroccan and Iraqi plates become Latin letters (tables below), so
`12345|ب|6`, `12345-B-6` and `12345 b 6` all have the key `12345B6`. The Moroccan layout
(digits | letter | region) stays unambiguous in the key because the letter separates the two digit runs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from basira.common.errors import InvalidInput

MAX_PLATE_LENGTH = 16
"""No plate scheme we know of exceeds this many letters and digits; longer input is not a plate."""

# Separators people and plate makers put between groups; they carry no identity.
_SEPARATORS = frozenset(
    " \t\u00a0-\u2010\u2011\u2012\u2013\u2014\u2212._·•|¦:/\\'"
    "\u0640"  # Arabic tatweel, as in هـ
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi marks from RTL text
)

ARABIC_INDIC_DIGITS: dict[str, str] = {chr(0x0660 + i): str(i) for i in range(10)} | {
    chr(0x06F0 + i): str(i) for i in range(10)
}
"""Arabic-Indic (U+0660..0669) and Eastern Arabic-Indic (Persian/Urdu, U+06F0..06F9) digits → 0-9."""

MOROCCAN_LETTERS: dict[str, str] = {
    "أ": "A",  # alif with hamza: first series
    "ا": "A",  # bare alif, as often typed
    "إ": "A",
    "آ": "A",
    "ب": "B",
    "د": "D",
    "ه": "H",  # hā' (printed هـ on plates; the tatweel is a separator above)
    "و": "W",  # wāw
    "ط": "T",
    "ي": "Y",
    "ى": "Y",
    "ج": "J",  # local-authority vehicles
}
"""Arabic letter on a Moroccan plate → Latin letter of the canonical key.

Series letters follow the Abjad order, skipping letters reserved for special fleets: أ ب د هـ و ط ي …
Published Latin equivalents agree on A, B, D, H, T, Y; for و they differ (W in common Moroccan usage,
E in some tables, O in others). The key uses W; `MOROCCAN_LATIN_ALIASES` accepts E as و when a Latin
transcription is parsed as a Moroccan plate.
"""

IRAQI_LETTERS: dict[str, str] = {
    "ز": "Z", "ح": "X", "ك": "K", "ل": "L", "م": "M", "ن": "N", "س": "S", "ع": "E", "ف": "F",
    "ص": "C", "ق": "Q", "ر": "R",
}
"""The other Arabic series letters of Iraqi plates → Latin letter of the canonical key.

Basira's own convention, one Latin letter per Arabic letter so a key keeps one character per plate
character: the usual transliteration where it is one letter and free (ز Z, ك K …); ع E (as in the
Buckwalter scheme), and ح X, ص C because their usual spellings (H, S) already stand for ه and س.
Officers may type the Arabic letter; the key is what hotlists and search compare.
"""

SERIES_LETTERS: dict[str, str] = MOROCCAN_LETTERS | IRAQI_LETTERS
"""Every Arabic series letter a plate may carry → its Latin key letter."""

LATIN_TO_MOROCCAN: dict[str, str] = {
    "A": "أ", "B": "ب", "D": "د", "H": "هـ", "W": "و", "T": "ط", "Y": "ي", "J": "ج",
}
"""Latin key letter → the Arabic letter printed on the plate (for display)."""

MOROCCAN_LATIN_ALIASES: dict[str, str] = {"E": "W"}
"""Other Latin spellings of a Moroccan series letter → the key's letter."""

CONFUSABLE_CLASSES: tuple[str, ...] = ("0ODQ", "1IL", "2Z", "4A", "5S", "6G", "7T", "8B", "UV")
"""Disjoint sets of characters that plate OCR mistakes for one another (glyph shape, not sound).

Each set is ordered by preference when a format forces a repair: `0` in a letter slot becomes `O`
before `D` or `Q`.
"""

_CLASS_OF: dict[str, int] = {ch: i for i, cls in enumerate(CONFUSABLE_CLASSES) for ch in cls}
_SKELETON_OF: dict[str, str] = {ch: min(cls) for cls in CONFUSABLE_CLASSES for ch in cls}

DEFAULT_CONFUSABLE_COST = 0.3
"""Cost of substituting one look-alike for another (a full substitution, insertion or deletion costs 1)."""

_KEY = re.compile(r"[A-Z0-9]+")


class PlateTextError(InvalidInput, ValueError):
    """Text that cannot be a plate: empty, too long, or with a character no plate carries."""


@dataclass(frozen=True, slots=True)
class MoroccanPlate:
    """A Moroccan plate split into its three fields: serial digits, series letter (Latin), region."""

    serial: str
    letter: str
    region: str

    @property
    def key(self) -> str:
        return f"{self.serial}{self.letter}{self.region}"

    @property
    def latin(self) -> str:
        """Display form with the Latin letter, e.g. `12345-B-6`."""
        return f"{self.serial}-{self.letter}-{self.region}"

    @property
    def arabic(self) -> str:
        """Display form as printed on the plate, e.g. `12345 | ب | 6`."""
        return f"{self.serial} | {LATIN_TO_MOROCCAN[self.letter]} | {self.region}"


def normalize_plate(text: str) -> str:
    """Return the canonical key of `text` (see module docstring).

    Raises PlateTextError if `text` is not a str, has no letter or digit, is longer than
    MAX_PLATE_LENGTH characters once normalised, or contains a character that is neither a separator,
    a Latin letter, a digit (Western or Arabic-Indic) nor an Arabic series letter (SERIES_LETTERS).
    """
    if not isinstance(text, str):
        raise PlateTextError(f"plate text must be a string, got {type(text).__name__}")
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch in _SEPARATORS:
            continue
        if ch in ARABIC_INDIC_DIGITS:
            out.append(ARABIC_INDIC_DIGITS[ch])
        elif ch in SERIES_LETTERS:
            out.append(SERIES_LETTERS[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch.upper())
        else:
            raise PlateTextError(
                f"plate text {text!r} has a character no plate carries: {ch!r} (U+{ord(ch):04X})"
            )
    key = "".join(out)
    if not key:
        raise PlateTextError(f"plate text {text!r} has no letter or digit")
    if len(key) > MAX_PLATE_LENGTH:
        raise PlateTextError(f"plate text {text!r} has {len(key)} characters, more than {MAX_PLATE_LENGTH}")
    return key


def parse_moroccan(text: str) -> MoroccanPlate:
    """Parse a Moroccan plate written in Arabic (`12345|ب|6`) or Latin (`12345-B-6`, `12345B6`).

    Layout: 1-5 serial digits, one series letter, a 1-2 digit region code (1-99), left to right.
    Raises PlateTextError when the text is not in that layout or the letter is not a known series letter.
    """
    key = normalize_plate(text)
    match = re.fullmatch(r"([0-9]{1,5})([A-Z])([0-9]{1,2})", key)
    if match is None:
        raise PlateTextError(f"{text!r} is not a Moroccan plate (digits | letter | region), key {key!r}")
    serial, letter, region = match.groups()
    letter = MOROCCAN_LATIN_ALIASES.get(letter, letter)
    if letter not in LATIN_TO_MOROCCAN:
        raise PlateTextError(f"{text!r}: {letter!r} is not a Moroccan series letter")
    if int(region) == 0 or int(serial) == 0:
        raise PlateTextError(f"{text!r}: serial and region of a Moroccan plate start at 1")
    return MoroccanPlate(serial=serial, letter=letter, region=region)


def are_confusable(a: str, b: str) -> bool:
    """True if the single characters `a` and `b` differ but OCR commonly mistakes one for the other."""
    return a != b and a in _CLASS_OF and _CLASS_OF[a] == _CLASS_OF.get(b)


def confusable_alternatives(ch: str) -> str:
    """The other members of `ch`'s look-alike set, in repair-preference order ('' if it has none)."""
    if ch not in _CLASS_OF:
        return ""
    return "".join(other for other in CONFUSABLE_CLASSES[_CLASS_OF[ch]] if other != ch)


def confusable_skeleton(key: str) -> str:
    """Map every look-alike to one representative (`RKO99AN` and `RK099AN` share a skeleton).

    `key` must already be canonical (see normalize_plate); use the skeleton as an index column to find
    candidates for a look-alike-tolerant search, then rank them with plate_distance.
    """
    return "".join(_SKELETON_OF.get(ch, ch) for ch in key)


def plate_distance(
    a: str,
    b: str,
    *,
    confusable_tolerant: bool = True,
    confusable_cost: float = DEFAULT_CONFUSABLE_COST,
) -> float:
    """Edit distance between two canonical keys; look-alike substitutions cost `confusable_cost`.

    Insertions, deletions and other substitutions cost 1. With confusable_tolerant=False this is the
    plain Levenshtein distance. Inputs are compared as given: normalise them first.
    """
    if not 0.0 <= confusable_cost <= 1.0:
        raise ValueError(f"confusable_cost must be within [0, 1], got {confusable_cost}")
    previous = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, start=1):
        current = [float(i)]
        for j, cb in enumerate(b, start=1):
            if ca == cb:
                substitution = 0.0
            elif confusable_tolerant and are_confusable(ca, cb):
                substitution = confusable_cost
            else:
                substitution = 1.0
            current.append(min(previous[j] + 1.0, current[j - 1] + 1.0, previous[j - 1] + substitution))
        previous = current
    return previous[-1]


def plates_match(
    a: str,
    b: str,
    max_distance: float = 0.0,
    confusable_tolerant: bool = True,
    *,
    confusable_cost: float = DEFAULT_CONFUSABLE_COST,
) -> bool:
    """True if plates `a` and `b` (any accepted spelling) are within `max_distance` of each other.

    Both are normalised first (raises PlateTextError if either is malformed). max_distance=0 asks for
    the same canonical key; 0.3 also forgives one look-alike (O/0, I/1 …); 1 forgives one wrong,
    missing or extra character.
    """
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    key_a, key_b = normalize_plate(a), normalize_plate(b)
    if abs(len(key_a) - len(key_b)) > max_distance:
        return False
    distance = plate_distance(
        key_a, key_b, confusable_tolerant=confusable_tolerant, confusable_cost=confusable_cost
    )
    return distance <= max_distance + 1e-9


def is_canonical(key: str) -> bool:
    """True if `key` is already a canonical key (A-Z, 0-9, 1..MAX_PLATE_LENGTH characters)."""
    return bool(_KEY.fullmatch(key)) and len(key) <= MAX_PLATE_LENGTH
