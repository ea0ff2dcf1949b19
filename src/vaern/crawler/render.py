"""Render one URL in a real browser the way a person sees it, and read the result: the one path
that crawl rendering and evidence capture share.

Controlled by the `browser:` config (`timeout` per step, `load_timeout`, `page_timeout`, viewport
and locale), the site's `ready:` limits (crawler/readiness.py) and its `expand:` limits
(crawler/expand.py).

`load(session, url, …)` opens a fresh browser context (service workers blocked), navigates
(returning as soon as the server answers), waits a bounded time for the load event (a page that
never finishes loading is read as it stands, and says so), waits until the page is ready (its
content stable: no requests, no timers, no DOM changes, the same text twice, no loading
placeholder), expands it within limits (scrolling a view at a time, clicking "show more" until
nothing new comes, harvesting what a virtualised feed drops from the DOM), and reads it back:
HTML (shadow roots included), title, final URL, status, response headers, the links in the
rendered DOM, the frames, what was harvested, and every action taken. The page stays open as a
`Loaded`: evidence capture (crawler/capture.py) takes its screenshot, DOM and WARC from this very
page, with no second load. `render()` is `load()` and close.

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
from vaern.crawler.readiness import PageAgent, Readiness, ReadyCheck, ReadyLimits
from vaern.crawler.warc import NetworkRecorder

if TYPE_CHECKING:
    from playwright.async_api import Page
    from playwright.async_api import Response as PlaywrightResponse

# The expansion's last word when the page was read whole: nothing more came.
COMPLETE = "nothing more to show"


class RenderError(Exception):
    """A URL could not be rendered at all (no answer, a download, a browser failure)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


@dataclass(frozen=True)
class Dropped:
    """A block of text a virtualised page removed from its DOM while it was being expanded, with
    its links and where the page was scrolled when it was shown: [window y, inner scroller's
    CSS path or None, its scrollTop]."""

    text: str
    links: tuple[str, ...]
    position: tuple[Any, ...]


@dataclass(frozen=True)
class FrameRead:
    """A child frame of the page (a comment widget, an embedded post): its address and DOM."""

    url: str
    html: str


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
    actions: tuple[Action, ...]  # readiness, expansion, and requests the guard refused, in time order
    started_at: datetime
    seconds: float
    cut_off: str | None = None  # why the page was read before it finished loading, if it was
    blocked: tuple[str, ...] = field(default_factory=tuple)  # requests the guard proxy refused
    # Read whole: ready (content stable) and expanded until nothing more came. Only such a read
    # may count a name's absence (pipeline.py); otherwise `unready` says why not.
    ready: bool = True
    unready: str | None = None
    frames: tuple[FrameRead, ...] = ()
    dropped: tuple[Dropped, ...] = ()
    redirects: tuple[tuple[str, int], ...] = ()  # HTTP redirects before the document: (url, status)


async def render(
    session: BrowserSession,
    url: str,
    limits: ExpandLimits | None = None,
    *,
    user_agent: str | None = None,
    headers: Mapping[str, str] | None = None,
    ready: ReadyLimits | None = None,
) -> Rendered:
    """Render `url` in a fresh context, expand it within `limits` and read it back.

    Every connection the page makes passes the session's guard proxy; refused ones are listed in
    `Rendered.blocked`. Raises RenderError if nothing could be read, if the page's own document
    was refused or cut at the size limit, if the browser showed an error page, or if Chromium
    grew past `browser.max_memory_mb`. Bounded as a whole by `browser.page_timeout`.
    """
    loaded = await load(session, url, limits, user_agent=user_agent, headers=headers, ready=ready)
    try:
        assert loaded.rendered is not None
        return loaded.rendered
    finally:
        await loaded.close()


# How often a page that navigates itself (a reload, a script redirect) is read again before it
# is read as it stands, and the pause that lets its next document arrive.
SELF_NAVIGATION_READS = 8


