"""Render one URL in a real browser the way a person sees it, and read the result.

Controlled by the `browser:` config (`timeout` per step, `load_timeout`, `page_timeout`, viewport
and locale) and the site's `expand:` limits (crawler/expand.py).

`render(session, url, limits)`: a fresh browser context (service workers blocked), navigation
that returns as soon as the server answers, then a bounded wait for the load event (a page that
never finishes loading is read as it stands, and says so), bounded expansion, and the rendered
DOM read back: HTML, title, final URL, status, response headers, the links in the rendered DOM,
and every action taken.

Every connection of the page goes through the session's guard proxy (crawler/guardproxy.py); a
page whose own document the guard refused or cut, or that ends on Chromium's error page, is a
RenderError, never content. A page that reloads or redirects itself is read once it settles on a
document (at most `SELF_NAVIGATION_READS` times). A page whose Chromium grows past
`browser.max_memory_mb` is closed and fails; the crawl goes on.

Also here: `needs_browser(html)`, the pure decision behind `render: auto` (is this HTTP page an
empty shell that JavaScript fills in?).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag

from vaern import clock
from vaern.config import Browser
from vaern.crawler.browser import BrowserOutgrown, BrowserSession
from vaern.crawler.expand import Action, ExpandLimits, NetworkWatch, expand
from vaern.crawler.guardproxy import Listener

if TYPE_CHECKING:
    from playwright.async_api import Page
    from playwright.async_api import Response as PlaywrightResponse


class RenderError(Exception):
    """A URL could not be rendered at all (no answer, a download, a browser failure)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


@dataclass(frozen=True)
class Rendered:
    """What the browser showed for one URL, after expansion."""

    url: str  # as asked for
    final_url: str  # after redirects (and any navigation a click caused)
    status: int
    headers: dict[str, str]
    html: str
    title: str
    links: tuple[str, ...]  # absolute http(s) links in the rendered DOM, without fragments, in order
    actions: tuple[Action, ...]  # expansion, and requests the guard refused, in time order
    started_at: datetime
    seconds: float
    cut_off: str | None = None  # why the page was read before it finished loading, if it was
    blocked: tuple[str, ...] = field(default_factory=tuple)  # requests the guard proxy refused


