"""What a page says, without its noise (crawler/fingerprint.py)."""

from __future__ import annotations

import pytest

from vaern.crawler.fingerprint import fingerprint, quiet_text

URL = "http://blog.example/2026/11/post/"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Opdateret for 3 minutter siden", "Opdateret for 41 minutter siden"),
        ("posted 5 hours ago", "posted an hour ago"),
        ("Sidst set i går kl. 10:41", "Sidst set i dag kl. 09:02"),
        ("1.204 visninger", "1.377 visninger"),
        ("Views: 88", "Views: 91"),
        ("12 svar", "13 svar"),
        ("opdateret 2026-11-27T10:41:00Z", "opdateret 2026-11-28T08:00:12Z"),
        ("token a8f5f167f44f4964e6c998dee827110c", "token 0cc175b9c0f1b6a831c399e269772661"),
    ],
)
def test_noise_in_the_text_is_no_change(one: str, other: str) -> None:
    assert quiet_text(one) == quiet_text(other)
    assert fingerprint("T", one, (), URL) == fingerprint("T", other, (), URL)


def test_words_are_change() -> None:
    named = fingerprint("T", "René Rosenkilde svarer aldrig", (), URL)
    assert named != fingerprint("T", "Karin Juhl svarer aldrig", (), URL)
    assert fingerprint("T", "Sagen har 3 bilag", (), URL) != fingerprint("T", "Sagen har 4 bilag", (), URL)


def test_links_to_other_hosts_and_token_parameters_are_no_change() -> None:
    base = [f"{URL}comment-page-1/", "http://blog.example/wp-login.php?action=logout&_wpnonce=1a2b3c4d5e"]
    again = [f"{URL}comment-page-1/", "http://blog.example/wp-login.php?action=logout&_wpnonce=9f8e7d6c5b"]
    assert fingerprint("T", "x", [*base, "https://0.gravatar.com/a"], URL) == fingerprint(
        "T", "x", [*again, "https://2.gravatar.com/a"], URL
    )
    assert fingerprint("T", "x", base, URL) != fingerprint("T", "x", [*base, f"{URL}comment-page-2/"], URL)
