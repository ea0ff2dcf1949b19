"""Small JPEG previews of archived screenshots, for the alert e-mails and the review app.

A full-page screenshot can be 60,000 px tall: a thumbnail decodes only the rows it shows. The
e-mails show the page's top (a 4:3 crop of its width) scaled to `width`, blurred under
`review.safe_view`; the review app's list shows a readable crop (`readable`: where the content
starts, at a zoom where its text can be read). `Thumbnails` makes each once and keeps the last
`capacity` of them: one for each dispatch pass of the e-mails (480 px; `alerts.thumbnails`
switches them off), one for the review app (its hit list's width).
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

MAIL_WIDTH = 480


class Thumbnails:
    """Thumbnails made once each, by screenshot (its SHA-256 when known, else its path), the least
    recently used dropped beyond `capacity`; safe to share between threads."""

    def __init__(
        self, width: int = MAIL_WIDTH, capacity: int = 2000, *, blur: bool = False, readable: bool = False
    ) -> None:
        self.width = width
        self.blur = blur  # `review.safe_view`: the e-mails show screenshots as the app does
        self.readable = readable
        self._cache: OrderedDict[str, bytes | None] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, path: Path | bytes | Callable[[], bytes], sha256: str = "") -> bytes | None:
        """The thumbnail of a screenshot (its file, its bytes, or how to read them from the archive:
        read only when not made before), or None when it cannot be read."""
        if callable(path) and not sha256:
            try:
                path = path()
            except Exception as exc:  # a screenshot gone from the archive must not stop the alert
                log.warning("event=thumbnail.unreadable error=%s", type(exc).__name__)
                return None
        key = sha256 or (hashlib.sha256(path).hexdigest() if isinstance(path, bytes) else str(path))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        if callable(path):
            try:
                path = path()
            except Exception as exc:  # a screenshot gone from the archive must not stop the alert
                log.warning("event=thumbnail.unreadable sha256=%s error=%s", sha256, type(exc).__name__)
                path = b""
        if self.readable:
            data = readable_thumbnail(path, (self.width, self.width * 5 // 8))
        else:
            data = make_thumbnail(path, self.width, blur=self.blur)
        with self._lock:
            self._cache[key] = data
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return data


def _top(path: Path | bytes, rows: Callable[[int, int], int]) -> Image.Image:
    """The top `rows(width, height)` rows of a screenshot as RGB, decoding only those rows."""
    from PIL import Image

    with Image.open(io.BytesIO(path) if isinstance(path, bytes) else path) as im:
        w, h = im.size
        top = rows(w, h)
        region: Image.Image
        if im.format == "PNG" and len(im.tile) == 1 and not im.info.get("interlace"):
            im.tile = [im.tile[0]._replace(extents=(0, 0, w, top))]
            im._size = (w, top)
            im.load()
            region = im.convert("RGB")
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                region = im.crop((0, 0, w, top)).convert("RGB")
        return region


def make_thumbnail(path: Path | bytes, width: int, *, blur: bool = False) -> bytes | None:
    """A small JPEG of the top of a (possibly very tall) full-page screenshot, or None. `blur`
    (safe view) blurs it so that it shows the page's layout but no words or faces."""
    try:
        region = _top(path, lambda w, h: min(h, int(w * 0.75)))
        region.thumbnail((width, width))
        if blur:
            from PIL import ImageFilter

            region = region.filter(ImageFilter.GaussianBlur(radius=max(4, width // 60)))
        out = io.BytesIO()
        region.save(out, "JPEG", quality=72, optimize=True)
        return out.getvalue()
    except Exception as exc:  # a broken screenshot must not stop the alert
        log.warning("event=thumbnail.failed path=%s error=%s", "<bytes>" if isinstance(path, bytes) else path,
                    type(exc).__name__)
        return None


READABLE_ZOOM = 2  # page pixels per thumbnail pixel: about 8 px for a 16 px line of text, readable


def readable_thumbnail(path: Path | bytes, size: tuple[int, int]) -> bytes | None:
    """A readable crop of a screenshot for the review app's list: where the page's content starts
    (the margin of background colour left and above is skipped), at a zoom where its text can be
    read, rather than the whole width of the page shrunk to a grey box. None if it cannot be read."""
    from PIL import Image, ImageChops

    width, height = size
    try:
        region = _top(path, lambda w, h: min(h, 2400))
        background = Image.new("RGB", region.size, region.getpixel((0, 0)))
        box = ImageChops.difference(region, background).getbbox()
        left, upper = (box[0], box[1]) if box else (0, 0)
        cw, ch = width * READABLE_ZOOM, height * READABLE_ZOOM
        left = max(0, min(left - 8, region.width - cw))
        upper = max(0, min(upper - 8, region.height - ch))
        crop = region.crop((left, upper, min(region.width, left + cw), min(region.height, upper + ch)))
        crop.thumbnail((width, height))
        out = io.BytesIO()
        crop.save(out, "JPEG", quality=80, optimize=True)
        return out.getvalue()
    except Exception as exc:  # a broken screenshot shows no thumbnail; the detail page says why
        log.warning("event=thumbnail.failed path=%s error=%s", "<bytes>" if isinstance(path, bytes) else path,
                    type(exc).__name__)
        return None
