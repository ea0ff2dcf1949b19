"""Word frequencies read straight from wordfreq's data file agree with wordfreq's own answers."""

from __future__ import annotations

import math

import wordfreq

from vaern.matchers.lexicon import load_zipf, zipf_of


def test_zipf_values_are_wordfreqs_for_every_danish_word() -> None:
    expected = {w: round(math.log10(f) + 9.0, 2) for w, f in wordfreq.get_frequency_dict("da").items()}
    assert dict(load_zipf()) == expected
    assert zipf_of(load_zipf(), "Have") == round(wordfreq.zipf_frequency("have", "da"), 2) > 5
    assert zipf_of(load_zipf(), "Rosenkilde") == 0.0
