"""Words and the list: Danish category and variant names, checklist dates only where a step was
done, the list's excerpt, deadline and readable thumbnails, and one safe-view setting for the
list, the detail page and the e-mail thumbnails."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFilter, ImageStat

from tests.review.conftest import LiveServer, sign_in
from tests.review.seeding import World, build_world
from vaern import ids
from vaern.alerts.compose import Composer
from vaern.cli import main
from vaern.review.webapp import THUMBNAIL_WIDTH, create_app
from vaern.storage.db import make_engine, session_factory, transaction
from vaern.storage.tables import HitRow
from vaern.storage.thumbnails import Thumbnails, make_thumbnail


def test_the_cli_names_categories_in_the_configs_language(world: World, tmp_path: Path) -> None:
    path = tmp_path / "vaern.yaml"
    path.write_text(yaml.safe_dump(world.config.model_dump(mode="json", exclude={"source"}), allow_unicode=True),
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["-c", str(path), "hits"])
    assert result.exit_code == 0, result.output
    assert "trussel" in result.output and "private oplysninger" in result.output
    assert "threat" not in result.output and "private_info" not in result.output


def test_variants_are_translated_and_unchecked_steps_have_no_date(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    engine = make_engine(world.config.database)
    with transaction(session_factory(engine)) as db:
        hit = db.get(HitRow, world.hits["b_other"])
        assert hit is not None
        hit.why = [{"variant": "exact", "compared": ["Peter Lund", "Peter Lund"], "score": 100.0},
                   {"variant": "folded", "compared": ["peter lund", "Peter Lund"], "score": 99.0}]
    engine.dispose()
    page = client_as("analytiker").get(f"/hits/{ids.hit(world.hits['b_other'])}").text
    assert "præcis som skrevet" in page and "uden accenter og store bogstaver" in page
    assert "<td>exact</td>" not in page and "<td>folded</td>" not in page
    dates = [line for line in page.splitlines() if 'type="date"' in line]
    assert dates and all('value=""' in line for line in dates)  # nothing checked: no date filled in


def test_the_list_shows_excerpt_deadline_and_safe_thumbnails(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    page = client_as("analytiker").get("/hits").text
    row = page.split('data-hit="' + ids.hit(world.hits["b_secret"]))[1].split("</tr>")[0]
    assert "Hemmelig Allé 12" in row and "<mark>Karin Jensen</mark>" in row
    assert "data-deadline" in row and "t tilbage" in row  # found 2 hours ago: 70 hours left
    assert 'class="thumb safe"' in page


def _page_png(tmp_path: Path) -> Path:
    """A 1280 px wide page: a margin, then a block of black lines of 'text' at the top left."""
    image = Image.new("RGB", (1280, 3000), "white")
    draw = ImageDraw.Draw(image)
    for n in range(12):
        draw.rectangle((160, 200 + n * 24, 560, 212 + n * 24), fill="black")
    path = tmp_path / "page.png"
    image.save(path)
    return path


def _dark_share(data: bytes) -> float:
    with Image.open(io.BytesIO(data)) as im:
        histogram = im.convert("L").histogram()
        return sum(histogram[:100]) / sum(histogram)


def test_list_thumbnails_are_a_readable_crop(tmp_path: Path) -> None:
    data = Thumbnails(THUMBNAIL_WIDTH, readable=True).get(_page_png(tmp_path))
    assert data is not None
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (240, 150)
    # The text block fills much of the crop; the whole page shrunk would be a pale grey box.
    assert _dark_share(data) > 0.2
    whole = make_thumbnail(_page_png(tmp_path), THUMBNAIL_WIDTH)
    assert whole is not None and _dark_share(whole) < 0.1


def test_email_thumbnails_follow_the_safe_view_setting(world: World, tmp_path: Path) -> None:
    page = _page_png(tmp_path)
    blurred = Composer(world.config).thumbnails.get(page)
    sharp = Composer(world.config.model_copy(
        update={"review": world.config.review.model_copy(update={"safe_view": False})}
    )).thumbnails.get(page)
    assert blurred is not None and sharp is not None

    def edges(data: bytes) -> float:
        with Image.open(io.BytesIO(data)) as im:
            return float(ImageStat.Stat(im.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0])

    assert edges(blurred) < edges(sharp) / 2


def test_without_safe_view_nothing_is_blurred_in_the_app(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    config = world.config.model_copy(update={"review": world.config.review.model_copy(update={"safe_view": False})})
    with LiveServer(create_app(config)) as live:
        client = sign_in(live.url, "analytiker")
        listing = client.get("/hits").text
        assert 'class="thumb"' in listing and "thumb safe" not in listing
        detail = client.get(f"/hits/{ids.hit(world.hits['a_threat'])}").text
        assert 'data-revealed="true"' in detail
        client.close()
