"""The private-data detector: each kind found, its look-alikes left alone, items masked."""

from __future__ import annotations

import pytest

from vaern.matchers.assess.privatedata import find_private, mask, valid_cpr_date


@pytest.mark.parametrize(
    ("text", "kind", "item"),
    [
        ("Hun bor på Lærkevej 14, 2. th, 8000 Aarhus C.", "address", "Lærkevej 14, 2. th, 8000 Aarhus C"),
        ("Adressen er Æblevej 3B.", "address", "Æblevej 3B"),
        ("Han bor i øvrigt på Søndergade 12 i Vejle.", "address", "Søndergade 12"),
        ("Ring på 23 45 67 89 i aften.", "phone", "23 45 67 89"),
        ("Mobil: +45 23456789", "phone", "+45 23456789"),
        ("tlf. 2345 6789", "phone", "2345 6789"),
        ("Hendes CPR er 010190-1234.", "cpr", "010190-1234"),
        ("Skriv til rene.r@mail.dk i dag", "email", "rene.r@mail.dk"),
        ("Bilen har nummerpladen AB 12 345.", "plate", "AB 12 345"),
        ("Vi ved hvor han bor.", "whereabouts", "Vi ved hvor han bor"),
        ("Jeg har fundet ud af hvor hun bor", "whereabouts", "Jeg har fundet ud af hvor hun bor"),
        ("Hendes børn hedder Emma og Oskar.", "family", "Hendes børn hedder Emma og Oskar"),
        ("Hans datter går på Vestre Skole.", "family", "Hans datter går på Vestre Skole"),
    ],
)
def test_each_kind_is_found(text: str, kind: str, item: str) -> None:
    found = [(i.kind, i.text) for i in find_private(text)]
    assert found == [(kind, item)]


@pytest.mark.parametrize(
    "text",
    [
        "Det kostede 12 34 56 78 kr.",
        "Sagsnr. 24 55 18 90 står på brevet.",
        "Sag 2023-1145 er lukket.",
        "Mødet er 12.11.2026 kl. 10:30.",
        "Nummeret 320190-1234 er ikke et CPR-nummer.",
        "Side 14 i afgørelsen.",
        "Paragraf 52 i serviceloven.",
        "hun bor i byen",
        "Jeg ventede 45 minutter.",
    ],
)
def test_look_alikes_are_not_private_data(text: str) -> None:
    assert find_private(text) == []


def test_cpr_needs_a_real_day() -> None:
    assert valid_cpr_date(29, 2, 0, "4000")  # 2000 was a leap year (7th digit 4: 2000-2036)
    assert not valid_cpr_date(29, 2, 1, "1000")  # 1901 was not
    assert not valid_cpr_date(31, 4, 90, "1234")


def test_items_are_masked_and_phrases_kept() -> None:
    text = "Hun bor på Lærkevej 14, tlf 23 45 67 89, mail rene@mail.dk, CPR 010190-1234. Vi ved hvor hun bor."
    masked = mask(text)
    for secret in ("Lærkevej 14", "23 45 67", "rene@", "010190"):
        assert secret not in masked
    assert "•• •• •• 89" in masked
    assert "r•••@mail.dk" in masked
    assert "Vi ved hvor hun bor" in masked
