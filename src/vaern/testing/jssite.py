"""A local site whose text only appears when JavaScript runs: the fixture for the browser crawl.

Served by a `SiteServer` (127.0.0.1, port 0, a thread) whose routes are the pages and the API
below: `with JsSite() as site: site.url("/group/")`.

Pages (HTML and JS in `jssite/`; the data comes from the JSON API below, never from the HTML):

- `/group/`: a public group; posts arrive by fetch() after `delay` seconds, more as you scroll
  (batches of `batch`), each with comments behind "Se flere kommentarer"; every post links its
  permalink `/group/post/N` (an app shell that fetches the post).
- `/feed/`: infinite scroll of the window, in batches.
- `/more/`: a "Vis flere" button (next to a "Vis flere …" link to another page, never clicked).
- `/comments/`: comments behind a "Flere kommentarer" button.
- `/inner/`: infinite scroll inside a scrolling container; the window itself does not scroll.
- `/endless/`: never finishes loading (an image that never arrives) and never stops growing.
- `/stream/`: HTML that never stops arriving.
- `/toggle/`: a "Se mere" toggle that closes again on a second click.
- `/sw/`: tries to register a service worker.
- `/leak/`: its script fetches from 127.0.0.2 (or `?to=URL`), which the SSRF guard must refuse;
  `LEAKED` is the name that would then show.
- `/plain/`: plain HTML, no JavaScript (its name is in the HTML); `/redirect/` leads there.

`PLANTED[path]` lists the names each page shows only after JavaScript ran (for `/plain/`: in
the HTML). No planted name appears in any HTML or script file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

from vaern.testing.siteserver import Exchange, SiteServer

PLANTED: dict[str, tuple[str, ...]] = {
    "/group/": ("Annelise Vestergaard Krogh", "Mikkel Sønderby Lund", "Hanne Østergård Dahl"),
    "/feed/": ("Torben Lykke Andersen",),
    "/more/": ("Susanne Bach Winther",),
    "/comments/": ("Preben Kragh Nielsen",),
    "/inner/": ("Lone Damgaard Bech",),
    "/endless/": ("Karsten Holm Friis",),
    "/stream/": ("Birgit Skov Iversen",),
    "/toggle/": ("Poul Erik Thygesen",),
    "/plain/": ("Ole Plainsen Hjort",),
}
LEAKED = "Jytte Lækkesen Borg"
# Which group post (or comment on it) carries which name.
GROUP_POST_NAMES = {2: "Annelise Vestergaard Krogh", 8: "Mikkel Sønderby Lund"}
GROUP_COMMENT_NAMES = {4: "Hanne Østergård Dahl"}

_FILLER = (
    "Jeg har ventet i tre uger på svar fra forvaltningen, og ingen tager telefonen.",
    "Det er simpelthen for dårligt, at man skal skrive så mange gange for at få hjælp.",
    "Nogen der ved, om borgerservice har åbent på lørdag?",
    "Tak for alle svarene, det hjalp at høre andres erfaringer.",
    "Sagsbehandlingstiden er steget igen, står der i avisen i dag.",
    "Husk mødet i medborgerhuset på torsdag klokken 19.",
)

_PAGES = {
    "/": "index.html",
    "/group/": "group.html",
    "/feed/": "feed.html",
    "/more/": "more.html",
    "/comments/": "comments.html",
    "/inner/": "inner.html",
    "/endless/": "endless.html",
    "/toggle/": "toggle.html",
    "/sw/": "sw.html",
    "/plain/": "plain.html",
    "/leak/": "leak.html",
}


def _plant(entries: list[str], here: bool, index: int, text: str) -> list[str]:
    """`entries`, with the one at `index` replaced by `text` (a name the page shows late) if `here`."""
    if here:
        entries[index] = text
    return entries


class JsSite:
    """The fixture site, running until `close()` (or the end of the `with` block)."""

    def __init__(self, group_posts: int = 9, batch: int = 3, delay: float = 0.6) -> None:
        self.group_posts = group_posts
        self.batch = batch
        self.delay = delay
        self.server = SiteServer()
        self.stopping = self.server.stopping
        self._files = resources.files("vaern.testing") / "jssite"
        routes = {
            **{path: self._page(name) for path, name in _PAGES.items()},
            "/sw.js": lambda ex: self._send(ex, 200, b"self.addEventListener('fetch', () => {});", "text/javascript"),
            "/robots.txt": lambda ex: self._send(ex, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
            "/redirect/": lambda ex: ex.send(302, b"", "text/plain", headers={"Location": "/plain/"}),
            "/hang": self._hang,
            "/stream/": lambda ex: ex.stream(self._stream()),
        }
        for path, handler in routes.items():
            self.server.route(path, handler)
        self.server.route("/api/", self._api, prefix=True)
        self.server.route("/group/post/", self._post_page, prefix=True)
        self.server.route("/static/", self._script, prefix=True)
        self.server.route("/", self._missing, prefix=True)

    def __enter__(self) -> JsSite:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.stop()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def requests(self) -> list[str]:
        """The path (with query) of every GET that arrived, in order."""
        return [r.path for r in self.server.requests if r.method == "GET"]

    def url(self, path: str = "/") -> str:
        return self.server.url(path)

    # -- data -------------------------------------------------------------------------------

    def post(self, n: int) -> dict[str, Any]:
        text = _FILLER[n % len(_FILLER)]
        if n in GROUP_POST_NAMES:
            text = f"Hvorfor får {GROUP_POST_NAMES[n]} lov at behandle sager, når hun ikke svarer? {text}"
        return {
            "id": n,
            "author": f"Borger {n}",
            "time": f"2026-11-{(n % 28) + 1:02d}T12:00:00Z",
            "text": text,
            "permalink": f"/group/post/{n}",
            "comments": 2 + n % 2,
        }

    def comments(self, post: str) -> list[dict[str, Any]]:
        out = []
        count = 3 if post == "story" else 2 + int(post) % 2
        for i in range(1, count + 1):
            text = _FILLER[(i + 3) % len(_FILLER)]
            if post == "story" and i == 2:
                text = f"Preben Kragh Nielsen fra forvaltningen burde skamme sig. {text}"
            if post.isdigit() and int(post) in GROUP_COMMENT_NAMES and i == 1:
                text = f"Enig, og {GROUP_COMMENT_NAMES[int(post)]} svarer heller aldrig. {text}"
            anchor = f"c-{post}-{i}"
            base = "/comments/" if post == "story" else f"/group/post/{post}"
            out.append({
                "author": f"Kommentator {i}",
                "time": f"2026-11-2{i}T08:00:00Z",
                "text": text,
                "anchor": anchor,
                "permalink": f"{base}#{anchor}",
            })
        return out

    def _batch(self, key: str, n: int, last: int, entries: list[Any]) -> dict[str, Any]:
        """Batch `n` of a listing that ends with batch `last`, after a third of `delay`."""
        time.sleep(self.delay / 3)
        return {key: entries, "next": n + 1 if n < last else None}

    def api(self, path: str, query: dict[str, str]) -> Any:
        """The JSON behind the pages; `delay` scales every answer's wait."""
        if path == "/api/group":
            n = int(query.get("batch", "0"))
            time.sleep(self.delay if n == 0 else self.delay / 2)
            first = n * self.batch + 1
            ids = [i for i in range(first, first + self.batch) if i <= self.group_posts]
            more = first + self.batch <= self.group_posts
            return {"posts": [self.post(i) for i in ids], "next": n + 1 if more else None}
        if path == "/api/post":
            time.sleep(self.delay / 2)
            return self.post(int(query["id"]))
        if path == "/api/comments":
            time.sleep(self.delay / 3)
            return {"comments": self.comments(query["post"])}
        if path == "/api/feed":
            n = int(query.get("batch", "0"))
            items = [{"title": f"Nyhed {n}.{i}", "text": _FILLER[(n + i) % len(_FILLER)]} for i in range(3)]
            if n == 3:
                items[1]["text"] = f"Torben Lykke Andersen har igen afvist en ansøgning. {items[1]['text']}"
            return self._batch("items", n, 3, items)
        if path == "/api/more":
            n = int(query.get("chunk", "0"))
            lines = [f"Indlæg {n}.{i}: {_FILLER[(n * 2 + i) % len(_FILLER)]}" for i in range(4)]
            planted = "Susanne Bach Winther burde fyres, skriver en anonym bruger."
            return self._batch("lines", n, 3, _plant(lines, n == 3, 2, planted))
        if path == "/api/inner":
            n = int(query.get("batch", "0"))
            messages = [f"Besked {n}.{i}: {_FILLER[(n + i) % len(_FILLER)]}" for i in range(4)]
            planted = "Lone Damgaard Bech bor på Strandvejen, skriver en bruger."
            return self._batch("messages", n, 2, _plant(messages, n == 2, 3, planted))
        if path == "/api/endless":
            time.sleep(self.delay / 3)
            return {"text": "Karsten Holm Friis er nævnt i live-tråden."}
        if path == "/api/leak":
            return {"text": "Jytte Lækkesen Borg kom fra en adresse, der ikke måtte hentes."}
        if path == "/api/stream":
            time.sleep(self.delay / 3)
            return {"text": "Birgit Skov Iversen blev nævnt i strømmen."}
        if path == "/api/toggle":
            return {"paragraphs": ["Resten af opslaget.", "Poul Erik Thygesen svarede aldrig på min klage."]}
        raise KeyError(path)

    # -- routes -----------------------------------------------------------------------------

    @staticmethod
    def _send(ex: Exchange, status: int, body: bytes, kind: str) -> None:
        ex.send(status, body, kind, headers={"Cache-Control": "no-store"})

    def _page(self, name: str) -> Any:
        return lambda ex: self._send(ex, 200, (self._files / name).read_bytes(), "text/html; charset=utf-8")

    def _missing(self, ex: Exchange) -> None:
        self._send(ex, 404, b"not found", "text/plain")

    def _api(self, ex: Exchange) -> None:
        try:
            data = self.api(ex.route, ex.query)
        except (KeyError, ValueError):
            self._missing(ex)
            return
        ex.json(data, headers={"Cache-Control": "no-store"})

    def _post_page(self, ex: Exchange) -> None:
        """`/group/post/N`: an app shell that fetches post N."""
        if not ex.route.rsplit("/", 1)[-1].isdigit():
            self._missing(ex)
            return
        self._page("post.html")(ex)

    def _script(self, ex: Exchange) -> None:
        script = self._files / ex.route.rsplit("/", 1)[-1]
        if not ex.route.endswith(".js") or not script.is_file():
            self._missing(ex)
            return
        self._send(ex, 200, script.read_bytes(), "text/javascript")

    def _hang(self, ex: Exchange) -> None:
        """Never answers: an image that never arrives (`/endless/`), until the site stops."""
        self.stopping.wait()
        ex.raw.close_connection = True

    def _stream(self) -> Iterator[bytes]:
        """HTML that never ends: the browser must read what it has and move on."""
        yield (
            b"<!doctype html><html lang='da'><head><meta charset='utf-8'><title>Stream</title>"
            b"<script src='/static/common.js'></script></head><body><h1>Direkte</h1>"
            b"<div id='names'></div><script>getJSON('/api/stream').then((data) => "
            b"document.getElementById('names').append(el('p', {}, data.text)));</script>"
        )
        n = 0
        while not self.stopping.wait(0.2):
            n += 1
            yield f"<p>Linje {n}</p>\n".encode()
