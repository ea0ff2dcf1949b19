"""Post-level evidence: beside the full page, each post (or comment) that holds a mention, as an
element screenshot with its own DOM, text and permalink.

Used by crawler/capture.py on the page the crawl read; the site's `post_selector` says what one
post is (without it: the structure crawler/posts.py recognises: `<article>`, `role="article"`,
schema.org Comment/…Posting, the usual post and comment classes). For each mention in the page's
text, the innermost post whose shown text holds it is shot. A virtualised feed may have dropped
that post from the DOM by the time evidence is taken: the page is then scrolled back to where it
showed the post (expansion recorded it, crawler/readiness.py), given time to draw it, and the
post is shot there; every scroll is recorded. The page's DOM is never changed.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaern.crawler.posts import POST_CLASSES
from vaern.crawler.readiness import ReadyLimits, wait_ready

if TYPE_CHECKING:
    from playwright.async_api import ElementHandle, Page

    from vaern.crawler.render import Dropped, Loaded

STRUCTURE = ", ".join(
    ["article", "[role=article]", '[itemtype*="Comment"]', '[itemtype*="Posting"]', *(f".{c}" for c in POST_CLASSES)]
)
MAX_POSTS = 20  # element shots per capture at most
RESTORE_TRIES = 8  # scroll positions tried to bring a dropped post back

_FIND_JS = """
([wanted, selector]) => {
  const norm = (s) => (s || '').normalize('NFC').replace(/[\\u00ad\\u200b\\u200c\\u200d\\u2060\\ufeff]/g, '')
    .replace(/\\s+/g, ' ').trim().toLowerCase();
  const want = norm(wanted);
  const found = [];
  const walk = (root, depth) => {
    for (const el of root.querySelectorAll(selector)) if (norm(el.innerText).includes(want)) found.push(el);
    if (depth < 10) for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot, depth + 1);
  };
  walk(document, 0);
  const innermost = found.filter((el) => !found.some((other) => other !== el && el.contains(other)));
  return innermost.find((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
    || null;
}
"""

# What a shot post is: its text, DOM, permalink (as crawler/posts.py finds one), place and path.
_DESCRIBE_JS = """
(el) => {
  let link = el.getAttribute('data-permalink');
  if (!link) {
    for (const a of el.querySelectorAll('a[href]')) {
      const href = a.getAttribute('href') || '';
      if (/^\\s*(javascript|mailto):/i.test(href)) continue;
      const rel = (a.getAttribute('rel') || '').split(/\\s+/);
      if (rel.includes('bookmark') || a.classList.contains('permalink') || a.getAttribute('itemprop') === 'url'
          || a.querySelector('time') || (el.id && href.endsWith('#' + el.id))) { link = a.href; break; }
    }
  }
  if (!link && el.id) link = location.href.split('#')[0] + '#' + el.id;
  const path = [];
  for (let n = el; n && n.nodeType === 1 && path.length < 6; n = n.parentElement) {
    path.unshift(n.tagName.toLowerCase() + (n.id ? '#' + n.id : ''));
  }
  const r = el.getBoundingClientRect();
  return {text: el.innerText, html: el.outerHTML, permalink: link ? new URL(link, location.href).href : null,
          path: path.join(' > '), box: {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height},
          scroll: [Math.round(scrollY)]};
}
"""

_RESTORE_JS = """
([y, inner, top]) => {
  window.scrollTo(0, y);
  if (inner) { const box = document.querySelector(inner); if (box) box.scrollTop = top; }
  return [Math.round(scrollY), inner ? (document.querySelector(inner) || {}).scrollTop || 0 : 0];
}
"""


@dataclass
class PostShot:
    """One post's evidence: the element screenshot and what the post is."""

    number: int
    png: bytes
    html: str
    text: str
    info: dict[str, Any] = field(default_factory=dict)  # for the provenance


async def post_shots(
    loaded: Loaded, matches: list[dict[str, Any]], selector: str | None, actions: list[dict[str, Any]],
    notes: list[str], step: float,
) -> list[PostShot]:
    """An element screenshot of each post holding a mention of the page's text (see the module)."""
    page = loaded.page
    dropped = loaded.rendered.dropped if loaded.rendered is not None else ()
    wanted: dict[str, list[dict[str, Any]]] = {}
    for match in matches:
        matched = str(match.get("matched") or "")
        if matched and match.get("field", "text") == "text":
            wanted.setdefault(matched, []).append(match)
    shots: list[PostShot] = []
    seen_paths: dict[str, PostShot] = {}
    for matched, of_it in wanted.items():
        if len(shots) >= MAX_POSTS:
            notes.append(f"only the first {MAX_POSTS} posts holding a mention were shot on their own")
            break
        element, restored = await _find(page, matched, selector or STRUCTURE, step), None
        if element is None:
            element, restored = await _restore(loaded, matched, selector or STRUCTURE, dropped, step, actions)
        if element is None:
            continue  # not in a post (or not shown at all): the full page is the evidence
        try:
            info = await asyncio.wait_for(element.evaluate(_DESCRIBE_JS), step)
            if info["path"] + info["text"][:80] in seen_paths:
                seen_paths[info["path"] + info["text"][:80]].info["matched"].append(matched)
                continue
            png = await asyncio.wait_for(element.screenshot(type="png"), step * 2)
        except Exception as exc:  # the post went away while being shot: said, not fatal
            notes.append(f"the post holding '{matched}' could not be shot on its own: {str(exc).splitlines()[0]}")
            continue
        finally:
            with contextlib.suppress(Exception):
                await element.dispose()
        number = len(shots) + 1
        permalink = next((m.get("post") for m in of_it if m.get("post")), None) or info["permalink"]
        shot = PostShot(number, png, info["html"], info["text"], {
            "number": number, "matched": [matched], "people": sorted({str(m.get("person")) for m in of_it}),
            "permalink": permalink, "element": info["path"], "box": info["box"],
            "restored_from_scroll_position": restored,
        })
        seen_paths[info["path"] + info["text"][:80]] = shot
        shots.append(shot)
        actions.append({"action": "element screenshot of a post", "post": number, "element": info["path"],
                        "permalink": permalink})
    return shots


async def _find(page: Page, matched: str, selector: str, step: float) -> ElementHandle | None:
    handle = await asyncio.wait_for(page.evaluate_handle(_FIND_JS, [matched, selector]), step)
    element = handle.as_element()
    if element is None:
        await handle.dispose()
    return element


async def _restore(
    loaded: Loaded, matched: str, selector: str, dropped: tuple[Dropped, ...], step: float,
    actions: list[dict[str, Any]],
) -> tuple[ElementHandle | None, list[Any] | None]:
    """Scroll back to where a virtualised feed showed the post that held `matched`, and find it."""
    wanted = " ".join(matched.split()).casefold()
    block = next((d for d in dropped if wanted in " ".join(d.text.split()).casefold()), None)
    if block is None:
        return None, None
    y, inner, top = (list(block.position) + [0, None, 0])[:3]
    view = (loaded.page.viewport_size or {"height": 900})["height"]
    # Where it was recorded first, then a little above and below, in half views.
    offsets = [0] + [sign * n * view // 2 for n in range(1, RESTORE_TRIES // 2 + 1) for sign in (-1, 1)]
    for offset in offsets[:RESTORE_TRIES]:
        at = await asyncio.wait_for(
            loaded.page.evaluate(_RESTORE_JS, [max(0, int(y) - offset), inner, max(0, int(top) - offset)]), step
        )
        actions.append({"action": "scroll back to a post the page had dropped", "to": at, "looking_for": matched})
        if loaded.agent is not None:
            await wait_ready(loaded.agent, loaded.network, ReadyLimits(max_seconds=3.0, step_timeout=step))
        element = await _find(loaded.page, matched, selector, step)
        if element is not None:
            return element, at
    return None, None