async def render(
    session: BrowserSession,
    url: str,
    limits: ExpandLimits | None = None,
    *,
    user_agent: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Rendered:
    """Render `url` in a fresh context, expand it within `limits` and read it back.

    Every connection the page makes passes the session's guard proxy; refused ones are listed in
    `Rendered.blocked`. Raises RenderError if nothing could be read, if the page's own document
    was refused or cut at the size limit, if the browser showed an error page, or if Chromium
    grew past `browser.max_memory_mb`. Bounded as a whole by `browser.page_timeout`.
    """
    settings = session.settings
    limits = limits or ExpandLimits(step_timeout=settings.timeout)
    try:
        return await asyncio.wait_for(
            session.within_memory(_render(session, settings, url, limits, user_agent, headers)),
            settings.page_timeout,
        )
    except BrowserOutgrown as exc:
        raise RenderError(url, str(exc)) from None
    except TimeoutError:
        why = f"no result within {settings.page_timeout:g} s (browser.page_timeout)"
        raise RenderError(url, why) from None


# How often a page that navigates itself (a reload, a script redirect) is read again before it
# is read as it stands, and the pause that lets its next document arrive.
SELF_NAVIGATION_READS = 8


async def _render(
    session: BrowserSession,
    settings: Browser,
    url: str,
    limits: ExpandLimits,
    user_agent: str | None,
    headers: Mapping[str, str] | None,
) -> Rendered:
    from playwright.async_api import Error as PlaywrightError

    started_at = clock.now()
    t0 = time.monotonic()
    step = settings.timeout
    async with session.page(user_agent=user_agent, headers=headers, ahead=False) as page:
        record = session.network_record(page)
        network = NetworkWatch(page)
        try:
            try:
                response = await asyncio.wait_for(
                    page.goto(url, wait_until="commit", timeout=step * 1000), step + 1
                )
            except PlaywrightError as exc:
                raise RenderError(url, _refused_or(record, url, _first_line(exc))) from None
            except TimeoutError:
                raise RenderError(url, f"no answer within {step:g} s (browser.timeout)") from None
            if response is None:
                raise RenderError(url, "the browser got no response")
            actions: list[Action] = []
            # The headers' round trip to the browser while the page goes on loading.
            response_headers, cut_off = await _together(
                _headers(response), _wait_for_load(page, settings, actions)
            )
            status = response.status
            # The page now waits on its own requests: a good moment to open the next page's context.
            session.open_ahead(user_agent=user_agent, headers=headers)
            for attempt in range(SELF_NAVIGATION_READS):
                try:
                    actions.extend(await expand(page, limits, network))
                    # Both at once, one round trip. page.content() runs in Playwright's own script
                    # world, where the page's scripts cannot change how the DOM is serialised.
                    html, (title, hrefs) = await asyncio.wait_for(
                        _together(page.content(), page.evaluate(_TITLE_AND_LINKS_JS)), step
                    )
                    break
                except PlaywrightError as exc:
                    # The page navigated (reloaded, redirected itself) while it was being read:
                    # read the document it moved to, once that has loaded.
                    if not _navigated(exc) or attempt == SELF_NAVIGATION_READS - 1:
                        raise
                    actions.append(Action(clock.now(), "wait", "navigation",
                                          f"the page navigated by itself to {page.url}; read again"))
                    await _wait_for_load(page, settings, actions)
            final_url = page.url
        except TimeoutError:
            raise RenderError(url, f"the page stopped answering (no reply within {step:g} s)") from None
        except PlaywrightError as exc:
            raise RenderError(url, _first_line(exc)) from None
        finally:
            network.stop()
        problem = record.document_problem(url, final_url, response_headers)
        if problem is not None:
            raise RenderError(url, problem)
    blocked = [Action(clock.now(), "blocked", target, reason)
               for target, reason in zip(record.refused_urls, record.refusals, strict=True)]
    return Rendered(
        url=url,
        final_url=final_url,
        status=status,
        headers=response_headers,
        html=html,
        title=title,
        links=_clean_links(hrefs),
        # Refused requests are part of the record too (they change what the page shows).
        actions=tuple(sorted([*actions, *blocked], key=lambda a: a.at)),
        started_at=started_at,
        seconds=time.monotonic() - t0,
        cut_off=cut_off,
        blocked=tuple(record.refused_urls),
    )


def _together(*calls: Awaitable[Any]) -> asyncio.Future[list[Any]]:
    """`asyncio.gather`, whose outcome is always looked at: when the page is closed under it (the
    memory ceiling, a timeout), its cancellation is not reported as an error nobody retrieved."""
    joined = asyncio.gather(*calls)
    joined.add_done_callback(lambda f: f.cancelled() or f.exception())
    return joined


def _navigated(exc: Exception) -> bool:
    text = str(exc)
    return "Execution context was destroyed" in text or "navigat" in text


def _refused_or(record: Listener, url: str, why: str) -> str:
    """The guard's reason when the guard refused `url` itself, else `why`."""
    refused = record.refusal_of(url)
    return f"blocked: {refused}" if refused is not None else why


# The title and every link's absolute address, in one call.
_TITLE_AND_LINKS_JS = """
() => [document.title, Array.from(document.querySelectorAll('a[href], area[href]'), (e) => e.href)]
"""


async def _wait_for_load(page: Page, settings: Browser, actions: list[Action]) -> str | None:
    """Wait for the load event up to `browser.load_timeout`; past that, read the page as it is."""
    from playwright.async_api import Error as PlaywrightError

    try:
        await page.wait_for_load_state("load", timeout=settings.load_timeout * 1000)
        return None
    except PlaywrightError:
        why = f"the page had not finished loading after {settings.load_timeout:g} s (browser.load_timeout)"
        actions.append(Action(clock.now(), "stop", "load", why + "; read as it stood"))
        return why


async def _headers(response: PlaywrightResponse) -> dict[str, str]:
    try:
        return dict(await response.all_headers())
    except Exception:
        return dict(response.headers)


def _clean_links(hrefs: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for href in hrefs:
        if isinstance(href, str) and href.startswith(("http://", "https://")):
            seen.setdefault(urldefrag(href).url, None)
    return tuple(seen)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# render: auto — does this site need a browser?

# Mount points of single-page apps that stay empty until scripts run.
_APP_ROOTS = ("root", "app", "__next", "__nuxt", "___gatsby", "svelte", "main-app", "application")
_APP_TAGS = "//app-root | //*[@ng-app] | //*[@data-reactroot] | //*[@aria-busy='true']"
_MIN_TEXT = 200  # characters of visible text below which a page with scripts is "near-empty"
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class RenderDecision:
    """How a page (and so its site) should be fetched, and why.

    `verdict`: "browser" (JavaScript is needed), "http" (it is not), or "probe" (the HTML cannot
    tell: render the page once and `compare_renderings`).
    """

    verdict: str
    reason: str

    @property
    def browser(self) -> bool:
        return self.verdict == "browser"


def needs_browser(html: str | bytes, text: str | None = None) -> RenderDecision:
    """Decide from an HTTP response's HTML whether JavaScript must run to see the page.

    "browser" when the page has scripts and (a) its visible text is near-empty, or (b) a
    `<noscript>` mentions JavaScript, or (c) it is an app shell: a known mount point (`#root`,
    `#app`, `#__next`, …) or a busy region (`aria-busy="true"`) with no text of its own.
    "http" when it has no scripts at all. Otherwise "probe". `text` is the page's visible text
    if the caller already extracted it.
    """
    import lxml.etree

    from vaern.crawler.htmltree import parse_html

    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")
    if not html.strip():
        return RenderDecision("http", "empty response")
    try:
        doc = parse_html(html)  # no nesting depth hides the page's text (crawler/htmltree.py)
    except (ValueError, lxml.etree.ParserError):
        return RenderDecision("http", "not parseable as HTML")
    if not doc.xpath("//script"):
        return RenderDecision("http", "no scripts")

    for noscript in doc.xpath("//noscript"):
        said = " ".join(noscript.text_content().split())
        if "javascript" in said.lower():
            return RenderDecision("browser", f"<noscript> says: {said[:80]}")

    mounts = [m for root_id in _APP_ROOTS for m in doc.xpath(f'//*[@id="{root_id}"]')] + doc.xpath(_APP_TAGS)
    for mount in mounts:
        if len(" ".join(mount.text_content().split())) < 20:
            name = f"#{mount.get('id')}" if mount.get("id") else f"<{mount.tag}>"
            return RenderDecision("browser", f"app shell: {name} is empty until scripts run")

    if text is None:
        for dead in doc.xpath("//script | //style | //noscript | //template"):
            dead.drop_tree()
        body = doc.find("body")
        text = body.text_content() if body is not None else doc.text_content()
    visible = " ".join(text.split())
    if len(visible) < _MIN_TEXT:
        return RenderDecision("browser", f"only {len(visible)} characters of visible text, and scripts")
    return RenderDecision("probe", f"{len(visible)} characters of visible text, and scripts")


def compare_renderings(http_text: str, rendered_text: str) -> RenderDecision:
    """After a probe: does the rendered page show words the HTTP page does not have?

    "browser" when the rendered text has at least max(20, 10 % of the HTTP page's) more words
    (counted with multiplicity, so repeated posts count); else "http".
    """
    from collections import Counter

    plain = Counter(w.lower() for w in _WORD.findall(http_text))
    shown = Counter(w.lower() for w in _WORD.findall(rendered_text))
    extra = sum((shown - plain).values())
    needed = max(20, sum(plain.values()) // 10)
    if extra >= needed:
        return RenderDecision("browser", f"the browser showed {extra} words the HTML did not have")
    return RenderDecision("http", f"the browser added only {extra} words (needs {needed})")
