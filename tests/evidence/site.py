"""The fixture site for evidence tests: a local HTTP server on 127.0.0.1, port 0.

Pages: a 40,000 px page with coloured markers; lazy content that loads only after scrolling; an
inner scrolling container; a double redirect; a post that a test can edit or delete; a gzipped
page. Pages report any DOM mutation to /mutation, so a test can prove the capture changed nothing.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Markers: solid squares the tests look for in the PNGs.
RED, GREEN, BLUE = (255, 0, 0), (0, 200, 0), (0, 0, 255)
MAGENTA, ORANGE, CYAN = (255, 0, 255), (255, 140, 0), (0, 200, 200)

WATCH = """<script>
addEventListener('load', () => new MutationObserver(m => navigator.sendBeacon('/mutation', String(m.length)))
  .observe(document, {subtree: true, childList: true, attributes: true, characterData: true}));
</script>"""


def _marker(top: int, rgb: tuple[int, int, int], label: str) -> str:
    return (f'<div style="position:absolute;top:{top}px;left:0;width:300px;height:200px;'
            f'background:rgb{rgb}">{label}</div>')


def tall_page() -> str:
    return (f'<!doctype html><html><head><title>Tall</title></head><body style="margin:0">'
            f'<div style="position:relative;height:40000px">'
            f'{_marker(0, RED, "top")}{_marker(19900, GREEN, "middle")}{_marker(39800, BLUE, "bottom")}'
            f'</div></body></html>')


LAZY = """<!doctype html><html><head><title>Lazy</title><link rel="stylesheet" href="/style.css"></head>
<body style="margin:0"><div style="height:2500px">Opslag om René Rosenkilde</div>
<div id="sentinel" style="height:10px"></div>
<script>
new IntersectionObserver(async (entries, obs) => {
  if (!entries.some(e => e.isIntersecting)) return;
  obs.disconnect();
  const more = await (await fetch('/lazy/more')).text();
  document.body.insertAdjacentHTML('beforeend', more);
}).observe(document.getElementById('sentinel'));
</script></body></html>"""

LAZY_MORE = (f'<div style="height:1500px;position:relative">'
             f'<p>Kommentar indlæst senere: René Rosenkilde skal fyres</p>'
             f'<div style="position:absolute;top:1200px;width:300px;height:200px;background:rgb{MAGENTA}"></div>'
             f'</div>')

INNER = f"""<!doctype html><html><head><title>Feed</title>{WATCH}</head>
<body style="margin:0;height:100vh;overflow:hidden">
<header style="height:100px">Gruppe</header>
<main id="feed" style="height:400px;overflow-y:auto;border:3px solid black">
  <div style="position:relative;height:3000px">
    <div style="position:absolute;top:0;width:300px;height:150px;background:rgb{ORANGE}">first post</div>
    <p style="position:absolute;top:1500px">Midway post about Mette Sørensen</p>
    <div style="position:absolute;top:2800px;width:300px;height:150px;background:rgb{CYAN}">Bottom of feed</div>
  </div>
</main></body></html>"""


# Its script fetches the address in `?to=` (an "internal" service) and shows what came back.
LEAK = """<!doctype html><html><head><title>Leak</title></head><body><p>Opslag om René Rosenkilde</p>
<p id="out">venter</p><script>
const to = new URLSearchParams(location.search).get('to');
fetch(to).then(r => r.text()).then(t => { document.getElementById('out').textContent = t; },
                                  () => { document.getElementById('out').textContent = 'blokeret'; });
</script></body></html>"""


def post_page(text: str) -> str:
    return (f"<!doctype html><html><head><title>Opslag</title>{WATCH}</head><body>"
            f'<article><p>{text}</p><img src="/img.svg" width="50" height="50"></article></body></html>')


@dataclass
class SiteState:
    post: str | None = "Hvorfor får René Rosenkilde lov at arbejde her?"
    mutations: list[str] = field(default_factory=list)
    hits: list[str] = field(default_factory=list)
    hang: threading.Event = field(default_factory=threading.Event)


@dataclass
class Site:
    base: str
    state: SiteState

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def fixture_site() -> Iterator[Site]:
    state = SiteState()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8",
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            state.hits.append(self.path)
            path = self.path.split("?")[0]
            if path == "/tall":
                self._send(200, tall_page().encode())
            elif path == "/lazy":
                self._send(200, LAZY.encode())
            elif path == "/lazy/more":
                self._send(200, LAZY_MORE.encode())
            elif path == "/leak":
                self._send(200, LEAK.encode())
            elif path == "/inner":
                self._send(200, INNER.encode())
            elif path == "/r1":
                self._send(302, b"", extra={"Location": "/r2"})
            elif path == "/r2":
                self._send(301, b"", extra={"Location": "/post/1"})
            elif path == "/post/1":
                if state.post is None:
                    self._send(404, b"<!doctype html><title>Not found</title><h1>Opslaget findes ikke</h1>")
                else:
                    self._send(200, post_page(state.post).encode())
            elif path == "/gz":
                body = gzip.compress(post_page("Komprimeret side om Karin Juhl").encode())
                self._send(200, body, extra={"Content-Encoding": "gzip"})
            elif path == "/slow":
                self._send(200, post_page("Siden hænger, men René Rosenkilde står her").replace(
                    "/img.svg", "/hang.svg").encode())
            elif path == "/hang.svg":
                state.hang.wait(10)  # never answers while the test waits; released at teardown
                self._send(200, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")
            elif path == "/style.css":
                self._send(200, b"body { font-family: sans-serif; }", "text/css")
            elif path == "/img.svg":
                self._send(200, b'<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50">'
                                b'<rect width="50" height="50" fill="gold"/></svg>', "image/svg+xml")
            else:
                self._send(404, b"not here", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/mutation":
                state.mutations.append(body.decode(errors="replace"))
            self._send(204, b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", state)
    finally:
        state.hang.set()
        server.shutdown()
        server.server_close()
        thread.join()
