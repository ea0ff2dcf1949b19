"""Text in images: what a photo of a letter or a decision says, read with Tesseract.

Groups often post photos of letters naming the caseworker. Unless `ocr.enabled` is false (by
default: wherever Tesseract is installed), the crawl, over HTTP and in the browser alike, fetches
up to `ocr.max_images` images of a page (in document order, through the
same SSRF guard and politeness as every request) and reads each with Tesseract (Debian
packages `tesseract-ocr` and `tesseract-ocr-dan`; `ocr.languages`, default `dan`), at most
`ocr.seconds_per_image` per image and `ocr.seconds_per_page` in all. The text goes to the
matcher like the page's own text, and mentions in it are marked as found in an image.

Tesseract runs as a child process (`tesseract stdin stdout`), killed at its time limit; where
it is not installed, images are not read (`vaern check` warns when `ocr.enabled` is true).
The bytes of an image whose text names someone are archived with the hit's evidence.
"""

from __future__ import annotations

import functools
import html
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urljoin

log = logging.getLogger(__name__)

_IMG = re.compile(rb"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_SKIP = re.compile(r"\.(?:svg|ico)(?:$|\?)|^data:|sprite|pixel|spacer|logo|avatar|emoji", re.IGNORECASE)
MAX_IMAGE_BYTES = 8_000_000


@dataclass(frozen=True)
class OcrSettings:
    """The bounds of reading images (the config's `ocr` section)."""

    languages: str = "dan"
    max_images: int = 5
    seconds_per_image: float = 10.0
    seconds_per_page: float = 30.0


@functools.cache
def tesseract() -> str | None:
    """The tesseract executable, or None where it is not installed."""
    return shutil.which("tesseract")


def reads_images(enabled: bool | None) -> bool:
    """Are a page's images read? `ocr.enabled`: None (the default) where Tesseract is installed."""
    return enabled is not False and tesseract() is not None


@functools.cache
def languages_installed() -> frozenset[str]:
    """The language data Tesseract has (`tesseract --list-langs`); empty where it is missing."""
    exe = tesseract()
    if exe is None:
        return frozenset()
    try:
        done = subprocess.run([exe, "--list-langs"], capture_output=True, timeout=10, check=False)  # noqa: S603
    except (subprocess.TimeoutExpired, OSError):
        return frozenset()
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())


def config_warnings(enabled: bool | None, languages: str) -> list[str]:
    """What `vaern check` says of the `ocr` section on this machine."""
    if enabled is False:
        return []
    if tesseract() is None:
        if enabled:
            return ["ocr.enabled is true, but tesseract is not installed: text in images is not read "
                    "(apt-get install tesseract-ocr tesseract-ocr-dan)"]
        return []
    missing = [lang for lang in languages.split("+") if lang and lang not in languages_installed()]
    if missing:
        return [f"ocr.languages: tesseract has no language data for {', '.join(missing)} "
                f"(apt-get install {' '.join('tesseract-ocr-' + m for m in missing)}): text in images is not read"]
    return []


def read_image(data: bytes, settings: OcrSettings, seconds: float | None = None) -> str | None:
    """The text Tesseract reads in one image, or None (no tesseract, too big, timed out, failed)."""
    exe = tesseract()
    if exe is None or not data or len(data) > MAX_IMAGE_BYTES:
        return None
    limit = settings.seconds_per_image if seconds is None else min(seconds, settings.seconds_per_image)
    if limit <= 0:
        return None
    try:
        done = subprocess.run(  # noqa: S603 — a fixed executable, the image on stdin
            [exe, "stdin", "stdout", "-l", settings.languages, "--psm", "3"],
            input=data,
            capture_output=True,
            timeout=limit,
            check=False,
            # One thread: Tesseract's OpenMP threads cost more than they give on a small image,
            # and a crawl shares the machine.
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        log.info("OCR: an image was not read: %s", exc)
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


def image_urls(body: bytes, base_url: str, limit: int) -> list[str]:
    """The addresses of a page's images worth reading (no icons, logos, data: URLs), in
    document order, each once, at most `limit`."""
    out: list[str] = []
    for m in _IMG.finditer(body or b""):
        src = html.unescape(m.group(1).decode("utf-8", "replace")).strip()
        if not src or _SKIP.search(src):
            continue
        url = urljoin(base_url, src)
        if not url.startswith(("http://", "https://")) or url in out:
            continue
        out.append(url)
        if len(out) >= limit:
            break
    return out


class PageBudget:
    """The time left for one page's images (`ocr.seconds_per_page`)."""

    def __init__(self, settings: OcrSettings) -> None:
        self.settings = settings
        self.deadline = time.monotonic() + settings.seconds_per_page

    def left(self) -> float:
        return self.deadline - time.monotonic()
