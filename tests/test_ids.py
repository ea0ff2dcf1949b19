"""The public ids: one way to write them, one way to read them."""

from __future__ import annotations

import pytest

from vaern import ids


def test_ids_are_the_row_number_with_their_kind_padded_to_six_digits() -> None:
    assert ids.hit(123) == "h-000123"
    assert ids.snapshot(456) == "s-000456"
    assert ids.alert(42) == "a-000042"
    assert ids.hit(1234567) == "h-1234567"


@pytest.mark.parametrize(
    ("text", "number"),
    [("h-000123", 123), ("123", 123), (" h-7 ", 7), ("s-000001", None), ("h-", None), ("h-12x", None),
     ("h-" + "1" * 30, None), ("", None)],
)
def test_a_hit_id_is_read_with_or_without_its_letter(text: str, number: int | None) -> None:
    assert ids.parse_hit(text) == number


def test_a_snapshot_id_as_a_folder_name_must_be_written_in_full() -> None:
    assert ids.parse_snapshot("s-000456") == 456
    assert ids.is_snapshot("s-000456") and ids.is_snapshot("s-1234567")
    assert not ids.is_snapshot("s-12") and not ids.is_snapshot("../../etc") and not ids.is_snapshot("s-000001\n")