class Loaded:
    """A page loaded, made ready, expanded and read (`rendered`), still open for evidence.

    `close()` closes its context (the session closes any left at its end). `navigation_error`
    is set instead of `rendered` when `load(tolerate_failure=True)` could not reach the page."""

    def __init__(self, session: BrowserSession, page: Page, url: str, recorder: NetworkRecorder) -> None:
        self.session, self.page, self.url, self.recorder = session, page, url, recorder
        self.record: Listener = session.network_record(page)
        self.network = NetworkWatch(page)
        self.response: PlaywrightResponse | None = None
        self.actions: list[Action] = []
        self.rendered: Rendered | None = None
        self.readiness: Readiness | None = None
        self.navigation_error: str | None = None
        self.started_at = clock.now()
        self.agent: PageAgent | None = None
        self.kind: dict[str, object] = {}  # how its context was opened (BrowserSession.open_page)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed or self.page.is_closed()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.network.stop()
        self.recorder.detach()
        # The agent goes with the page's context (nothing of it is in the page's DOM).
        self.session.close_page(self.page)


async def load(
    session: BrowserSession,
    url: str,
    limits: ExpandLimits | None = None,
    *,
    user_agent: str | None = None,
    headers: Mapping[str, str] | None = None,
    ready: ReadyLimits | None = None,
    viewport: tuple[int, int] | None = None,
    ignore_https_errors: bool = False,
    max_response_bytes: int | None = None,
    max_body_bytes: int | None = None,
    load_timeout: float | None = None,
    tolerate_failure: bool = False,
) -> Loaded:
    """Load, make ready, expand and read `url`; the page stays open (see `Loaded`).

    Raises RenderError as `render` does; with `tolerate_failure` (evidence of a removal: a page
    that no longer answers is itself the evidence), a navigation that fails gives a `Loaded`
    whose `navigation_error` says why, showing Chromium's error page. `load_timeout` instead of
    `browser.load_timeout`; `max_body_bytes` caps each body in the network record (WARC).
    """
    settings = session.settings
    limits = limits or ExpandLimits(step_timeout=settings.timeout)
    ready = ready or ReadyLimits(step_timeout=settings.timeout)
    kind: dict[str, object] = {"user_agent": user_agent, "headers": headers, "viewport": viewport,
            "ignore_https_errors": ignore_https_errors, "max_response_bytes": max_response_bytes}
    page = await session.open_page(ahead=False, **kind)  # type: ignore[arg-type]
    recorder = NetworkRecorder(max_body=max_body_bytes or max_response_bytes or 25 * 1024 * 1024,
                               login=session.login)
    recorder.attach(page)
    loaded = Loaded(session, page, url, recorder)
    loaded.kind = kind
    try:
        await asyncio.wait_for(
            session.within_memory(_load(loaded, settings, limits, ready, load_timeout, tolerate_failure)),
            settings.page_timeout,
        )
    except BrowserOutgrown as exc:
        await loaded.close()
        raise RenderError(url, str(exc)) from None
    except TimeoutError:
        await loaded.close()
        why = f"no result within {settings.page_timeout:g} s (browser.page_timeout)"
        raise RenderError(url, why) from None
    except BaseException:
        await loaded.close()
        raise
    return loaded


