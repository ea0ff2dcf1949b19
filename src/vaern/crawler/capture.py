"""Evidence capture: the page that named someone, secured from the very page the matcher read.

Controlled by the `evidence` section of the config (`max_height`, `pdf`, `max_scrollers`,
`max_response_mb`; for a page loaded anew: `viewport_*` and `page_timeout`) and, through the
shared browser path (crawler/render.py), by the site's `ready:` and `expand:` and by `browser:`.

`capture_loaded(loaded, config, request)` takes a page that `render.load()` opened, made ready,
expanded and read — for a `render: browser` page with a hit, the one the crawl read — and makes
its evidence without loading it again:

1. the rendered DOM (shadow roots included) and its text, and every child frame's DOM and text,
   read before anything else happens;
2. the full-page screenshot (tiles beyond Chromium's limit); an element screenshot of each post
   holding a mention, with its DOM and permalink (crawler/postshots.py: a post a virtualised feed
   dropped is scrolled back to); each inner scrolling container scrolled through
   (crawler/fullpage.py); optionally a PDF;
3. the network record of the same page (crawler/warc.py): every response that built it, read
   now from the page that is still open;
4. the provenance: times (UTC), final URL and redirect chain, status, server IP, TLS details and
   the certificate chain (PEM), versions, user agent, viewport, every action of readiness and
   expansion, matches, the site, the host's clock synchronisation, the post's author, date and
   id (crawler/provenance.py);
5. one WARC holding every exchange plus our artefacts and the provenance;
6. a SHA-256 of every file, computed here, before anything is stored.

`capture_pages(config, requests)` loads each page anew through the same path (one browser, the
same guard, readiness and expansion) and captures it: for a page the crawl fetched over HTTP,
a removal, a debt from an earlier crawl, or `vaern capture`.

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
import re
import socket
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from playwright.async_api import Error as PlaywrightError

from vaern import clock
from vaern.config import Config, Site
from vaern.crawler import fullpage
from vaern.crawler.browser import BrowserSession
from vaern.crawler.expand import Action, ExpandLimits
from vaern.crawler.netguard import NetGuard
from vaern.crawler.postshots import PostShot, post_shots
from vaern.crawler.provenance import clock_sync, post_metadata, tls_chain
from vaern.crawler.readiness import ReadyLimits
from vaern.crawler.render import SHADOW_HTML_JS, Loaded, RenderError, load
from vaern.crawler.sitelogin import SiteLogin, login_of
from vaern.crawler.warc import Resource, write_warc
from vaern.domain import Capture, CapturedFile, CaptureFailure, CaptureRequest, ImageText

__all__ = ["Capture", "CaptureFailure", "CaptureRequest", "capture_loaded", "capture_pages"]

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
    "The page was read once its content was stable. To see its timers, a probe wrapped "
    "setTimeout and clearTimeout in the page before any of its scripts ran; the DOM was not changed.",
)

# The page's text as a reader sees it: the body's, then each open shadow root's.
_DEEP_TEXT_JS = """() => {
  let text = document.body ? document.body.innerText : '';
  const walk = (root, depth) => {
    if (depth > 20) return;
    for (const el of root.querySelectorAll('*')) {
      if (!el.shadowRoot) continue;
      for (const child of el.shadowRoot.children) if (child.innerText) text += '\\n' + child.innerText;
      walk(el.shadowRoot, depth + 1);
    }
  };
  if (document.body) walk(document.body, 0);
  return [text, Array.from(document.querySelectorAll('*')).some((e) => e.shadowRoot)];
}"""


class NotTheSitesPage(Exception):
    """The browser ended up on something that is not the site's page: the guard's refusal of an
    address the page led to, Chromium's error page, or a document cut at the size limit. Such a
    page is never evidence."""


def capture_pages(config: Config, requests: Sequence[CaptureRequest]) -> list[Capture | CaptureFailure]:
    """Load and capture each request in one Chromium; results in the same order. Never raises per page."""
    if not requests:
        return []

    def run() -> list[Capture | CaptureFailure]:
        try:
            return asyncio.run(_capture_all(config, requests))
        except Exception as exc:  # Playwright itself would not start: every page fails, saying why
            return [failure(r, exc) for r in requests]

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


def evidence_session(config: Config, login: SiteLogin | None = None) -> BrowserSession:
    """The browser session for captures outside a crawl: the crawl's guard, evidence's size limit,
    and the site's login session if it has one."""
    return BrowserSession(config.browser, guard=NetGuard(config.network.allow_private_hosts),
                          max_response_mb=config.evidence.max_response_mb, login=login)


