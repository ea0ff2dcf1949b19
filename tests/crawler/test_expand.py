"""Expansion on the JavaScript fixture site: every planted name shows, within limits, recorded."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

import lxml.html
import pytest

from vaern.config import Browser, Expand
from vaern.crawler.browser import BrowserSession
from vaern.crawler.expand import SETTLE_CAP_S, Action, ExpandLimits, NetworkWatch, expand
from vaern.crawler.render import Rendered, render
from vaern.testing.browsing import BrowserThread
from vaern.testing.jssite import PLANTED, JsSite

pytestmark = pytest.mark.browser

JS_PAGES = ["/group/", "/feed/", "/more/", "/comments/", "/inner/", "/toggle/"]


@pytest.fixture(scope="module")
def site() -> Iterator[JsSite]:
    with JsSite(delay=0.3) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    # Generous limits: a busy test machine must not turn a slow page into a failure. The pages
    # end their expansion by themselves ("nothing more to show") long before.
    bt = BrowserThread(Browser(timeout=30, load_timeout=2, page_timeout=120))
    yield bt
    bt.close()


def visible_text(html: str) -> str:
    doc = lxml.html.document_fromstring(html)
    for dead in doc.xpath("//script | //style"):
        dead.drop_tree()
    return " ".join(doc.text_content().split())


def do_render(browser: BrowserThread, url: str, limits: ExpandLimits | None = None) -> Rendered:
    async def go(session: BrowserSession) -> Rendered:
        return await render(session, url, limits or ExpandLimits(max_seconds=60, step_timeout=30))

    return browser.run(go)


def kinds(actions: tuple[Action, ...] | list[Action]) -> list[str]:
    """The kinds of the expansion's actions (a load cut short by load_timeout left out)."""
    return [a.kind for a in actions if a.target != "load"]


def test_names_are_not_in_what_http_fetches(site: JsSite) -> None:
    """The fixture is honest: without JavaScript, none of the planted names can be seen."""
    raw = b""
    for path in [*JS_PAGES, "/", "/group/post/2", "/group/post/4", "/static/common.js"]:
        with urllib.request.urlopen(site.url(path), timeout=10) as response:
            raw += response.read()
    text = raw.decode("utf-8")
    for path in JS_PAGES:
        for name in PLANTED[path]:
            assert name not in text, f"{name} ({path}) is visible without JavaScript"
    assert "Preben" not in text and "Annelise" not in text


@pytest.mark.parametrize("path", JS_PAGES)
def test_every_planted_name_is_shown(browser: BrowserThread, site: JsSite, path: str) -> None:
    rendered = do_render(browser, site.url(path))
    text = visible_text(rendered.html)
    missing = [n for n in PLANTED[path] if n not in text]
    assert missing == [], f"{path}: not shown after expansion: {missing}\n" + "\n".join(map(str, rendered.actions))
    assert rendered.actions[-1].kind == "stop"
    assert rendered.actions[-1].detail == "nothing more to show"


def test_group_posts_that_arrive_late_are_waited_for(site: JsSite) -> None:
    """The first posts come 1.5 s after load, by fetch(): the first wait holds until they are in."""
    with JsSite(delay=1.5) as slow:
        bt = BrowserThread(Browser(timeout=30, load_timeout=15))
        try:
            rendered = do_render(bt, slow.url("/group/"), ExpandLimits(max_steps=0))
        finally:
            bt.close()
    text = visible_text(rendered.html)
    assert "Annelise Vestergaard Krogh" in text
    assert kinds(rendered.actions) == ["wait", "stop"]
    assert rendered.actions[-1].detail == "step limit (0) reached"
    # The posts' fetch takes 1.5 s from the page's start: the first wait ended after it, however
    # much of that time the load event took on a busy machine.
    assert (rendered.actions[0].at - rendered.started_at).total_seconds() >= 1.4


