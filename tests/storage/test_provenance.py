"""More provenance: the site's certificate chain as PEM, the host's clock synchronisation, and the
post's author, date and id from the page's structured data."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vaern.crawler.netguard import NetGuard
from vaern.crawler.provenance import clock_sync, post_metadata, tls_chain


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def https_site(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 presenting leaf + intermediate (a root it does not send)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=Site Root", "-addext", "basicConstraints=critical,CA:TRUE", cwd=tmp_path)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr", "-subj",
             "/CN=Site Intermediate", cwd=tmp_path)
    (tmp_path / "int.ext").write_text("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n")
    _openssl("x509", "-req", "-in", "int.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
             "int.crt", "-days", "2", "-extfile", "int.ext", cwd=tmp_path)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj",
             "/CN=127.0.0.1", cwd=tmp_path)
    (tmp_path / "leaf.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "int.crt", "-CAkey", "int.key", "-CAcreateserial", "-out",
             "leaf.crt", "-days", "2", "-extfile", "leaf.ext", cwd=tmp_path)
    (tmp_path / "chain.pem").write_bytes((tmp_path / "leaf.crt").read_bytes() + (tmp_path / "int.crt").read_bytes())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "leaf.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/post/1"
    finally:
        server.shutdown()
        server.server_close()


def test_the_certificate_chain_is_read_as_pem(https_site: str) -> None:
    pem, why = asyncio.run(tls_chain(https_site, NetGuard(["127.0.0.1"])))
    assert why is None and pem is not None
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 2
    subjects = subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", "/dev/stdin"], input=pem,
                              capture_output=True).stdout
    shown = subprocess.run(["openssl", "pkcs7", "-print_certs", "-noout"], input=subjects, capture_output=True,
                           text=False).stdout.decode()
    assert "subject=CN = 127.0.0.1" in shown and "subject=CN = Site Intermediate" in shown


def test_the_chain_is_not_read_where_the_guard_refuses(https_site: str) -> None:
    pem, why = asyncio.run(tls_chain(https_site, NetGuard()))
    assert pem is None and why is not None and "allow_private_hosts" in why
    assert asyncio.run(tls_chain("http://127.0.0.1:1/x", NetGuard(["127.0.0.1"]))) == (None, "not an https page")


def test_clock_sync_says_what_the_host_exposes() -> None:
    state = clock_sync()
    assert state["synchronized"] in (True, False, "unknown")
    if state["source"] is None:
        assert "not known" in state["note"]


def test_post_metadata_from_json_ld_microdata_and_time() -> None:
    ld = """<html><head><script type="application/ld+json">
    {"@context": "https://schema.org", "@graph": [{"@type": "WebSite", "name": "x"},
     {"@type": "SocialMediaPosting", "@id": "https://forum.example/p/77", "identifier": "77",
      "author": {"@type": "Person", "name": "Vred Borger", "alternateName": "@vredborger"},
      "datePublished": "2026-11-20T21:14:00+01:00"}]}
    </script></head><body><p>René Rosenkilde</p></body></html>"""
    assert post_metadata(ld) == {
        "author": {"value": "Vred Borger", "source": "JSON-LD author.name"},
        "handle": {"value": "@vredborger", "source": "JSON-LD author"},
        "date": {"value": "2026-11-20T21:14:00+01:00", "source": "JSON-LD datePublished"},
        "id": {"value": "77", "source": "JSON-LD identifier"},
    }
    micro = """<article itemscope itemtype="https://schema.org/Comment">
      <span itemprop="author" itemscope><span itemprop="name">Hans H.</span></span>
      <meta itemprop="identifier" content="c-991">
      <time itemprop="datePublished" datetime="2026-11-19">i går</time></article>"""
    assert post_metadata(micro) == {
        "author": {"value": "Hans H.", "source": "microdata itemprop=author"},
        "date": {"value": "2026-11-19", "source": "microdata datePublished"},
        "id": {"value": "c-991", "source": "microdata identifier"},
    }
    assert post_metadata('<p>Skrevet <time datetime="2026-11-18T10:00">i mandags</time></p>') == {
        "date": {"value": "2026-11-18T10:00", "source": "<time datetime>"}}
    assert post_metadata("<p>nothing structured here</p>") == {}
