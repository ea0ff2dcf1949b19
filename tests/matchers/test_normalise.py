"""Folding: Danish spellings meet, offsets map back, and folding twice changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaern.matchers.normalise import fold, fold_text, skeleton, token_key


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("René Rosenkilde", "rene rosenkilde"),
        ("RENÉ  ROSENKILDE", "rene rosenkilde"),
        ("Søren Kjærgaard", "soeren kjaergaard"),
        ("Åse Ågård", "aase aagaard"),
        ("Huus-Pedersen", "huus pedersen"),
        ("René\nRosenkilde", "rene rosenkilde"),
        ("Rosen\u00adkilde", "rosenkilde"),
        ("Rene\u0301", "rene"),
        ("Müller Straße", "mueller strasse"),
        ("ﬁne  ", "fine"),
        ("Bak–Vestergaard", "bak vestergaard"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert fold_text(text).text == folded


@pytest.mark.parametrize(
    "spellings",
    [
        ["Nørgaard", "Nørgård", "Noergaard", "Norgaard", "Norgard", "NØRGÅRD"],
        ["Møller", "Moeller", "Moller"],
        ["Kjær", "Kjaer", "Kjar"],
        ["Åse", "Aase", "Ase"],
        ["Vestergaard", "Vestergård"],
    ],
)
def test_danish_letters_meet(spellings: list[str]) -> None:
    assert len({token_key(s)[1] for s in spellings}) == 1


def test_different_names_stay_apart() -> None:
    assert len({skeleton(fold(s)) for s in ["Hansen", "Hansson", "Jensen", "Holm", "Helm"]}) == 5


def test_span_maps_back_to_the_original() -> None:
    text = "Hej  RENÉ\nRosen\u00adkilde!"
    folded = fold_text(text)
    start = folded.text.index("rene rosenkilde")
    a, b = folded.span(start, start + len("rene rosenkilde"))
    assert text[a:b] == "RENÉ\nRosen\u00adkilde"


TEXT = st.text(
    alphabet=st.sampled_from(list("abcæøåéüßÆØÅÉİﬁ \n\t-–.,'\u00ad\u0301\u00a0") + ["A", "Z", "1"]),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | TEXT)
def test_folding_is_idempotent_and_both_paths_agree(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert fold_text(text).text == once


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | TEXT)
def test_every_folded_character_maps_to_an_original_one(text: str) -> None:
    folded = fold_text(text)
    assert len(folded.origin) == len(folded.text) + 1
    assert list(folded.origin) == sorted(folded.origin)
    for i, ch in enumerate(folded.text):
        source = text[folded.origin[i]]
        assert ch in fold_text(source).text or (ch == " " and not fold(source))
    for i in range(len(folded.text)):
        for j in range(i + 1, min(len(folded.text), i + 6) + 1):
            a, b = folded.span(i, j)
            assert 0 <= a < b <= len(text)
            # The original span folds to the folded slice, or to more where one original
            # character became several ("¼" -> "1⁄4") and the slice took only some of them.
            assert fold(folded.text[i:j]) in fold(text[a:b])