def test_window_scrolls_are_recorded(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/feed/"))
    scrolls = [a for a in rendered.actions if a.kind == "scroll"]
    assert len(scrolls) >= 3 and all(a.target == "window" for a in scrolls)
    heights = [int(a.detail.split("height ")[1].rstrip(")")) for a in scrolls]
    assert heights == sorted(heights) and heights[-1] > heights[0]


def test_inner_container_is_scrolled_not_the_window(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/inner/"))
    scrolls = [a for a in rendered.actions if a.kind == "scroll"]
    assert scrolls and {a.target for a in scrolls} == {"div#pane"}


def test_show_more_button_is_clicked_until_it_goes_but_links_never(browser: BrowserThread, site: JsSite) -> None:
    before = len(site.requests)
    rendered = do_render(browser, site.url("/more/"))
    clicks = [a for a in rendered.actions if a.kind == "click"]
    assert [a.target for a in clicks] == ["vis flere"] * 3
    assert rendered.final_url == site.url("/more/")
    assert "/plain/" not in site.requests[before:], "a 'Vis flere …' link to another page was followed"


def test_a_toggle_is_left_open(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/toggle/"))
    assert "Poul Erik Thygesen" in visible_text(rendered.html)
    assert any(a.kind == "click" and a.target == "again" for a in rendered.actions)


def test_labels_and_selectors_come_from_the_site(browser: BrowserThread, site: JsSite) -> None:
    no_labels = ExpandLimits.from_settings(Expand(show_more=[], max_seconds=60))
    rendered = do_render(browser, site.url("/comments/"), no_labels)
    assert "Preben Kragh Nielsen" not in visible_text(rendered.html)
    assert "click" not in kinds(rendered.actions)

    by_selector = ExpandLimits.from_settings(Expand(show_more=[], selectors=["#toggle"], max_seconds=60))
    rendered = do_render(browser, site.url("/comments/"), by_selector)
    assert "Preben Kragh Nielsen" in visible_text(rendered.html)
    assert [a.target for a in rendered.actions if a.kind == "click"] == ["#toggle"]


def test_step_limit(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/feed/"), ExpandLimits(max_steps=1))
    assert kinds(rendered.actions).count("scroll") == 1
    assert rendered.actions[-1].detail == "step limit (1) reached"
    assert "Torben Lykke Andersen" not in visible_text(rendered.html)


def test_height_limit(browser: BrowserThread, site: JsSite) -> None:
    rendered = do_render(browser, site.url("/feed/"), ExpandLimits(max_height=1000))
    assert rendered.actions[-1].detail == "height limit (1000 px) reached"
    assert "scroll" not in kinds(rendered.actions)


def test_a_page_that_never_stops_is_cut_off_by_the_limits(browser: BrowserThread, site: JsSite) -> None:
    t0 = time.monotonic()
    rendered = do_render(browser, site.url("/endless/"), ExpandLimits(max_seconds=4))
    elapsed = time.monotonic() - t0
    # load_timeout 2 s + expansion 4 s + the last wait (SETTLE_CAP_S) + reading; never a hang
    # (the page itself would go on for ever). Slack for a busy machine.
    assert elapsed < 2 + 4 + SETTLE_CAP_S + 20
    assert rendered.cut_off is not None and "had not finished loading" in rendered.cut_off
    assert rendered.actions[0].target == "load"
    assert rendered.actions[-1].kind == "stop" and "limit" in rendered.actions[-1].detail
    assert "Karsten Holm Friis" in visible_text(rendered.html)


def test_html_that_never_stops_arriving_is_read_as_it_stands(browser: BrowserThread, site: JsSite) -> None:
    t0 = time.monotonic()
    rendered = do_render(browser, site.url("/stream/"), ExpandLimits(max_seconds=3))
    assert time.monotonic() - t0 < 2 + 3 + SETTLE_CAP_S + 20
    assert rendered.cut_off is not None
    text = visible_text(rendered.html)
    assert "Birgit Skov Iversen" in text and "Linje 1" in text


def test_expand_alone_on_a_page_the_caller_opened(browser: BrowserThread, site: JsSite) -> None:
    """The evidence capture drives its own page and calls expand() directly."""

    async def go(session: BrowserSession) -> tuple[list[Action], str]:
        async with session.page() as page:
            watch = NetworkWatch(page)
            await page.goto(site.url("/more/"))
            actions = await expand(page, ExpandLimits(max_seconds=60), watch)
            watch.stop()
            return actions, await page.content()

    actions, html = browser.run(go)
    assert "Susanne Bach Winther" in visible_text(html)
    assert all(str(a).endswith(a.detail) and "Z " in str(a) for a in actions)
