"""Evidence capture: each page that named someone, secured at once in a real Chromium.

Controlled by the `evidence` section of the config (viewport, timeouts, expansion budget,
`max_height`, `pdf`, `max_scrollers`, `max_response_mb`) and by `browser` (which Chromium; see
crawler/browser.py). For each page, in one browser per batch:

1. a fresh browser context (no cookies, no cache, service workers blocked so every request is
   seen), every request it makes through the SSRF guard (crawler/netguard.py, as the crawl's
   are: `network.allow_private_hosts`), a recorder on the network (crawler/warc.py);
2. load the page and wait for the network to go quiet;
3. bounded expansion: scroll to the end until the height stops growing (lazy content loads),
   then back to the top — every action logged;
4. the rendered DOM and its text, read before anything else happens;
5. the full-page screenshot (tiles beyond Chromium's limit) and each inner scrolling container
   scrolled through (crawler/fullpage.py); optionally a PDF;
6. the provenance: times (UTC), final URL and redirect chain, status, server IP, TLS details and
   the certificate chain (PEM), versions, user agent, viewport, actions, matches, the site's
   config, the host's clock synchronisation, the post's author, date and id (crawler/provenance.py);
7. one WARC holding every exchange plus our artefacts and the provenance;
8. a SHA-256 of every file, computed here, before anything is stored.

The capture reads the page and scrolls it, as a reader would; it never edits the DOM (no
highlighting: names are matched on our copy of the text). A failure on one page is returned as a
`CaptureFailure` and the batch goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import platform
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from playwright.async_api import Browser, Page, Response, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from vaern import clock
from vaern.config import Config, Evidence
from vaern.crawler import fullpage
from vaern.crawler.browser import MARKER_ENV, NO_BYPASS, launch_options, within_memory
from vaern.crawler.guardproxy import GuardProxy, Listener
from vaern.crawler.netguard import NetGuard
from vaern.crawler.provenance import clock_sync, post_metadata, tls_chain
from vaern.crawler.warc import NetworkRecorder, Resource, write_warc
from vaern.domain import Capture, CapturedFile, CaptureFailure, CaptureRequest

__all__ = ["Capture", "CaptureFailure", "CaptureRequest", "capture_pages"]

LIMITATIONS = (
    "A hash proves that these bytes have not changed since they were captured; it does not prove "
    "what the server meant, nor that the server was not itself showing something false.",
    "Response bodies in the WARC are as Chromium delivered them: decoded from any content "
    "encoding (gzip, br); the original encoding header is kept as X-Archive-Orig-Content-Encoding. "
    "The HTTP version of each exchange is not known to the recorder and is written as HTTP/1.1.",
    "The page was scrolled before the screenshot so that lazily loaded content would appear; "
    "those actions are listed. Content that needs a click, a login or a consent dialog may be missing.",
    "Inner scrolling containers are captured by scrolling them and stitching the views; sticky "
    "elements inside them may repeat. Horizontal scrolling is not followed.",
)


def capture_pages(config: Config, requests: Sequence[CaptureRequest]) -> list[Capture | CaptureFailure]:
    """Capture each request in one Chromium; results in the same order. Never raises per page."""
    if not requests:
        return []

    def run() -> list[Capture | CaptureFailure]:
        try:
            return asyncio.run(_capture_all(config, requests))
        except Exception as exc:  # Playwright itself would not start: every page fails, saying why
            return [_failure(r, exc) for r in requests]

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    # Called from inside a running event loop (a Twisted asyncio reactor): use a thread of our own.
    box: list[list[Capture | CaptureFailure]] = []
    worker = threading.Thread(target=lambda: box.append(run()))
    worker.start()
    worker.join()
    return box[0]


async def _capture_all(config: Config, requests: Sequence[CaptureRequest]) -> list[Capture | CaptureFailure]:
    results: list[Capture | CaptureFailure] = []
    proxy = GuardProxy(NetGuard(config.network.allow_private_hosts),
                       default_limit=int(config.evidence.max_response_mb * 1024 * 1024),
                       connect_timeout=config.evidence.page_timeout)
    try:
        options = launch_options(config.browser, proxy=proxy.start().url)
    except Exception as exc:  # no Chromium at all: every page fails, and says why
        proxy.close()
        return [_failure(r, exc) for r in requests]
    with proxy:
        return await _capture_batch(config, requests, proxy, options, results)


async def _capture_batch(
    config: Config, requests: Sequence[CaptureRequest], proxy: GuardProxy, options: dict[str, Any],
    results: list[Capture | CaptureFailure],
) -> list[Capture | CaptureFailure]:
    async with async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(**options)
        except Exception as exc:
            return [_failure(r, exc) for r in requests]
        tools = _tool_versions(browser, options)
        tools["clock_sync"] = clock_sync()  # once per batch: the host's account of its clock
        marker = options["env"][MARKER_ENV]
        budget = config.evidence.page_timeout * 3 + config.evidence.expand_seconds + 30
        try:
            for request in requests:
                if not browser.is_connected():
                    # The last page crashed or exhausted Chromium; the next page gets a new one.
                    browser = await pw.chromium.launch(**options)
                try:
                    results.append(await asyncio.wait_for(within_memory(
                        capture_one(browser, proxy, config, request, tools), marker, config.browser.max_memory_mb,
                    ), budget))
                except Exception as exc:
                    results.append(_failure(request, exc))
        finally:
            if browser.is_connected():
                await browser.close()
    return results


def _failure(request: CaptureRequest, exc: BaseException) -> CaptureFailure:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CaptureFailure(request.url, request.site_id, request.reason, f"{type(exc).__name__}: {message}",
                          clock.now())


async def capture_one(
    browser: Browser, proxy: GuardProxy, config: Config, request: CaptureRequest,
    tools: dict[str, Any] | None = None,
) -> Capture:
    """One page, the numbered recipe of the module docstring. `browser` was launched with
    `proxy` as its proxy (launch_options); this page's context gets a port of its own on it."""
    ev = config.evidence
    tools = tools or _tool_versions(browser, {})
    # 1.
    await proxy.guard.check_async(request.url)  # a page the crawler may not fetch is not opened here either
    listener = await proxy.open_listener()
    context = await browser.new_context(
        viewport={"width": ev.viewport_width, "height": ev.viewport_height},
        service_workers="block",
        ignore_https_errors=True,  # a bad certificate must not stop the evidence; its details are recorded
        accept_downloads=False,
        proxy={"server": listener.url, "bypass": NO_BYPASS},
    )
    try:
        page = await context.new_page()
        recorder = NetworkRecorder(max_body=int(ev.max_response_mb * 1024 * 1024))
        recorder.attach(page)
        inflight = InFlight(page)
        try:
            return await _capture_in(page, config, request, recorder, inflight, tools, listener, proxy.guard)
        except PlaywrightError:
            # A script took the page elsewhere while it was being captured: if the guard refused
            # where it went, that is the reason, not the browser's "context was destroyed".
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_load_state("domcontentloaded", timeout=config.evidence.page_timeout * 1000)
            problem = listener.document_problem(request.url, page.url, {})
            if problem is not None:
                raise NotTheSitesPage(f"{request.url}: {problem}") from None
            raise
    finally:
        await context.close()
        await proxy.close_listener_async(listener)


