"""More provenance for a capture: the site's TLS certificate chain, the capturing machine's clock
synchronisation, and what the page itself says about the post (author, date, id).

Used by crawler/capture.py, one call each; nothing here touches the page in the browser.

- `tls_chain`: the certificate chain the server presents, as PEM, read over a connection of its
  own to the address the SSRF guard judged for the page's host (Chromium does not hand its chain
  over). The certificates are recorded, not trusted: verification is not required to read them.
- `clock_sync`: what the host says about its clock (`timedatectl`, else `chronyc tracking`), so
  the capture times can be weighed; "unknown" where the host exposes neither.
- `post_metadata`: the post's author or handle, date and id from structured data in the DOM:
  JSON-LD (`schema.org` Article/SocialMediaPosting/Comment...), microdata (`itemprop`), and
  `<time datetime>`, each value with where it was found. Absent fields are absent, never guessed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from lxml import html as lxml_html

from vaern.crawler.netguard import NetGuard

_POST_TYPES = {"article", "newsarticle", "blogposting", "socialmediaposting", "discussionforumposting", "comment",
               "posting", "report", "webpage", "question", "answer"}


# -- TLS --------------------------------------------------------------------------------------------


def _read_chain(address: str, port: int, host: str, timeout: float) -> bytes:
    from OpenSSL import SSL, crypto

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE, lambda *_: True)  # recorded, not trusted
    with socket.create_connection((address, port), timeout=timeout) as raw:
        conn = SSL.Connection(context, raw)
        conn.set_tlsext_host_name(host.encode("idna"))
        conn.set_connect_state()
        conn.setblocking(True)
        conn.do_handshake()
        chain = conn.get_peer_cert_chain() or []
        try:
            conn.shutdown()
        except SSL.Error:
            pass
    return b"".join(crypto.dump_certificate(crypto.FILETYPE_PEM, cert) for cert in chain)


async def tls_chain(url: str, guard: NetGuard, timeout: float = 10.0) -> tuple[bytes | None, str | None]:
    """(PEM chain, None) for an https URL, (None, why not) otherwise. Connects only where the guard allows."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None, "not an https page"
    try:
        address = await guard.connect_address(url)
    except Exception as exc:  # BlockedAddress and name lookup failures alike
        return None, str(exc)
    try:
        pem = await asyncio.wait_for(asyncio.to_thread(_read_chain, str(address), parts.port or 443,
                                                       parts.hostname, timeout), timeout + 1)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {str(exc).strip() or 'no answer'}"
    return (pem, None) if pem else (None, "the server presented no certificate")


# -- the machine's clock ----------------------------------------------------------------------------


def clock_sync() -> dict[str, Any]:
    """The host's own account of its clock's synchronisation, where it exposes one."""
    timedatectl = shutil.which("timedatectl")
    if timedatectl:
        try:
            out = subprocess.run([timedatectl, "show"], capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0 and "NTPSynchronized=" in out.stdout:
            fields = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
            return {"source": "timedatectl", "synchronized": fields.get("NTPSynchronized") == "yes",
                    "ntp_enabled": fields.get("NTP") == "yes", "timezone": fields.get("Timezone")}
    chronyc = shutil.which("chronyc")
    if chronyc:
        try:
            out = subprocess.run([chronyc, "-c", "tracking"], capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.count(",") >= 5:
            f = out.stdout.strip().split(",")
            return {"source": "chronyc tracking", "synchronized": f[5] != "0.000000000" and f[2] != "0",
                    "reference": f[1], "stratum": f[2], "system_time_offset_s": f[4], "leap_status": f[-1]}
    return {"source": None, "synchronized": "unknown",
            "note": "the host exposes neither timedatectl nor chronyc; its clock's synchronisation is not known"}


# -- the post, as the page describes it --------------------------------------------------------------


def post_metadata(dom: str) -> dict[str, Any]:
    """Author or handle, date and id of the post, from JSON-LD, microdata and <time>; each with its source."""
    try:
        tree = lxml_html.fromstring(dom)
    except (ValueError, lxml_html.etree.ParserError):
        return {}
    found: dict[str, Any] = {}

    def put(key: str, value: Any, source: str) -> None:
        if isinstance(value, str) and value.strip() and key not in found:
            found[key] = {"value": value.strip(), "source": source}

    for item in json_ld_posts(tree, _POST_TYPES):
        author = json_ld_author(item)
        if isinstance(author, dict):
            put("author", author.get("name"), "JSON-LD author.name")
            put("handle", author.get("alternateName") or author.get("identifier"), "JSON-LD author")
            put("author_url", author.get("url"), "JSON-LD author.url")
        else:
            put("author", author, "JSON-LD author")
        put("date", item.get("datePublished") or item.get("dateCreated"), "JSON-LD datePublished")
        put("modified", item.get("dateModified"), "JSON-LD dateModified")
        identifier = item.get("identifier")
        if isinstance(identifier, dict):
            identifier = identifier.get("value")
        put("id", identifier if isinstance(identifier, str) else item.get("@id"), "JSON-LD identifier")
        put("url", item.get("url"), "JSON-LD url")

    for node in tree.xpath('//*[@itemprop="author"]'):
        name = node.xpath('.//*[@itemprop="name"]')
        text = (name[0].get("content") or name[0].text_content()) if name else (node.get("content") or
                                                                                 node.text_content())
        put("author", text, "microdata itemprop=author")
    for node in tree.xpath('//*[@itemprop="datePublished" or @itemprop="dateCreated"]'):
        put("date", node.get("datetime") or node.get("content") or node.text_content(), "microdata datePublished")
    for node in tree.xpath('//*[@itemprop="identifier"]'):
        put("id", node.get("content") or node.text_content(), "microdata identifier")
    for node in tree.xpath("//time[@datetime]"):
        put("date", node.get("datetime"), "<time datetime>")
        break
    for node in tree.xpath('//meta[@property="article:published_time" or @name="date"]'):
        put("date", node.get("content"), f"<meta {node.get('property') or node.get('name')}>")
    for node in tree.xpath('//meta[@name="author" or @property="article:author"]'):
        put("author", node.get("content"), f"<meta {node.get('name') or node.get('property')}>")
    return found


def json_ld_posts(tree: Any, kinds: set[str]) -> Iterator[dict[str, Any]]:
    """The JSON-LD objects on the page whose @type is one of `kinds` (lower case), in page order;
    a script that is not JSON is passed over."""
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content())
        except ValueError:
            continue
        for item in json_ld_items(data):
            kind = item.get("@type")
            if {str(k).lower() for k in (kind if isinstance(kind, list) else [kind])} & kinds:
                yield item


def json_ld_author(item: dict[str, Any]) -> Any:
    """An item's author: a Person object (dict) or a plain name; the first where it lists several."""
    author = item.get("author")
    return author[0] if isinstance(author, list) and author else author


def json_ld_items(data: Any) -> list[dict[str, Any]]:
    """Every object of a JSON-LD document, @graph and nesting included (bounded)."""
    out: list[dict[str, Any]] = []
    stack = [data]
    while stack and len(out) < 200:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            out.append(item)
            for key in ("@graph", "mainEntity", "comment", "hasPart"):
                if key in item:
                    stack.append(item[key])
    return out
