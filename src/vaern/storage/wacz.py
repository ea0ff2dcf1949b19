"""WACZ packaging of a hit's WARC files, so ReplayWeb.page and pywb open the page itself.

Used by the export (storage/export.py). A WACZ (Webrecorder's "Web Archive Collection Zipped",
spec 1.1.1) is a zip holding:

    archive/<snapshot>.warc.gz     the WARCs as captured, stored uncompressed in the zip
    indexes/index.cdx              a CDXJ index of every record (Webrecorder's `cdxj-indexer`)
    pages/pages.jsonl              the page each snapshot captured, so a player opens it first
    datapackage.json               every file above with its SHA-256 and size
    datapackage-digest.json        the SHA-256 of datapackage.json

The WARCs are the archive's own bytes: the WACZ adds an index and a page list, it changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vaern import clock

WACZ_VERSION = "1.1.1"


@dataclass(frozen=True)
class WaczPage:
    """One page to list in pages.jsonl: the snapshot's WARC, the page URL, when, and its title."""

    snapshot: str
    warc: bytes
    url: str
    captured_at: datetime
    title: str | None = None


def _iso(moment: datetime) -> str:
    return clock.iso(moment)


def cdxj_index(warcs: list[tuple[str, bytes]]) -> bytes:
    """A sorted CDXJ index of the named WARCs (name as it sits in the WACZ under archive/)."""
    from cdxj_indexer.main import CDXJIndexer

    lines: list[bytes] = []
    for name, data in warcs:
        out = io.StringIO()
        # post_append puts each request's method next to its response, as py-wacz does.
        indexer = CDXJIndexer(out, [io.BytesIO(data)], post_append=True, filename=name)
        indexer.process_all()
        lines += [line.encode("utf-8") for line in out.getvalue().splitlines() if line.strip()]
    return b"".join(line + b"\n" for line in sorted(lines))


def write_wacz(target: Path, pages: list[WaczPage], title: str, software: str) -> Path:
    """Write a WACZ of `pages` to `target`; return its path."""
    files: dict[str, bytes] = {}
    warcs = [(f"{p.snapshot}.warc.gz", p.warc) for p in pages]
    for name, data in warcs:
        files[f"archive/{name}"] = data
    files["indexes/index.cdx"] = cdxj_index(warcs)
    page_lines = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}]
    page_lines += [{"id": p.snapshot, "url": p.url, "ts": _iso(p.captured_at), "title": p.title or p.url}
                   for p in pages]
    files["pages/pages.jsonl"] = b"".join(
        json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in page_lines
    )
    package = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "software": software,
        "created": _iso(clock.now()),
        "resources": [
            {"name": Path(name).name, "path": name, "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
             "bytes": len(data)}
            for name, data in files.items()
        ],
    }
    if pages:
        package["mainPageURL"] = pages[-1].url
        package["mainPageDate"] = _iso(pages[-1].captured_at)
    package_bytes = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
    digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in files.items():
            # WARCs are gzipped already and players seek into them: stored, not deflated.
            compress = zipfile.ZIP_STORED if name.startswith("archive/") else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, compress_type=compress)
        zf.writestr("datapackage.json", package_bytes, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("datapackage-digest.json", json.dumps(digest, indent=2).encode("utf-8"),
                    compress_type=zipfile.ZIP_DEFLATED)
    return target
