"""The alert MIME writer: quoted-printable bodies encoded line by line (with a cache of lines)
give exactly what encoding the whole text at once gives, and decode back to the text."""

from __future__ import annotations

import binascii
import quopri
import random

import pytest

from vaern.alerts import mime

TRICKY = [
    "",
    "\n",
    "plain ascii\n",
    "trailing space \nand tab\t\nend",
    "æøå " * 40 + "\n" + "x" * 75 + " \n" + "y" * 76 + "\t",
    "=3D already looks encoded = and ends with =",
    ".\n. leading dots\n..\n",
    "windows\r\nline\r\nendings\r\n",
    "a lone\rcarriage return\n",
    '<td style="padding:8px 24px;">' * 5 + "\n",
    "emoji 😀 and € at the edge " + "z" * 60 + "😀\n",
]


def _whole(text: str) -> bytes:
    return binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


@pytest.mark.parametrize("text", TRICKY)
def test_quoted_printable_by_line_equals_the_whole_text(text: str) -> None:
    assert mime._qp(text) == _whole(text)
    assert mime._qp(text) == _whole(text)  # again, now from the cache of lines
    decoded = quopri.decodestring(mime._qp(text)).decode("utf-8")
    assert decoded.replace("\r\n", "\n") == text.replace("\r\n", "\n")


def test_quoted_printable_by_line_on_random_text() -> None:
    rng = random.Random(6)
    pieces = ["a", " ", "\t", "=", ".", "æ", "\n", "x" * 30, "€", "😀", "-", "\x00"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 50)))
        assert mime._qp(text) == _whole(text), repr(text)
