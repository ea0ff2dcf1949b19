"""The fixture zoo: pages written the many ways real sites are, served by `JsSite` under /zoo/.

Each page shows its planted names only once JavaScript has done what that kind of site does
(the names come from the JSON API here, never from an HTML or script file):

- `/zoo/timers/`: every post drawn by its own timer, at a random moment up to 2 s after load;
- `/zoo/skeleton/`: skeleton boxes first, replaced by the posts after a timer and a fetch;
- `/zoo/late-more/`: the first batch a moment after load, and only then a "Vis flere" button;
- `/zoo/infinite/`: infinite scroll by an IntersectionObserver, each batch drawn a moment after
  its data arrives;
- `/zoo/virtual/`: a virtualised list, 60 posts of which about 10 are in the DOM at a time;
- `/zoo/comments/`: a post whose comments are behind "Se flere kommentarer";
- `/zoo/shadow/`: a web component drawing its post inside an open shadow root;
- `/zoo/frames/`: a same-origin iframe and a cross-origin comment widget (`localhost` instead of
  127.0.0.1: both must be in `network.allow_private_hosts`);
- `/zoo/spa/`, `/zoo/spa/post/N`: one app shell for every address, a client-side router, links
  that move between posts with pushState;
- `/zoo/lazy/`: lazily loaded images, each caption fetched once its image has loaded;
- `/zoo/reload/`: a page that reloads itself once, after a timer, before it shows its post;
- `/zoo/scheduler/`: rendered as a framework's scheduler renders, in slices posted to a
  `MessageChannel` (no timer, no request, no DOM change) for 1.5 s before the posts go in.

`ZOO_PLANTED[path]` lists the names a page shows; `ZOO_PEOPLE` is a people list for a config.
"""

from __future__ import annotations

import time
from typing import Any

ZOO_PLANTED: dict[str, tuple[str, ...]] = {
    "/zoo/timers/": ("Bodil Marie Skovgaard",),
    "/zoo/skeleton/": ("Frederik Holm Ravnsbæk",),
    "/zoo/late-more/": ("Gitte Lund Sejersen",),
    "/zoo/infinite/": ("Henning Bak Mølgaard",),
    "/zoo/virtual/": ("Inge Kjærsgaard Thomsen", "Jens Ulrik Brøndum"),
    "/zoo/comments/": ("Kirsten Fog Andreasen",),
    "/zoo/shadow/": ("Lars Emil Vinther",),
    "/zoo/frames/": ("Maja Strøm Kofoed", "Niels Otto Lindegaard"),  # the same-origin frame, the widget
    "/zoo/spa/post/2": ("Oda Lykke Rasmussen",),
    "/zoo/lazy/": ("Per Vilhelm Dalsgaard",),
    "/zoo/reload/": ("Rikke Bundgaard Falk",),
    "/zoo/scheduler/": ("Søren Munk Hvidberg",),
}
ZOO_PEOPLE = [
    {"id": f"z{n}", "name": name}
    for n, name in enumerate(sorted({name for names in ZOO_PLANTED.values() for name in names}), start=1)
]

PAGES = {
    "/zoo/": "index.html",
    "/zoo/timers/": "timers.html",
    "/zoo/skeleton/": "skeleton.html",
    "/zoo/late-more/": "late-more.html",
    "/zoo/infinite/": "infinite.html",
    "/zoo/virtual/": "virtual.html",
    "/zoo/comments/": "comments.html",
    "/zoo/shadow/": "shadow.html",
    "/zoo/frames/": "frames.html",
    "/zoo/frame-inner": "frame-inner.html",
    "/zoo/widget": "widget.html",
    "/zoo/spa/": "spa.html",
    "/zoo/lazy/": "lazy.html",
    "/zoo/reload/": "reload.html",
    "/zoo/scheduler/": "scheduler.html",
}

_CHATTER = (
    "Jeg har ventet i tre uger på svar fra forvaltningen.",
    "Det er for dårligt, at man skal ringe så mange gange.",
    "Nogen der ved, om borgerservice har åbent på lørdag?",
    "Tak for svarene, det hjalp at høre andres erfaringer.",
    "Sagsbehandlingstiden er steget igen, står der i avisen.",
    "Husk mødet i medborgerhuset på torsdag klokken 19.",
)


def page_file(path: str) -> str | None:
    """The file behind a zoo address (every /zoo/spa/… address is the app shell)."""
    if path.startswith("/zoo/spa/"):
        return "spa.html"
    return PAGES.get(path)


def _post(n: int, text: str | None = None, prefix: str = "p") -> dict[str, Any]:
    return {"id": f"{prefix}{n}", "author": f"Borger {n}", "time": f"2026-11-{(n % 28) + 1:02d}T12:00:00Z",
            "text": text or _CHATTER[n % len(_CHATTER)], "permalink": f"/zoo/posts/{prefix}{n}", "comments": 0}


