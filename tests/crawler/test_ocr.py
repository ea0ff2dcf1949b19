"""Text in images: a photographed letter naming a caseworker is read with Tesseract during the
crawl, bounded by image count; a mention in it is marked as found in an image."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tests.crawler.conftest import crawl_config
from vaern.config import Ocr
from vaern.crawler.ocr import OcrSettings, image_urls, read_image
from vaern.domain import ImageText, Page, WatchedPerson
from vaern.matchers import build_index
from vaern.matchers.assess import Assessor
from vaern.pipeline import assess_page
from vaern.testing.crawling import run_crawl
from vaern.testing.siteserver import SiteServer

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def letter(lines: list[str]) -> bytes:
    font = ImageFont.truetype(FONT, 28) if Path(FONT).is_file() else ImageFont.load_default(28)
    image = Image.new("RGB", (900, 60 + 50 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((30, 30 + 50 * i), line, fill="black", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_letter_is_read_in_danish() -> None:
    text = read_image(letter(["Afgørelse om tilskud", "Sagsbehandler: René Rosenkilde"]), OcrSettings())
    assert text is not None and "Rosenkilde" in text and "Afgørelse" in text


def test_an_image_that_takes_too_long_or_is_no_image_gives_nothing() -> None:
    assert read_image(b"not an image at all", OcrSettings()) is None
    assert read_image(letter(["René Rosenkilde"]), OcrSettings(), seconds=0) is None


def test_image_addresses_skip_icons_and_repeat_nothing() -> None:
    body = (
        b'<img src="/a.png"><img src="/logo.png"><img src="data:image/png;base64,xx">'
        b'<img src="/a.png"><img src="b.jpg">'
    )
    assert image_urls(body, "http://x.test/post/1", 5) == ["http://x.test/a.png", "http://x.test/post/b.jpg"]
    assert image_urls(body, "http://x.test/", 1) == ["http://x.test/a.png"]


def test_the_crawl_reads_a_pages_images_within_its_bounds(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Brev</title><p>Se brevet her.</p>"
        '<img src="brev.png"><img src="brev2.png">', encoding="utf-8",
    )
    (tmp_path / "brev.png").write_bytes(letter(["Kære borger", "Sagsbehandler René Rosenkilde"]))
    (tmp_path / "brev2.png").write_bytes(letter(["Mette Dahl"]))
    with SiteServer(tmp_path) as server:
        config, site = crawl_config([server.url("/")])
        config = config.model_copy(update={"ocr": Ocr(enabled=True, max_images=1)})
        outcome = run_crawl(config, site)
    assert outcome.error is None, outcome.error
    page = outcome.page(server.url("/"))
    assert [i.url for i in page.images] == [server.url("/brev.png")]  # max_images: 1
    assert "Rosenkilde" in page.images[0].text


def test_a_name_in_an_image_is_a_mention_found_in_an_image() -> None:
    index = build_index([WatchedPerson("rr", "René Rosenkilde")])
    page = Page(
        site_id="t", url="http://x.test/", status=200, fetched_at=datetime(2026, 11, 21, tzinfo=UTC),
        text="Se brevet her.", images=(ImageText("http://x.test/brev.png", "Sagsbehandler René Rosenkilde", "0" * 64),),
    )
    found, judged = assess_page(index, Assessor(index), page)
    assert [(f.field, f.mention.person, f.mention.found, f.image) for f in found] == [
        ("image", "rr", "image", "http://x.test/brev.png")
    ]
    assert judged["rr"].severity == "none"