async def _load(
    loaded: Loaded, settings: Browser, limits: ExpandLimits, ready: ReadyLimits, load_timeout: float | None,
    tolerate_failure: bool,
) -> None:
    from playwright.async_api import Error as PlaywrightError

    page, url, record, session = loaded.page, loaded.url, loaded.record, loaded.session
    t0 = time.monotonic()
    step = settings.timeout
    actions = loaded.actions
    wait_load = load_timeout if load_timeout is not None else settings.load_timeout
    try:
        try:
            response = await asyncio.wait_for(page.goto(url, wait_until="commit", timeout=step * 1000), step + 1)
        except PlaywrightError as exc:
            why = _refused_or(record, url, _first_line(exc))
            if tolerate_failure and not why.startswith("blocked:"):
                loaded.navigation_error = why
                return
            raise RenderError(url, why) from None
        except TimeoutError:
            raise RenderError(url, f"no answer within {step:g} s (browser.timeout)") from None
        if response is None:
            raise RenderError(url, "the browser got no response")
        loaded.response = response
        # The headers' round trip to the browser while the page goes on loading.
        response_headers, cut_off = await _together(
            _headers(response), _wait_for_load(page, wait_load, actions)
        )
        if session.login is not None:
            response_headers = session.login.redact_mapping(response_headers)
        status = response.status
        if tolerate_failure:
            problem = record.document_problem(url, page.url, response_headers)
            if problem is not None and problem.startswith("no connection"):
                # The guard proxy could not connect on the page's behalf: the page no longer answers.
                loaded.navigation_error, loaded.response = problem, None
                return
        # The page now waits on its own requests: a good moment to open the next page's context,
        # for a page of the same kind (a crawl's next page, say).
        session.open_ahead(**loaded.kind)  # type: ignore[arg-type]
        check: ReadyCheck | None = None
        restless = None
        for attempt in range(SELF_NAVIGATION_READS):
            try:
                dropped = []
                if attempt < SELF_NAVIGATION_READS - 1:
                    loaded.agent = await PageAgent.attach(page, session.probe, ready)
                    check = ReadyCheck(loaded.agent, loaded.network, ready)
                    actions.extend(await expand(page, limits, loaded.network, probe=session.probe, ready=check))
                else:
                    # It never stays on one document long enough to be ready: read it as it stands.
                    check = None
                    restless = f"the page navigated by itself {attempt} times; read as it stood"
                    actions.append(Action(clock.now(), "stop", "", restless))
                # page.content() runs in Playwright's own script world, where the page's scripts
                # cannot change how the DOM is serialised; a page with shadow roots is serialised
                # with them (declarative shadow DOM), which only the page's world can do.
                # The title, links and what a virtualised feed dropped, in the same round trip.
                read = (loaded.agent.handle.evaluate(f"(a) => [...({_TITLE_AND_LINKS_JS})(), a.dropped()]")
                        if loaded.agent is not None and check is not None else page.evaluate(_TITLE_AND_LINKS_JS))
                html, (title, hrefs, shadows, *rest) = await asyncio.wait_for(
                    _together(page.content(), read), step
                )
                dropped = [(t, list(links), list(pos)) for t, links, pos in (rest[0] if rest else [])]
                if shadows:
                    html = await asyncio.wait_for(page.evaluate(SHADOW_HTML_JS), step)
                frames = await _frames(page, step)
                break
            except PlaywrightError as exc:
                # The page navigated (reloaded, redirected itself) while it was being read:
                # read the document it moved to, once that has loaded.
                if not _navigated(exc) or attempt == SELF_NAVIGATION_READS - 1:
                    raise
                actions.append(Action(clock.now(), "wait", "navigation",
                                      f"the page navigated by itself to {page.url}; read again"))
                await _wait_for_load(page, wait_load, actions)
        final_url = page.url
    except TimeoutError:
        # A document cut at the size limit or refused by the guard can leave the page hanging:
        # that is the reason, not the wait.
        cut = record.document_problem(url, page.url, {})
        raise RenderError(url, cut or f"the page stopped answering (no reply within {step:g} s)") from None
    except PlaywrightError as exc:
        raise RenderError(url, record.document_problem(url, page.url, {}) or _first_line(exc)) from None
    problem = record.document_problem(url, final_url, response_headers)
    if problem is not None:
        raise RenderError(url, problem)
    blocked = [Action(clock.now(), "blocked", target, reason)
               for target, reason in zip(record.refused_urls, record.refusals, strict=True)]
    readiness = check.first if check is not None else None
    loaded.readiness = readiness
    stop = next((a.detail for a in reversed(actions) if a.kind == "stop" and a.target != "load"), "")
    unready = None
    if restless is not None:
        unready = restless
    elif readiness is not None and not readiness.ready:
        unready = readiness.reason
    elif stop != COMPLETE:
        unready = f"expansion stopped before the end: {stop}" if stop else "not expanded"
    shown = set(_normalise(html))
    loaded.rendered = Rendered(
        url=url,
        final_url=final_url,
        status=status,
        headers=response_headers,
        html=html,
        title=title,
        links=_clean_links([*hrefs, *(link for _t, links, _p in dropped for link in links)]),
        # Refused requests are part of the record too (they change what the page shows).
        actions=tuple(sorted([*actions, *blocked], key=lambda a: a.at)),
        started_at=loaded.started_at,
        seconds=time.monotonic() - t0,
        cut_off=cut_off,
        blocked=tuple(record.refused_urls),
        ready=unready is None,
        unready=unready,
        frames=frames,
        dropped=tuple(Dropped(t, tuple(links), tuple(pos)) for t, links, pos in dropped
                      if not _contained(t, shown, html)),
        redirects=await _redirects(response),
    )


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _contained(text: str, _shown: set[str], html: str) -> bool:
    """Whether a harvested block is still in the page (then it is read with it, not again)."""
    return _normalise(text)[:200] in _normalise(re.sub(r"<[^>]*>", " ", html))


