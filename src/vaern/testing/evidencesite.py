"""The fixture site for evidence tests and the capture benchmark: routes of a `SiteServer`.

Pages: a 40,000 px page with coloured markers; lazy content that loads only after scrolling; an
inner scrolling container; a double redirect; a post that a test can edit or delete; a gzipped
page. Pages report any DOM mutation to /mutation, so a test can prove the capture changed nothing.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from vaern.testing.siteserver import Exchange, Handler, SiteServer

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
    """What a test may change (the post's text; None deletes it) and what the pages reported."""

    post: str | None = "Hvorfor får René Rosenkilde lov at arbejde her?"
    mutations: list[str] = field(default_factory=list)


@dataclass
class Site:
    base: str
    state: SiteState
    server: SiteServer

    def url(self, path: str) -> str:
        return self.base + path


_IMG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50">'
        b'<rect width="50" height="50" fill="gold"/></svg>')


@contextmanager
def fixture_site() -> Iterator[Site]:
    """The evidence fixture site on a SiteServer, until the block ends."""
    state = SiteState()
    server = SiteServer()

    def page(body: str) -> Handler:
        return lambda ex: ex.send(200, body.encode())

    def post(ex: Exchange) -> None:
        if state.post is None:
            ex.send(404, b"<!doctype html><title>Not found</title><h1>Opslaget findes ikke</h1>")
        else:
            ex.send(200, post_page(state.post).encode())

    def mutation(ex: Exchange) -> None:
        if ex.method == "POST":
            state.mutations.append(ex.body.decode(errors="replace"))
        ex.send(204, b"")

    def hang(ex: Exchange) -> None:
        ex.server.stopping.wait(10)  # never answers while the test waits; let go when the site stops
        ex.send(200, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")

    routes: dict[str, Handler] = {
        "/tall": page(tall_page()),
        "/lazy": page(LAZY),
        "/lazy/more": page(LAZY_MORE),
        "/leak": page(LEAK),
        "/inner": page(INNER),
        "/r1": lambda ex: ex.send(302, b"", headers={"Location": "/r2"}),
        "/r2": lambda ex: ex.send(301, b"", headers={"Location": "/post/1"}),
        "/post/1": post,
        "/gz": lambda ex: ex.send(200, gzip.compress(post_page("Komprimeret side om Karin Juhl").encode()),
                                  headers={"Content-Encoding": "gzip"}),
        "/slow": page(post_page("Siden hænger, men René Rosenkilde står her").replace("/img.svg", "/hang.svg")),
        "/hang.svg": hang,
        "/style.css": lambda ex: ex.send(200, b"body { font-family: sans-serif; }", "text/css"),
        "/img.svg": lambda ex: ex.send(200, _IMG, "image/svg+xml"),
        "/mutation": mutation,
    }
    for path, handler in routes.items():
        server.route(path, handler)
    server.route("/", lambda ex: ex.send(404, b"not here", "text/plain"), prefix=True)
    with server:
        yield Site(server.base_url, state, server)
