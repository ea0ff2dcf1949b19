"""Small JPEG previews of archived screenshots, for the alert e-mails and the review app.

A full-page screenshot can be 60,000 px tall: a thumbnail shows its top (a 4:3 crop of the page's
width), scaled to `width`, and decodes only those rows. `Thumbnails` makes each once and keeps
the last `capacity` of them: one for each dispatch pass of the e-mails (480 px; `alerts.thumbnails`
switches them off), one for the review app (its hit list's width).
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger(__name__)

MAIL_WIDTH = 480


class Thumbnails:
    """Thumbnails made once each, by screenshot (its SHA-256 when known, else its path), the least
    recently used dropped beyond `capacity`; safe to share between threads."""

    def __init__(self, width: int = MAIL_WIDTH, capacity: int = 2000) -> None:
        self.width = width
        self._cache: OrderedDict[str, bytes | None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, path: Path, sha256: str = "") -> bytes | None:
        """The thumbnail of the screenshot at `path`, or None when it cannot be read."""
        key = sha256 or str(path)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = make_thumbnail(path, self.width)
        with self._lock:
            self._cache[key] = data
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return data


def make_thumbnail(path: Path, width: int) -> bytes | None:
    """A small JPEG of the top of a (possibly very tall) full-page screenshot, or None."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            top = min(h, int(w * 0.75))
            # Full-page screenshots can be 60,000 px tall: decode only the rows we show.
            region: Image.Image
            if im.format == "PNG" and len(im.tile) == 1 and not im.info.get("interlace"):
                im.tile = [im.tile[0]._replace(extents=(0, 0, w, top))]
                im._size = (w, top)
                im.load()
                region = im
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    region = im.crop((0, 0, w, top))
            region = region.convert("RGB")
            region.thumbnail((width, width))
            out = io.BytesIO()
            region.save(out, "JPEG", quality=72, optimize=True)
            return out.getvalue()
    except Exception as exc:  # a broken screenshot must not stop the alert
        log.warning("event=thumbnail.failed path=%s error=%s", path, type(exc).__name__)
        return None
