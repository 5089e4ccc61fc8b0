"""The committed Arabic series-letter classifier: it loads, and it reads letters of fonts it never saw."""

from __future__ import annotations

import numpy as np
import pytest

from basira.analytics.plates import letter_training
from basira.analytics.plates.letters import LETTERS, MODEL_PATH, ArabicLetterClassifier

ACCURACY_FLOOR = 0.6
"""On letters rendered from the test fonts with the test damage; the committed weights measure more
(see the closing note of issue 12); chance is 1/20."""


@pytest.fixture(scope="module")
def classifier() -> ArabicLetterClassifier:
    return ArabicLetterClassifier(MODEL_PATH)


def test_the_committed_weights_load_with_their_letters(classifier: ArabicLetterClassifier) -> None:
    assert classifier.letters == LETTERS
    assert set("أبدهوطيج") <= set(classifier.letters)  # every Moroccan series letter


def test_letters_of_unseen_fonts_and_damage_score_above_the_floor(classifier: ArabicLetterClassifier) -> None:
    try:
        x, y = letter_training.rendered_set(letter_training.TEST_FONTS, 8, letter_training.SEED + 1,
                                            test=True)
    except SystemExit as exc:
        pytest.skip(str(exc))  # the Debian fonts are not installed here
    probabilities = classifier.scores(x)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert letter_training.accuracy(probabilities, y) >= ACCURACY_FLOOR


def test_a_rendered_letter_is_classified_from_a_crop() -> None:
    try:
        glyph = letter_training.render("ب", letter_training.find_font(letter_training.TEST_FONTS[0]))
    except SystemExit as exc:
        pytest.skip(str(exc))
    best, probability = ArabicLetterClassifier().classify(glyph)[0]
    assert best == "ب" and probability > 0.5
