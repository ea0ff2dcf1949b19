"""What the browser received, recorded as it arrives and written out as one WARC file.

Used by crawler/capture.py; `evidence.max_response_mb` caps how much of one body is kept.
`NetworkRecorder` listens to a Playwright page from before its navigation: it notes every
response as it arrives (the time it arrived), and when the page turns out to be evidence,
`finish()` reads each one's request (method, headers, body), response (status, headers, body) and
the server's IP address from the same, still open page. Reading them only then costs a page that
names no one nothing; a body Chromium no longer holds (the page navigated since) is recorded as
missing, with Chromium's reason. `write_warc` turns
those into WARC/1.1 `request`/`response` pairs (with `WARC-IP-Address`), plus `resource` records
for our own artefacts (screenshot, DOM, text) and a `metadata` record for the provenance, so one
file holds both what the server sent and what we made of it. Our own records target `urn:` URIs,
so that a replay tool opens the page itself at the page's URL.

Playwright hands over bodies already decoded, so each response is written with the body as
received after decoding: `Content-Encoding` and `Transfer-Encoding` are kept under
`X-Archive-Orig-*` names and `Content-Length` is set to the stored length (as pywb does).
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, Request, Response
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from vaern import clock
from vaern.crawler.sitelogin import SiteLogin

_RENAMED = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass
class Exchange:
    """One request the browser made and the response it got."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status: int
    status_text: str
    response_headers: list[tuple[str, str]]
    body: bytes | None
    received_at: datetime
    server_ip: str | None
    server_port: int | None
    truncated: bool = False
    body_error: str | None = None


@dataclass
class NetworkRecorder:
    """Notes every response a page receives; attach before navigating, `finish()` before closing."""

    max_body: int
    # A logged-in site's session: its cookie headers are redacted as they are recorded, so the
    # WARC never holds them; `redacted` counts the headers replaced.
    login: SiteLogin | None = None
    redacted: int = 0
    exchanges: list[Exchange] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    _seen: list[tuple[Response, datetime]] = field(default_factory=list)
    _page: Page | None = None

    def attach(self, page: Page) -> None:
        self._page = page
        page.on("response", self._on_response)
        page.on("requestfailed", self._on_failed)

    def detach(self) -> None:
        if self._page is not None:
            self._page.remove_listener("response", self._on_response)
            self._page.remove_listener("requestfailed", self._on_failed)
            self._page = None

    def _on_response(self, response: Response) -> None:
        if urlsplit(response.url).scheme not in ("http", "https"):
            return  # data: and blob: URLs are part of the page, not network traffic
        self._seen.append((response, clock.now()))

    def _on_failed(self, request: Request) -> None:
        self.failed.append({"url": request.url, "error": request.failure or "failed",
                            "at": clock.now().isoformat()})

    async def _record(self, response: Response, received: datetime) -> None:
        request = response.request
        body: bytes | None = None
        body_error = None
        if not 300 <= response.status < 400:
            try:
                body = await response.body()
            except Exception as exc:  # the body can be gone (navigation) or never have existed
                body_error = str(exc).splitlines()[0]
        truncated = body is not None and len(body) > self.max_body
        if truncated and body is not None:
            body = body[: self.max_body]
        try:
            addr = await response.server_addr()
        except Exception:
            addr = None
        try:
            request_headers = [(h["name"], h["value"]) for h in await request.headers_array()]
            response_headers = [(h["name"], h["value"]) for h in await response.headers_array()]
        except Exception:  # the page or context closed under us; keep what the event carried
            request_headers = list(request.headers.items())
            response_headers = list(response.headers.items())
        if self.login is not None:
            request_headers, n_request = self.login.redact_pairs(request_headers)
            response_headers, n_response = self.login.redact_pairs(response_headers)
            self.redacted += n_request + n_response
        self.exchanges.append(Exchange(
            url=response.url, method=request.method, request_headers=request_headers,
            request_body=request.post_data_buffer, status=response.status, status_text=response.status_text,
            response_headers=response_headers, body=body, received_at=received,
            server_ip=addr["ipAddress"] if addr else None, server_port=addr["port"] if addr else None,
            truncated=truncated, body_error=body_error,
        ))

    async def finish(self, timeout: float) -> None:
        """Read every response noted so far (bounded: a stalled stream must not stop the capture).

        May be called again: only responses noted since the last call are read."""
        seen, self._seen = self._seen, []
        if not seen:
            return
        limit = asyncio.Semaphore(8)

        async def one(response: Response, received: datetime) -> None:
            async with limit:
                await self._record(response, received)

        tasks = [asyncio.ensure_future(one(r, at)) for r, at in seen]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        for task in done:
            task.exception()  # retrieved: a failure of one is recorded in its exchange
        self.exchanges.sort(key=lambda e: e.received_at)


