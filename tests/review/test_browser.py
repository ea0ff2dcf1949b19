"""The review app in a real Chromium: the analyst's whole round, script payloads that must not run,
keyboard use, accessibility (axe-core) and screenshots at 1280 and 390 px for a reviewer to look at."""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.review.conftest import ARTIFACTS, LiveServer, ref
from tests.review.seeding import PASSWORD, World

pytestmark = pytest.mark.browser
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}


@pytest.fixture
def page(chromium: Any, live: LiveServer) -> Iterator[Any]:
    context = chromium.new_context(base_url=live.url, viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    yield page
    context.close()


def _sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/hits")


def _until(check: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_analyst_round_sign_in_to_sign_out(page: Any, world: World, tmp_path: Path) -> None:
    _sign_in(page, "analytiker")
    rows = page.locator("tr[data-hit]")
    assert rows.count() == 5
    # Filter: the boern-familie unit, status new.
    page.select_option("#f-unit", "boern-familie")
    page.select_option("#f-status", "new")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/hits?*unit=boern-familie*")
    assert rows.count() == 3
    page.fill("#q", "rosenkilde")
    page.press("#q", "Enter")
    page.wait_for_url("**q=rosenkilde*")
    assert rows.count() == 2
    # Open the threat.
    hit = ref(world.hits["a_threat"])
    page.click(f'tr[data-hit="{hit}"] a.hitlink')
    page.wait_for_url(f"**/hits/{hit}")
    assert page.locator("blockquote.excerpt mark").inner_text() == "Rene Rosenkilde"
    assert page.locator('[data-verified="yes"]').count() == 2
    # Safe view: blurred until revealed; then zoomable.
    img = page.locator("#shot")
    img.evaluate("i => i.decode()")
    assert "blur" in img.evaluate("i => getComputedStyle(i).filter")
    page.click("#reveal")
    _until(lambda: img.evaluate("i => getComputedStyle(i).filter") == "none")  # after the fade
    assert page.get_attribute("#reveal", "aria-expanded") == "true"
    before = img.bounding_box()["width"]
    page.click('[data-zoom="in"]')
    assert img.bounding_box()["width"] > before * 1.4
    # Confirm.
    page.click("text=Bekræft: det er denne person")
    page.wait_for_url("**done=confirm*")
    assert page.locator(".facts .status").inner_text() == "bekræftet"
    # Checklist: leader informed and employee supported, today.
    page.check("#leader_informed_done")
    page.check("#employee_supported_done")
    page.click("text=Gem tjekliste")
    page.wait_for_url("**done=steps*")
    assert page.is_checked("#leader_informed_done") and page.is_checked("#employee_supported_done")
    assert not page.is_checked("#police_report_done")
    # Export: the zip holds what `sha256sum -c` needs, and every sum is right.
    with page.expect_download(timeout=90_000) as info:  # the bundle's PDF is printed by a second Chromium
        page.click("text=Hent bevispakke")
    target = tmp_path / "bundle.zip"
    info.value.save_as(target)
    with zipfile.ZipFile(target) as bundle:
        names = set(bundle.namelist())
        assert "report.html" in names and "SHA256SUMS" in names
        sums = bundle.read("SHA256SUMS").decode().splitlines()
        assert len(sums) >= 4
        for line in sums:
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(bundle.read(name)).hexdigest() == digest, name
        assert any(n.endswith("manifest.json") for n in names)
    # Sign out: back at sign-in, and the list is closed.
    page.click("form.signout button")
    page.wait_for_url("**/login")
    page.goto("/hits")
    assert "/login" in page.url
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_script_payloads_from_crawled_pages_show_as_text_and_never_run(
    page: Any, world: World, live: LiveServer
) -> None:
    _sign_in(page, "analytiker")
    page.goto("/hits?q=forum.test/thread/7")
    assert "<script>" in page.locator("tr[data-hit] .url").first.inner_text()
    hit = ref(world.hits["a_xss"])
    page.goto(f"/hits/{hit}")
    assert '<script>alert("title")</script>' in page.locator(".pagetitle").inner_text()
    assert "onerror=alert(2)" in page.locator("blockquote.excerpt").inner_text()
    # Open everything that holds crawled content: the page text and the archived page itself.
    for summary in page.locator("details summary").all():
        summary.click()
    frame = page.frame_locator("details.archived iframe").first
    frame.locator("body").wait_for()
    page.wait_for_timeout(300)
    sid = page.locator("details.archived iframe").first.get_attribute("src")
    page.goto(sid)  # even opened on its own, the archived page runs nothing
    page.wait_for_timeout(300)
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_keyboard_only(page: Any, world: World) -> None:
    page.goto("/login")
    page.keyboard.type("analytiker")  # the name field has focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/hits")
    page.goto(f"/hits/{ref(world.hits['b_secret'])}")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "reveal":
            break
    else:
        raise AssertionError("the reveal button cannot be reached with Tab")
    page.keyboard.press("Enter")
    assert page.get_attribute("#safeview", "data-revealed") == "true"
    # The focus ring is visible where the keyboard is.
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"


@pytest.mark.parametrize("width", WIDTHS)
def test_main_pages_pass_axe_fit_the_width_and_are_saved_for_review(
    page: Any, world: World, width: str
) -> None:
    w, h = WIDTHS[width]
    page.set_viewport_size({"width": w, "height": h})
    page.goto("/login")
    pages: dict[str, str] = {"login": "/login"}
    _problems = _axe(page)
    assert _problems == [], f"login: {_problems}"
    _sign_in(page, "admin")
    pages = {"list": "/hits", "detail": f"/hits/{ref(world.hits['a_xss'])}", "overview": "/overview"}
    for name, path in pages.items():
        page.goto(path)
        problems = _axe(page)
        assert problems == [], f"{name}: {problems}"
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} is {overflow} px wider than {w} px"
        _shot(page, f"{name}-{w}")
    if width == "wide":
        page.goto(pages["detail"])
        page.click("#reveal")
        _shot(page, f"detail-revealed-{w}")


def _axe(page: Any) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_screenshot_and_thumbnail_are_real_images(page: Any, world: World) -> None:
    from PIL import Image

    _sign_in(page, "admin")
    response = page.request.get(f"/hits/{ref(world.hits['a_threat'])}/thumbnail.jpg")
    assert response.status == 200
    thumb = Image.open(io.BytesIO(response.body()))
    assert thumb.size[0] <= 240 and thumb.getpixel((5, 5))[:3] != (255, 255, 255)