async def _frames(page: Page, step: float) -> tuple[FrameRead, ...]:
    """Every child frame's DOM (same origin or not: each is read in its own document)."""
    out = []
    for frame in page.frames[1:]:
        if frame.is_detached() or not frame.url.startswith(("http://", "https://")):
            continue
        try:
            out.append(FrameRead(frame.url, await asyncio.wait_for(frame.content(), step)))
        except Exception:  # a frame that went away or never answered has nothing to read
            continue
    return tuple(out)


async def _redirects(response: PlaywrightResponse) -> tuple[tuple[str, int], ...]:
    chain: list[tuple[str, int]] = []
    previous = response.request.redirected_from
    while previous is not None:
        earlier = await previous.response()
        chain.insert(0, (previous.url, earlier.status if earlier else 0))
        previous = previous.redirected_from
    return tuple(chain)


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


# The title, every link's absolute address, and whether any element has an open shadow root.
_TITLE_AND_LINKS_JS = """
() => [document.title, Array.from(document.querySelectorAll('a[href], area[href]'), (e) => e.href),
       Array.from(document.querySelectorAll('*')).some((e) => e.shadowRoot)]
"""

# The document with its open shadow roots, as declarative shadow DOM (`<template shadowrootmode>`).
SHADOW_HTML_JS = """
() => {
  const roots = [];
  const walk = (node, depth) => {
    if (depth > 20) return;
    for (const el of node.querySelectorAll('*')) {
      if (el.shadowRoot) { roots.push(el.shadowRoot); walk(el.shadowRoot, depth + 1); }
    }
  };
  walk(document, 0);
  const html = document.documentElement;
  const quote = (v) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  const attrs = Array.from(html.attributes, (a) => ' ' + a.name + '="' + quote(a.value) + '"').join('');
  const doctype = document.doctype ? '<!DOCTYPE ' + document.doctype.name + '>' : '';
  const inner = html.getHTML({serializableShadowRoots: true, shadowRoots: roots});
  return doctype + '<html' + attrs + '>' + inner + '</html>';
}
"""


async def _wait_for_load(page: Page, seconds: float, actions: list[Action]) -> str | None:
    """Wait for the load event up to `seconds`; past that, read the page as it is."""
    from playwright.async_api import Error as PlaywrightError

    try:
        await page.wait_for_load_state("load", timeout=seconds * 1000)
        return None
    except PlaywrightError:
        why = f"the page had not finished loading after {seconds:g} s (browser.load_timeout)"
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