def login_for(config: Config, site_ids: Sequence[str]) -> SiteLogin | None:
    """The login session of the one watched site these captures are of (None: none, or several
    sites: a session is never used for another site's pages)."""
    ids = set(site_ids)
    if len(ids) != 1:
        return None
    site = next((s for s in config.sites if s.id in ids), None)
    return login_of(site) if site is not None else None


async def _capture_all(config: Config, requests: Sequence[CaptureRequest]) -> list[Capture | CaptureFailure]:
    results: list[Capture | CaptureFailure] = []
    async with evidence_session(config, login_for(config, [r.site_id for r in requests])) as session:
        for request in requests:
            try:
                results.append(await capture_anew(session, config, request))
            except Exception as exc:
                results.append(failure(request, exc))
    return results


def failure(request: CaptureRequest, exc: BaseException) -> CaptureFailure:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CaptureFailure(request.url, request.site_id, request.reason, f"{type(exc).__name__}: {message}",
                          clock.now())


def site_limits(config: Config, request: CaptureRequest, factor: float = 1.0) -> tuple[ExpandLimits, ReadyLimits]:
    """Expansion and readiness for a page loaded anew: its site's (as the crawl used them), else
    the evidence defaults; `factor` makes every wait longer (a second try)."""
    step = config.browser.timeout
    site: Site | None = None
    if request.site_settings:
        try:
            site = Site.model_validate(request.site_settings)
        except Exception:  # settings recorded by an older version: the defaults
            site = None
    if site is not None:
        expand = ExpandLimits.from_settings(site.expand, step_timeout=step)
        ready = ReadyLimits(site.ready.max_seconds, site.ready.quiet_ms, tuple(site.ready.placeholders), step)
    else:
        ev = config.evidence
        expand = ExpandLimits(max_steps=ev.expand_steps, max_seconds=max(ev.expand_seconds, 1.0), step_timeout=step,
                              max_height=ev.max_height)
        ready = ReadyLimits(step_timeout=step)
    if factor != 1.0:
        expand = ExpandLimits(expand.max_steps, expand.max_seconds * factor, expand.max_height,
                              min(10_000, int(expand.settle_ms * factor)), expand.show_more, expand.selectors,
                              expand.step_timeout)
        ready = ready.longer(factor)
    return expand, ready


async def capture_anew(
    session: BrowserSession, config: Config, request: CaptureRequest, factor: float = 1.0
) -> Capture:
    """Load `request.url` through the shared browser path and capture it (`factor`: longer waits)."""
    ev = config.evidence
    expand, ready = site_limits(config, request, factor)
    await session.guard.check_async(request.url)  # a page the crawler may not fetch is not opened here either
    loaded = await load(
        session, request.url, expand, ready=ready, viewport=(ev.viewport_width, ev.viewport_height),
        ignore_https_errors=True,  # a bad certificate must not stop the evidence; its details are recorded
        max_response_bytes=int(ev.max_response_mb * 1024 * 1024),
        load_timeout=min(config.browser.load_timeout, ev.page_timeout) * factor,
        tolerate_failure=request.reason == "removed",
    )
    try:
        budget = ev.page_timeout * 3 + ev.expand_seconds + 30
        return await asyncio.wait_for(
            session.within_memory(capture_loaded(loaded, config, request)), budget
        )
    finally:
        await loaded.close()