def _naming(name: str, n: int) -> str:
    return f"Hvorfor får {name} lov at behandle sager, når hun ikke svarer? {_CHATTER[n % len(_CHATTER)]}"


def api(path: str, query: dict[str, str]) -> Any:
    """The zoo's JSON; small delays, as a real backend has."""
    page = path.removeprefix("/api/zoo/")
    if page == "scheduler":
        time.sleep(0.1)
        [name] = ZOO_PLANTED["/zoo/scheduler/"]
        return {"posts": [_post(n, _naming(name, n) if n == 2 else None, "q") for n in range(1, 4)]}
    if page == "timers":
        time.sleep(0.1)
        [name] = ZOO_PLANTED["/zoo/timers/"]
        return {"posts": [_post(n, _naming(name, n) if n == 3 else None, "t") for n in range(1, 6)]}
    if page == "skeleton":
        time.sleep(0.5)
        [name] = ZOO_PLANTED["/zoo/skeleton/"]
        return {"posts": [_post(n, _naming(name, n) if n == 2 else None, "s") for n in range(1, 4)]}
    if page == "late-more":
        batch = int(query.get("batch", "0"))
        time.sleep(0.4)
        [name] = ZOO_PLANTED["/zoo/late-more/"]
        posts = [_post(batch * 3 + i, _naming(name, i) if batch == 2 and i == 1 else None, "m") for i in range(3)]
        return {"posts": posts, "next": batch + 1 if batch < 2 else None}
    if page == "infinite":
        batch = int(query.get("batch", "0"))
        time.sleep(0.3)
        [name] = ZOO_PLANTED["/zoo/infinite/"]
        posts = [_post(batch * 3 + i, _naming(name, i) if batch == 4 and i == 2 else None, "i") for i in range(3)]
        return {"posts": posts, "next": batch + 1 if batch < 4 else None}
    if page == "virtual":
        time.sleep(0.2)
        first, second = ZOO_PLANTED["/zoo/virtual/"]
        named = {7: first, 52: second}
        return {"posts": [_post(n, _naming(named[n], n) if n in named else None, "v") for n in range(60)]}
    if page == "comments":
        time.sleep(0.2)
        if query.get("more"):
            [name] = ZOO_PLANTED["/zoo/comments/"]
            comments = [{"author": f"Kommentator {i}", "time": "2026-11-22T08:00:00Z", "anchor": f"k{i}",
                         "permalink": f"/zoo/comments/#k{i}",
                         "text": f"{name} burde skamme sig." if i == 2 else _CHATTER[i]} for i in range(1, 4)]
            return {"comments": comments}
        return {"text": "Kommunen lukker værestedet i Nordbyen ved årets udgang."}
    if page == "shadow":
        time.sleep(0.3)
        [name] = ZOO_PLANTED["/zoo/shadow/"]
        return {"author": "Borger 9", "text": _naming(name, 9)}
    if page == "frame-inner":
        time.sleep(0.2)
        return {"text": _naming(ZOO_PLANTED["/zoo/frames/"][0], 1)}
    if page == "widget":
        time.sleep(0.3)
        name = ZOO_PLANTED["/zoo/frames/"][1]
        return {"comments": [{"author": "Læser", "time": "2026-11-22T09:00:00Z", "anchor": "w1",
                              "permalink": "/zoo/widget#w1", "text": f"{name} har ansvaret, skriv til hende."}]}
    if page == "spa":
        time.sleep(0.3)
        if "id" in query:
            n = int(query["id"])
            [name] = ZOO_PLANTED["/zoo/spa/post/2"]
            post = _post(n, _naming(name, n) if n == 2 else None, "a")
            return {**post, "permalink": f"/zoo/spa/post/{n}"}
        return {"posts": [{"title": f"Opslag {n}", "permalink": f"/zoo/spa/post/{n}"} for n in (1, 2, 3)]}
    if page == "lazy":
        if "caption" in query:
            n = int(query["caption"])
            time.sleep(0.1)
            [name] = ZOO_PLANTED["/zoo/lazy/"]
            return {"text": f"Billede {n}: {name} ved mødet." if n == 14 else f"Billede {n} fra mødet."}
        return {"images": list(range(1, 17))}
    if page == "reload":
        time.sleep(0.2)
        return _post(1, _naming(ZOO_PLANTED["/zoo/reload/"][0], 1), "r")
    raise KeyError(path)


def image(n: int) -> bytes:
    """An image for the lazy page (a numbered grey box)."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300" '
            f'fill="#bbb"/><text x="20" y="40" font-size="30">{n}</text></svg>').encode()
