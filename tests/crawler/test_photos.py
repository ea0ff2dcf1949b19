"""A photo beside the name, read from the page's structure: content pictures and the stretch of
text each stands beside; icons, avatars and logos are no photos; the assessment gives a person
named beside a photo, or in its alt text, the private item `photo`."""

from __future__ import annotations

from datetime import UTC, datetime

from vaern.crawler.extract import extract_html
from vaern.crawler.photos import find_photos
from vaern.domain import Page, Photo, WatchedPerson
from vaern.matchers import build_index
from vaern.matchers.assess import Assessor
from vaern.pipeline import assess_page

URL = "https://gruppe.example/opslag/1"


def photos(html: str) -> tuple[str, tuple[Photo, ...]]:
    text = extract_html(html, URL).text
    return text, find_photos(html, URL, text, lambda fragment: extract_html(fragment, URL).text)


def page(body: str) -> str:
    return f"<!doctype html><meta charset=utf-8><title>Gruppen</title><body>{body}</body>"


def test_a_picture_in_a_post_stands_beside_that_posts_text() -> None:
    text, found = photos(page(
        "<article><p>René Rosenkilde tog vores børn.</p><img src='/b/IMG_1.jpg'></article>"
        "<article><p>Husk mødet på torsdag.</p></article>"
    ))
    [photo] = found
    assert text[photo.start : photo.end] == "René Rosenkilde tog vores børn."
    assert photo.url == "https://gruppe.example/b/IMG_1.jpg"


def test_icons_avatars_smileys_logos_and_small_pictures_are_no_photos() -> None:
    for img in (
        "<img class='avatar' src='/u/1.jpg'>", "<img src='https://secure.gravatar.com/avatar/ab?s=48'>",
        "<img src='/forum/smiley.png'>", "<img src='/logo.png'>", "<img src='/x.svg'>",
        "<img src='/p/1.jpg' width='48' height='48'>", "<img src='/p/1.jpg' style='width: 40px'>",
        "<img src='/p/1.jpg' role='presentation'>",
    ):
        _text, found = photos(page(f"<div class='comment'>{img}<p>René Rosenkilde svarer aldrig.</p></div>"))
        assert found == (), img


def test_a_captioned_figure_stands_beside_its_caption_and_keeps_what_alt_and_caption_say() -> None:
    text, found = photos(page(
        "<article><p>Se her.</p><figure><img data-src='/f.jpg' alt='Foto fra mødet' width='800'>"
        "<figcaption>René Rosenkilde på rådhuset</figcaption></figure></article>"
    ))
    [photo] = found
    # The figure's text as the extractor gives it: the image's alt text, then the caption.
    assert text[photo.start : photo.end].split() == "Foto fra mødet René Rosenkilde på rådhuset".split()
    assert photo.alt == "Foto fra mødet René Rosenkilde på rådhuset"


def assessed(body: str) -> dict[str, object]:
    index = build_index([WatchedPerson("rr", "René Rosenkilde"), WatchedPerson("md", "Mette Dahl")])
    text, found = photos(page(body))
    p = Page(site_id="t", url=URL, status=200, fetched_at=datetime(2026, 11, 21, tzinfo=UTC), text=text, photos=found)
    _found, judged = assess_page(index, Assessor(index), p)
    return {pid: (r.severity, r.categories, [(i.kind, i.text) for i in r.private]) for pid, r in judged.items()}


def test_a_person_named_beside_a_photo_has_their_picture_published() -> None:
    judged = assessed(
        "<article><p>Endnu et møde med René Rosenkilde i dag.</p><img src='/b/IMG_7.jpg' width='640'></article>"
        "<article><p>Mette Dahl var sød.</p></article>"
    )
    assert judged["rr"] == ("critical", ("private_info",), [("photo", "billede IMG_7.jpg")])
    assert judged["md"] == ("none", (), [])  # the photo is in another post


def test_a_photo_whose_alt_names_the_person_counts_and_an_avatar_does_not() -> None:
    judged = assessed(
        "<div class='post'><p>Hun har lukket sagen.</p><p>Mette Dahl svarer aldrig.</p>"
        "<img src='/m.jpg' alt='Mette Dahl'></div>"
        "<div class='comment'><img class='avatar' src='/u/2.jpg'><p>René Rosenkilde svarer aldrig.</p></div>"
    )
    assert judged["md"][2] == [("photo", "billede m.jpg")]
    assert judged["rr"][2] == []


def test_a_photo_whose_alt_names_someone_else_is_not_a_photo_of_the_person_beside_it() -> None:
    judged = assessed(
        "<article><p>René Rosenkilde og Mette Dahl var til mødet.</p><img src='/m.jpg' alt='Mette Dahl'></article>"
    )
    assert judged["md"][2] == [("photo", "billede m.jpg")]
    assert judged["rr"][2] == []