async def capture_loaded(loaded: Loaded, config: Config, request: CaptureRequest) -> Capture:
    """Evidence of a page `load()` left open: the numbered recipe of the module docstring."""
    try:
        return await _capture_loaded(loaded, config, request)
    except PlaywrightError:
        # A script took the page elsewhere while it was being captured: if the guard refused
        # where it went, that is the reason, not the browser's "context was destroyed".
        with contextlib.suppress(PlaywrightError):
            await loaded.page.wait_for_load_state("domcontentloaded", timeout=config.evidence.page_timeout * 1000)
        problem = await _document_problem(loaded)
        if problem is not None:
            raise NotTheSitesPage(f"{request.url}: {problem}") from None
        raise


async def _capture_loaded(loaded: Loaded, config: Config, request: CaptureRequest) -> Capture:
    ev = config.evidence
    page = loaded.page
    started = clock.now()
    notes: list[str] = []
    capture_actions: list[dict[str, Any]] = []
    rendered = loaded.rendered
    navigation_error = loaded.navigation_error
    if navigation_error is not None:
        notes.append(f"navigation failed: {navigation_error}")
    elif rendered is not None and rendered.cut_off is not None:
        seconds = rendered.cut_off.split("after ")[-1].split(" s")[0]
        notes.append(f"the load event did not fire within {seconds} s; captured as it was")

    # 1.
    if navigation_error is None:
        problem = await _document_problem(loaded)  # a script may have led it elsewhere since
        if problem is not None:
            raise NotTheSitesPage(f"{request.url}: {problem}")
    text, shadows = await page.evaluate(_DEEP_TEXT_JS)
    dom_html = await page.evaluate(SHADOW_HTML_JS) if shadows else await page.content()
    dom = dom_html.encode("utf-8")
    title = await page.title()
    frames = []
    for frame in page.frames[1:]:
        if frame.is_detached() or not frame.url.startswith(("http://", "https://")):
            continue
        try:
            frames.append((frame.url, await frame.content(),
                           await frame.evaluate("() => document.body ? document.body.innerText : ''")))
        except Exception as exc:  # a frame that went away: said, not fatal
            notes.append(f"frame {frame.url} could not be read: {str(exc).splitlines()[0]}")

    # 2.
    shot = await fullpage.full_page(page, ev.max_height)
    if shot.geometry["capped"]:
        notes.append(f"page is {shot.geometry['page_height']} px tall; screenshot capped at {ev.max_height} px")
    # Each post holding a mention on its own, with its permalink (a virtualised feed scrolled back to it).
    posts: list[PostShot] = []
    if navigation_error is None and request.reason != "removed":
        selector = request.site_settings.get("post_selector")
        posts = await post_shots(loaded, [dict(m) for m in request.matches],
                                 selector if isinstance(selector, str) else None, capture_actions, notes,
                                 config.browser.timeout)
    scrollers = await fullpage.inner_scrollers(page, ev.max_scrollers, ev.max_height, capture_actions)
    pdf = None
    if ev.pdf:
        await page.emulate_media(media="screen")
        width = page.viewport_size["width"] if page.viewport_size else ev.viewport_width
        pdf = await page.pdf(print_background=True, width=f"{width}px")
        capture_actions.append({"at": _iso(clock.now()), "action": "print to PDF (screen media)"})

    # 3.
    await loaded.recorder.finish(timeout=ev.page_timeout)
    blocked = loaded.record.refusals
    if blocked:
        notes.append(f"{len(blocked)} request(s) the page made were refused by the SSRF guard (network.blocked)")
    main = await _main_response(loaded)
    served = main.get("body")
    if served is None:
        served = request.raw_html or b""
        if main:
            notes.append("the browser kept no body for the main document; html is what the crawler received")
    final_url = page.url if navigation_error is None else request.url
    session = loaded.session
    tools = await _tool_versions(session)
    tls_pem, tls_chain_error = (await tls_chain(final_url, session.guard) if navigation_error is None
                                else (None, "not read"))
    finished = clock.now()
    viewport = page.viewport_size or {"width": 0, "height": 0}

    # 4.
    readiness = loaded.readiness
    main_headers = [(str(n), str(v)) for n, v in main.get("headers", [])]
    login = session.login
    if login is not None:
        main_headers, redacted = login.redact_pairs(main_headers)
        redacted += loaded.recorder.redacted
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
        "page_loaded_at": _iso(loaded.started_at),
        "capture_started_at": _iso(started),
        "capture_finished_at": _iso(finished),
        "title": title,
        "server": main.get("server"),
        "tls": main.get("tls"),
        "response_headers": [list(h) for h in main_headers],
        "session": login.provenance(redacted) if login is not None else {"logged_in": False},
        "browser": {**tools["browser"], "user_agent": await page.evaluate("() => navigator.userAgent"),
                    "viewport": {"width": viewport["width"], "height": viewport["height"]},
                    "service_workers": "blocked",
                    "https_errors": "not ignored (the crawl's own page)" if request.same_load
                    else "ignored (recorded, not blocking)"},
        "software": tools["software"],
        "collector": {"organisation": config.organisation, "hostname": socket.gethostname(),
                      "method": "automated capture on detection, no human step",
                      "same_load_as_crawl": bool(request.same_load)},
        "readiness": None if readiness is None else {
            "ready": readiness.ready, "reason": readiness.reason, "seconds": round(readiness.seconds, 3),
            "reads": readiness.reads, "placeholder": readiness.placeholder,
            "timers_probed": readiness.timers_probed,
        },
        "read_whole": None if rendered is None else {"ready": rendered.ready, "why_not": rendered.unready},
        "actions": [{"at": _iso(loaded.started_at), "action": "load", "url": request.url},
                    *(_action(a) for a in (rendered.actions if rendered is not None else ())), *capture_actions],
        "screenshot": shot.geometry,
        "inner_scrollers": [s.geometry for s in scrollers],
        "posts": [p.info for p in posts],
        "frames": [{"url": url, "dom_bytes": len(html.encode("utf-8"))} for url, html, _t in frames],
        "harvested": [{"text": d.text[:500], "position": list(d.position)}
                      for d in (rendered.dropped if rendered is not None else ())],
        "network": {"responses": len(loaded.recorder.exchanges), "failed_requests": loaded.recorder.failed,
                    "blocked": blocked, "truncated": [e.url for e in loaded.recorder.exchanges if e.truncated]},
        "matches": [dict(m) for m in request.matches],
        "site": dict(request.site_settings),
        "crawler": {"status": request.raw_status, "html_bytes": len(request.raw_html or b"")},
        # The images whose text named someone, as the crawl fetched and read them (`image-N`).
        "images": [{"file": name, "url": image.url, "sha256": image.sha256, "media_type": image.media_type,
                    "text_read": image.text} for name, image in _image_files(request)],
        "notes": notes,
        "limitations": list(LIMITATIONS),
        "tls_chain": ({"file": "tls-chain.pem", "certificates": tls_pem.count(b"BEGIN CERTIFICATE")} if tls_pem
                      else {"error": tls_chain_error}),
        "clock_sync": clock_sync(),
        "post": post_metadata(dom.decode("utf-8", "replace")),
    }

    # 5. The text as shown: the page's, then each frame's (the screenshot shows them in place),
    # then any post shot on its own that the page no longer held when it was read.
    text = "\n\n".join([text, *(f"[frame {url}]\n{shown}" for url, _h, shown in frames if shown.strip())])
    flat = _plain(text)
    text = "\n\n".join([text, *(f"[post {p.number}: {p.info['permalink'] or 'no permalink'}]\n{p.text}"
                                  for p in posts if _plain(p.text) not in flat)])
    screenshot = shot.png
    resources = [Resource(f"urn:screenshot:{final_url}", "image/png", screenshot),
                 Resource(f"urn:dom:{final_url}", "text/html; charset=utf-8", dom),
                 Resource(f"urn:text:{final_url}", "text/plain; charset=utf-8", text.encode("utf-8"))]
    resources += [Resource(f"urn:screenshot:scroller-{s.geometry['number']}:{final_url}", "image/png", s.png)
                  for s in scrollers]
    resources += [Resource(f"urn:dom:frame-{n}:{url}", "text/html; charset=utf-8", html.encode("utf-8"))
                  for n, (url, html, _t) in enumerate(frames, start=1)]
    for p in posts:
        resources += [Resource(f"urn:post-screenshot:{p.number}:{final_url}", "image/png", p.png),
                      Resource(f"urn:post-dom:{p.number}:{final_url}", "text/html; charset=utf-8",
                               p.html.encode("utf-8"))]
    provenance_bytes = json.dumps(provenance, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    info = {
        "software": f"vaern/{tools['software']['vaern']} (warcio/{tools['software']['warcio']})",
        "format": "WARC File Format 1.1",
        "operator": config.organisation,
        "hostname": socket.gethostname(),
        "http-header-user-agent": provenance["browser"]["user_agent"],
        "description": f"evidence capture of {request.url} ({request.reason})",
    }
    # Compressing a big page's record is CPU work: off the event loop, which other pages share.
    warc = await asyncio.to_thread(write_warc, loaded.recorder.exchanges, resources, provenance, final_url, info)

    # 6.
    files = [_file("screenshot", "screenshot.png", "image/png", screenshot),
             _file("html", "page.html", "text/html", served),
             _file("dom", "dom.html", "text/html; charset=utf-8", dom),
             _file("text", "text.txt", "text/plain; charset=utf-8", text.encode("utf-8")),
             _file("warc", "capture.warc.gz", "application/warc", warc),
             _file("provenance", "provenance.json", "application/json", provenance_bytes)]
    files += [_file(f"scroller-{s.geometry['number']}", f"scroller-{s.geometry['number']}.png", "image/png", s.png)
              for s in scrollers]
    files += [_file(f"frame-{n}", f"frame-{n}.html", "text/html; charset=utf-8", html.encode("utf-8"))
              for n, (_url, html, _t) in enumerate(frames, start=1)]
    for p in posts:
        files += [_file(f"post-{p.number}", f"post-{p.number}.png", "image/png", p.png),
                  _file(f"post-{p.number}-dom", f"post-{p.number}.html", "text/html; charset=utf-8",
                        p.html.encode("utf-8"))]
    if pdf is not None:
        files.append(_file("pdf", "page.pdf", "application/pdf", pdf))
    if request.raw_html is not None:
        files.append(_file("crawler_html", "crawler.html", "text/html", request.raw_html))
    files += [_file(name.rsplit(".", 1)[0], name, image.media_type, image.data)
              for name, image in _image_files(request)]
    if tls_pem:
        files.append(_file("tls_chain", "tls-chain.pem", "application/x-pem-file", tls_pem))
    return Capture(
        url=request.url, site_id=request.site_id, reason=request.reason, detected_at=request.detected_at,
        started_at=started, finished_at=finished, final_url=final_url, status=main.get("status"),
        files=tuple(files), text=text, title=title, notes=tuple(notes),
    )


def _plain(text: str) -> str:
    """Text as compared for mentions: NFC, no soft hyphens or zero-width characters, one space
    for any run of spacing, case folded (CSS text-transform changes what innerText says)."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return " ".join(text.split()).casefold()


_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_TAG = re.compile(r"<[^>]*>")


def missing_mentions(request: CaptureRequest, capture: Capture) -> list[str]:
    """The reported mentions the capture does not show, each said with where it was looked for.

    A mention in the page's title must be in the captured title; any other in the captured text
    (the page's, its shadow roots', its frames' and its posts' as the browser showed them). A
    removal's evidence shows the page as it is now and is not checked."""
    if request.reason == "removed":
        return []
    shown = _plain(capture.text)
    title = _plain(capture.title)
    dom_file = capture.file("dom")
    dom = _plain(_TAG.sub(" ", dom_file.data.decode("utf-8", "replace"))) if dom_file is not None else ""
    missing: list[str] = []
    seen: set[tuple[str, str]] = set()
    archived = {f.sha256 for f in capture.files if f.kind.startswith("image-")}
    for match in request.matches:
        matched, where = str(match.get("matched") or ""), str(match.get("field") or "text")
        if where == "image":
            # Found in an image's text: the evidence is the image itself, archived as read.
            url = str(match.get("image") or "")
            image = next((i for i in request.images if i.url == url), None)
            if image is None or image.sha256 not in archived or _plain(matched) not in _plain(image.text):
                missing.append(f"'{matched}' (image {url}) is not in an archived image")
            continue
        if not matched or (matched, where) in seen:
            continue
        seen.add((matched, where))
        wanted = _plain(matched)
        if wanted in (title if where == "title" else shown):
            continue
        if where != "title" and wanted in dom:
            missing.append(f"'{matched}' is in the page's HTML but not shown")
        else:
            missing.append(f"'{matched}' ({where}) is missing")
    return missing


def mark_incomplete(capture: Capture, missing: list[str], tried: int) -> Capture:
    """The capture, marked incomplete (or left complete when nothing is missing)."""
    if not missing:
        return capture
    reason = (f"the captured page does not show every mention the matcher reported "
              f"(captured {tried} times, the second with longer waits): " + "; ".join(missing))
    return replace(capture, complete=False, incomplete_reason=reason, notes=(*capture.notes, f"incomplete: {reason}"))


def _action(action: Action) -> dict[str, Any]:
    """One action of readiness or expansion, as the provenance records it."""
    said = f"{action.kind}{' ' + action.target if action.target else ''}{': ' + action.detail if action.detail else ''}"
    return {"at": _iso(action.at), "action": said, "kind": action.kind, "target": action.target,
            "detail": action.detail}


async def _document_problem(loaded: Loaded) -> str | None:
    response = loaded.response
    headers = await response.all_headers() if response is not None else {}
    return loaded.record.document_problem(loaded.url, loaded.page.url, headers)


async def _main_response(loaded: Loaded) -> dict[str, Any]:
    """Status, headers, body, server and TLS of the main document, and the redirects before it."""
    response = loaded.response
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


async def _tool_versions(session: BrowserSession) -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    browser = await session.browser()
    options = session.launched
    return {
        "browser": {"name": "chromium", "version": browser.version, "executable": options.get("executable_path"),
                    "headless": options.get("headless", True), "launch_args": options.get("args", [])},
        "software": {"vaern": version("vaern"), "playwright": version("playwright"), "warcio": version("warcio"),
                     "pillow": version("pillow"), "python": platform.python_version(),
                     "os": f"{platform.system()} {platform.release()} {platform.machine()}"},
    }


_IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
                     "image/bmp": "bmp", "image/tiff": "tif"}


def _image_files(request: CaptureRequest) -> list[tuple[str, ImageText]]:
    """The file name each named image gets in the snapshot (`image-1.png` …), with the image."""
    return [(f"image-{n}.{_IMAGE_EXTENSIONS.get(image.media_type, 'bin')}", image)
            for n, image in enumerate((i for i in request.images if i.data), start=1)]


def _file(kind: str, name: str, media_type: str, data: bytes) -> CapturedFile:
    return CapturedFile(kind, name, media_type, data, hashlib.sha256(data).hexdigest())


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ += ["NotTheSitesPage", "RenderError", "capture_anew", "evidence_session", "failure", "mark_incomplete",
            "missing_mentions", "site_limits"]
