"""Screenshots that are truly full: tall pages in tiles, inner scrolling containers scrolled through.

Used by crawler/capture.py; `evidence.max_height` caps the height (the cap is recorded when hit)
and `evidence.max_scrollers` how many inner scrollers are captured. Chromium cannot paint one
image taller than its 16,384 px texture limit (beyond it the picture is cut, blank or repeats),
so a taller page is shot in bands with `clip` and stitched; a page that fits is one shot, its
bytes exactly as Chromium made them. An element that scrolls inside the page (a feed in a
`<main>` of fixed height) shows only one box-full in any page screenshot, so each such container
is scrolled through in steps, each step shot, and the steps stitched into its own PNG — by
scrolling only, as a reader would; the page's DOM and styles are never changed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from playwright.async_api import ElementHandle, Page

TEXTURE_LIMIT = 16384
TILE = 8000
MAX_WIDTH = 4096

_DIMENSIONS = """() => {
  const d = document.documentElement, b = document.body;
  return {width: Math.max(d.scrollWidth, b ? b.scrollWidth : 0),
          height: Math.max(d.scrollHeight, b ? b.scrollHeight : 0),
          viewport_width: window.innerWidth, viewport_height: window.innerHeight};
}"""

_SCROLLERS = """(limit) => {
  const found = [];
  for (const el of document.querySelectorAll('body, body *')) {
    const style = getComputedStyle(el);
    if (!/(auto|scroll|overlay)/.test(style.overflowY)) continue;
    if (el.clientHeight < 40 || el.clientWidth < 40 || el.scrollHeight <= el.clientHeight + 16) continue;
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    found.push(el);
  }
  found.sort((a, b) => (b.scrollHeight - b.clientHeight) - (a.scrollHeight - a.clientHeight));
  return found.slice(0, limit);
}"""

_DESCRIBE = """(el) => {
  const r = el.getBoundingClientRect();
  const path = [];
  for (let n = el; n && n.nodeType === 1 && path.length < 5; n = n.parentElement) {
    path.unshift(n.tagName.toLowerCase() + (n.id ? '#' + n.id : ''));
  }
  return {x: r.left + window.scrollX + el.clientLeft, y: r.top + window.scrollY + el.clientTop,
          width: el.clientWidth, height: el.clientHeight, scroll_height: el.scrollHeight,
          scroll_top: el.scrollTop, selector: path.join(' > ')};
}"""


@dataclass
class Shot:
    """A PNG and how it was made (recorded in the provenance)."""

    png: bytes
    geometry: dict[str, Any] = field(default_factory=dict)


async def full_page(page: Page, max_height: int) -> Shot:
    """The whole page as one PNG: one shot when Chromium can, otherwise tiles stitched."""
    dims = await page.evaluate(_DIMENSIONS)
    page_height = int(dims["height"])
    height = min(page_height, max_height)
    width = min(max(int(dims["width"]), int(dims["viewport_width"])), MAX_WIDTH)
    geometry: dict[str, Any] = {
        "page_width": int(dims["width"]), "page_height": page_height, "width": width, "height": height,
        "viewport": {"width": dims["viewport_width"], "height": dims["viewport_height"]},
        "capped": page_height > max_height, "max_height": max_height,
    }
    if height <= TEXTURE_LIMIT and not geometry["capped"] and width == int(dims["width"]):
        png = await page.screenshot(full_page=True, type="png")
        geometry["method"] = "single"
        geometry["tiles"] = [{"y": 0, "height": height}]
        return Shot(png, geometry)
    tiles = []
    canvas = Image.new("RGB", (width, height), "white")
    for top in range(0, height, TILE):
        band = min(TILE, height - top)
        data = await page.screenshot(full_page=True, type="png",
                                     clip={"x": 0, "y": top, "width": width, "height": band})
        with Image.open(io.BytesIO(data)) as tile:
            canvas.paste(tile.convert("RGB"), (0, top))
        tiles.append({"y": top, "height": band})
    geometry["method"] = "tiles"
    geometry["tiles"] = tiles
    return Shot(_png(canvas), geometry)


async def inner_scrollers(page: Page, limit: int, max_height: int, actions: list[dict[str, Any]]) -> list[Shot]:
    """Each inner scrolling container, scrolled through from top to bottom, as its own PNG."""
    if limit <= 0:
        return []
    array = await page.evaluate_handle(_SCROLLERS, limit)
    elements = [h.as_element() for h in (await array.get_properties()).values()]
    shots = []
    for number, element in enumerate((e for e in elements if e is not None), start=1):
        shots.append(await _scroll_through(page, element, number, max_height, actions))
    await array.dispose()
    return shots


async def _scroll_through(
    page: Page, element: ElementHandle, number: int, max_height: int, actions: list[dict[str, Any]]
) -> Shot:
    box = await element.evaluate(_DESCRIBE)
    total = min(int(box["scroll_height"]), max_height)
    step = max(1, int(box["height"]))
    canvas = Image.new("RGB", (int(box["width"]), total), "white")
    offsets = []
    for wanted in range(0, total, step):
        actual = int(await element.evaluate("(el, y) => { el.scrollTop = y; return el.scrollTop; }", wanted))
        await page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        data = await page.screenshot(full_page=True, type="png", clip={
            "x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]})
        with Image.open(io.BytesIO(data)) as tile:
            canvas.paste(tile.convert("RGB"), (0, actual))
        offsets.append(actual)
        if actual + step >= total:
            break
    await element.evaluate("(el, y) => { el.scrollTop = y; }", box["scroll_top"])
    actions.append({"action": "scroll inner container", "container": box["selector"],
                    "positions": offsets, "restored_to": box["scroll_top"]})
    geometry = {"number": number, "container": box["selector"],
                "box": {k: box[k] for k in ("x", "y", "width", "height")},
                "scroll_height": box["scroll_height"], "height": total, "capped": box["scroll_height"] > max_height,
                "tiles": [{"y": y, "height": box["height"]} for y in offsets]}
    return Shot(_png(canvas), geometry)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # Level 1: a stitched 60,000 px page encodes in a fraction of the time at level 6, a little larger.
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()