async def _capture_in(
    page: Page, config: Config, request: CaptureRequest, recorder: NetworkRecorder, inflight: InFlight,
    tools: dict[str, Any], listener: Listener, guard: NetGuard | None = None,
) -> Capture:
    ev = config.evidence
    started = clock.now()
    actions: list[dict[str, Any]] = []
    notes: list[str] = []

    # 2.
    navigation_error = None
    response: Response | None = None
    try:
        response = await page.goto(request.url, wait_until="domcontentloaded", timeout=ev.page_timeout * 1000)
    except Exception as exc:
        # A page that is gone may not answer at all; for a removal that state is the evidence.
        if request.reason != "removed":
            raise
        navigation_error = str(exc).splitlines()[0]
        notes.append(f"navigation failed: {navigation_error}")
    if navigation_error is None:
        problem = await _document_problem(page, request, response, listener)
        if problem is not None and problem.startswith("no connection") and request.reason == "removed":
            # The guard proxy could not connect on the page's behalf: the page no longer answers.
            navigation_error, response = problem, None
            notes.append(f"navigation failed: {navigation_error}")
        elif problem is not None:
            raise NotTheSitesPage(f"{request.url}: {problem}")
    if navigation_error is None:
        try:
            await page.wait_for_load_state("load", timeout=ev.page_timeout * 1000)
        except PlaywrightTimeoutError:
            # A resource that never finishes must not cost us the evidence: capture what is there.
            notes.append(f"the load event did not fire within {ev.page_timeout:g} s; captured as it was")
    actions.append({"at": _iso(clock.now()), "action": "load", "url": request.url})
    await inflight.quiet(150, ev.settle_seconds)  # as the crawl's expansion: 150 ms with nothing in flight

    # 3.
    await expand(page, ev, actions, inflight)

    # 4.
    if navigation_error is None:
        problem = await _document_problem(page, request, response, listener)  # a script may have led it elsewhere
        if problem is not None:
            raise NotTheSitesPage(f"{request.url}: {problem}")
    dom = (await page.content()).encode("utf-8")
    text = await page.evaluate("() => document.body ? document.body.innerText : ''")
    title = await page.title()

    # 5.
    shot = await fullpage.full_page(page, ev.max_height)
    if shot.geometry["capped"]:
        notes.append(f"page is {shot.geometry['page_height']} px tall; screenshot capped at {ev.max_height} px")
    scrollers = await fullpage.inner_scrollers(page, ev.max_scrollers, ev.max_height, actions)
    pdf = None
    if ev.pdf:
        await page.emulate_media(media="screen")
        pdf = await page.pdf(print_background=True, width=f"{ev.viewport_width}px")
        actions.append({"at": _iso(clock.now()), "action": "print to PDF (screen media)"})

    # 6.
    await recorder.finish(timeout=ev.page_timeout)
    blocked = listener.refusals
    if blocked:
        notes.append(f"{len(blocked)} request(s) the page made were refused by the SSRF guard (network.blocked)")
    main = await _main_response(response)
    served = main.get("body")
    if served is None:
        served = request.raw_html or b""
        if main:
            notes.append("the browser kept no body for the main document; html is what the crawler received")
    final_url = page.url if navigation_error is None else request.url
    tls_pem, tls_chain_error = (await tls_chain(final_url, guard) if guard is not None and navigation_error is None
                                else (None, "not read"))
    finished = clock.now()
    provenance = {
        "format": "vaern-provenance/1",
        "url": request.url,
        "final_url": final_url,
        "http_status": main.get("status"),
        "status_text": main.get("status_text"),
        "redirects": main.get("redirects", []),
        "navigation_error": navigation_error,
        "reason": request.reason,
        "detected_at": _iso(request.detected_at),
        "capture_started_at": _iso(started),
        "capture_finished_at": _iso(finished),
        "title": title,
        "server": main.get("server"),
        "tls": main.get("tls"),
        "response_headers": main.get("headers", []),
        "browser": {**tools["browser"], "user_agent": await page.evaluate("() => navigator.userAgent"),
                    "viewport": {"width": ev.viewport_width, "height": ev.viewport_height},
                    "service_workers": "blocked", "https_errors": "ignored (recorded, not blocking)"},
        "software": tools["software"],
        "collector": {"organisation": config.organisation, "hostname": socket.gethostname(),
                      "method": "automated capture on detection, no human step"},
        "actions": actions,
        "screenshot": shot.geometry,
        "inner_scrollers": [s.geometry for s in scrollers],
        "network": {"responses": len(recorder.exchanges), "failed_requests": recorder.failed, "blocked": blocked,
                    "truncated": [e.url for e in recorder.exchanges if e.truncated]},
        "matches": [dict(m) for m in request.matches],
        "site": dict(request.site_settings),
        "crawler": {"status": request.raw_status, "html_bytes": len(request.raw_html or b"")},
        "notes": notes,
        "limitations": list(LIMITATIONS),
        "tls_chain": ({"file": "tls-chain.pem", "certificates": tls_pem.count(b"BEGIN CERTIFICATE")} if tls_pem
                      else {"error": tls_chain_error}),
        "clock_sync": tools.get("clock_sync") or clock_sync(),
        "post": post_metadata(dom.decode("utf-8", "replace")),
    }

    # 7.
    screenshot = shot.png
    resources = [Resource(f"urn:screenshot:{final_url}", "image/png", screenshot),
                 Resource(f"urn:dom:{final_url}", "text/html; charset=utf-8", dom),
                 Resource(f"urn:text:{final_url}", "text/plain; charset=utf-8", text.encode("utf-8"))]
    resources += [Resource(f"urn:screenshot:scroller-{s.geometry['number']}:{final_url}", "image/png", s.png)
                  for s in scrollers]
    provenance_bytes = json.dumps(provenance, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    warc = write_warc(recorder.exchanges, resources, provenance, final_url, {
        "software": f"vaern/{tools['software']['vaern']} (warcio/{tools['software']['warcio']})",
        "format": "WARC File Format 1.1",
        "operator": config.organisation,
        "hostname": socket.gethostname(),
        "http-header-user-agent": provenance["browser"]["user_agent"],
        "description": f"evidence capture of {request.url} ({request.reason})",
    })

    # 8.
    files = [_file("screenshot", "screenshot.png", "image/png", screenshot),
             _file("html", "page.html", "text/html", served),
             _file("dom", "dom.html", "text/html; charset=utf-8", dom),
             _file("text", "text.txt", "text/plain; charset=utf-8", text.encode("utf-8")),
             _file("warc", "capture.warc.gz", "application/warc", warc),
             _file("provenance", "provenance.json", "application/json", provenance_bytes)]
    files += [_file(f"scroller-{s.geometry['number']}", f"scroller-{s.geometry['number']}.png", "image/png", s.png)
              for s in scrollers]
    if pdf is not None:
        files.append(_file("pdf", "page.pdf", "application/pdf", pdf))
    if request.raw_html is not None:
        files.append(_file("crawler_html", "crawler.html", "text/html", request.raw_html))
    if tls_pem:
        files.append(_file("tls_chain", "tls-chain.pem", "application/x-pem-file", tls_pem))
    return Capture(
        url=request.url, site_id=request.site_id, reason=request.reason, detected_at=request.detected_at,
        started_at=started, finished_at=finished, final_url=final_url, status=main.get("status"),
        files=tuple(files), text=text, title=title, notes=tuple(notes),
    )


class InFlight:
    """Counts the page's requests still in flight, to tell when the network has gone quiet.

    Playwright's own "networkidle" waits for 500 ms of silence each time; the expansion asks
    after every scroll step, so it uses a shorter window counted here.
    """

    def __init__(self, page: Page) -> None:
        self.count = 0
        self.changed = time.monotonic()
        page.on("request", lambda _: self._add(1))
        page.on("requestfinished", lambda _: self._add(-1))
        page.on("requestfailed", lambda _: self._add(-1))

    def _add(self, n: int) -> None:
        self.count = max(0, self.count + n)
        self.changed = time.monotonic()

    async def quiet(self, quiet_ms: int, timeout: float) -> bool:
        """Wait until nothing has been in flight for `quiet_ms` (at most `timeout` s); True if so."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            now = time.monotonic()
            if self.count == 0 and now - self.changed >= quiet_ms / 1000:
                return True
            if now >= deadline:
                return False
            await asyncio.sleep(0.03)


_SCROLL_STEP = """() => { window.scrollBy(0, window.innerHeight); const d = document.documentElement;
  return {y: window.scrollY, vh: window.innerHeight,
          h: Math.max(d.scrollHeight, document.body ? document.body.scrollHeight : 0)}; }"""
_HEIGHT = "() => Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"


async def expand(page: Page, ev: Evidence, actions: list[dict[str, Any]], inflight: InFlight) -> None:
    """Scroll to the end until the page stops growing, within `expand_steps` and `expand_seconds`."""
    deadline = time.monotonic() + ev.expand_seconds
    steps = 0
    while steps < ev.expand_steps and time.monotonic() < deadline:
        state = await page.evaluate(_SCROLL_STEP)
        steps += 1
        if steps == 1 and state["y"] == 0 and state["vh"] >= state["h"] - 2:
            break  # a page no taller than the window: nothing scrolled, nothing for a lazy loader to see
        # Lazy loaders fire on scroll; give them a moment to start and the network to go quiet.
        await asyncio.sleep(0.05)
        await inflight.quiet(150, min(2.0, deadline - time.monotonic()))
        height = await page.evaluate(_HEIGHT)
        if state["y"] + state["vh"] >= height - 2 and height <= state["h"]:
            break  # at the bottom, and nothing more arrived
        # A very long page: jump to the end once half the steps are spent, so the end still loads.
        if steps == ev.expand_steps // 2:
            await page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    height = await page.evaluate(_HEIGHT)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await inflight.quiet(50, 1.0)
    actions.append({"at": _iso(clock.now()), "action": "scroll to the end until the height stops growing",
                    "steps": steps, "final_height": height, "then": "scrolled back to the top"})


class NotTheSitesPage(Exception):
    """The browser ended up on something that is not the site's page: the guard's refusal of an
    address the page led to, Chromium's error page, or a document cut at the size limit. Such a
    page is never evidence."""


async def _document_problem(
    page: Page, request: CaptureRequest, response: Response | None, listener: Listener
) -> str | None:
    headers = await response.all_headers() if response is not None else {}
    return listener.document_problem(request.url, page.url, headers)


async def _main_response(response: Response | None) -> dict[str, Any]:
    """Status, headers, body, server and TLS of the main document, and the redirects before it."""
    if response is None:
        return {}
    redirects: list[dict[str, Any]] = []
    previous = response.request.redirected_from
    while previous is not None:
        earlier = await previous.response()
        redirects.insert(0, {"url": previous.url, "status": earlier.status if earlier else None,
                             "location": (await earlier.header_value("location")) if earlier else None})
        previous = previous.redirected_from
    try:
        body: bytes | None = await response.body()
    except Exception:
        body = None
    return {
        "status": response.status,
        "status_text": response.status_text,
        "headers": [[h["name"], h["value"]] for h in await response.headers_array()],
        "body": body,
        "server": await response.server_addr(),
        "tls": await response.security_details(),
        "redirects": redirects,
    }


def _tool_versions(browser: Browser, options: dict[str, Any]) -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "browser": {"name": "chromium", "version": browser.version, "executable": options.get("executable_path"),
                    "headless": options.get("headless", True), "launch_args": options.get("args", [])},
        "software": {"vaern": version("vaern"), "playwright": version("playwright"), "warcio": version("warcio"),
                     "pillow": version("pillow"), "python": platform.python_version(),
                     "os": f"{platform.system()} {platform.release()} {platform.machine()}"},
    }


def _file(kind: str, name: str, media_type: str, data: bytes) -> CapturedFile:
    return CapturedFile(kind, name, media_type, data, hashlib.sha256(data).hexdigest())


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