@dataclass(frozen=True)
class Resource:
    """One of our own artefacts to put in the WARC as a `resource` record."""

    uri: str
    media_type: str
    data: bytes


def _http_response_headers(ex: Exchange) -> StatusAndHeaders:
    headers: list[tuple[str, str]] = []
    for name, value in ex.response_headers:
        if name.lower() in _RENAMED:
            headers.append((f"X-Archive-Orig-{name}", value))
        else:
            headers.append((name, value))
    headers.append(("Content-Length", str(len(ex.body or b""))))
    status = f"{ex.status} {ex.status_text}".strip()
    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


def _http_request_headers(ex: Exchange) -> StatusAndHeaders:
    parts = urlsplit(ex.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [(n, v) for n, v in ex.request_headers if not n.startswith(":")]  # HTTP/2 pseudo-headers
    if not any(n.lower() == "host" for n, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    # The whole request line, protocol included: warcio splits the method off and writes the rest.
    return StatusAndHeaders(f"{ex.method} {target} HTTP/1.1", headers, is_http_request=True)


def provenance_uri(page_url: str) -> str:
    """The WARC target of a capture's provenance record."""
    return f"urn:provenance:{page_url}"


def write_warc(
    exchanges: list[Exchange], resources: list[Resource], provenance: dict[str, Any],
    final_url: str, info: dict[str, str],
) -> bytes:
    """A gzipped WARC/1.1: warcinfo, every exchange as request/response, our resources, provenance."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    writer.write_record(writer.create_warcinfo_record("capture.warc.gz", info))
    for ex in sorted(exchanges, key=lambda e: e.received_at):
        date = datetime_to_iso_date(ex.received_at.replace(tzinfo=None), use_micros=True)
        warc_headers = {"WARC-Date": date}
        if ex.server_ip:
            warc_headers["WARC-IP-Address"] = ex.server_ip
        if ex.truncated:
            warc_headers["WARC-Truncated"] = "length"
        body = ex.body or b""
        response = writer.create_warc_record(
            ex.url, "response", payload=io.BytesIO(body), length=len(body),
            http_headers=_http_response_headers(ex), warc_headers_dict=warc_headers,
        )
        request_body = ex.request_body or b""
        request = writer.create_warc_record(
            ex.url, "request", payload=io.BytesIO(request_body), length=len(request_body),
            http_headers=_http_request_headers(ex), warc_headers_dict={"WARC-Date": date},
        )
        writer.write_request_response_pair(request, response)
    for res in resources:
        writer.write_record(writer.create_warc_record(
            res.uri, "resource", payload=io.BytesIO(res.data), length=len(res.data),
            warc_content_type=res.media_type,
        ))
    meta = json.dumps(provenance, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    # A `urn:` target, never the page's URL: a replay tool would otherwise take this later record
    # for the newest capture of the page and show the JSON instead of the page.
    writer.write_record(writer.create_warc_record(
        provenance_uri(final_url), "metadata", payload=io.BytesIO(meta), length=len(meta),
        warc_content_type="application/json",
    ))
    return out.getvalue()
