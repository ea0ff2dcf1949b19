"""Labelled pages for "a photo beside the name": HTML written for it, from varied shapes.

    python bench/photo_devset.py [--seed 3] [--n 120] [-o bench/data/photo_dev.jsonl]

Each line is one page (`html`) and, for the watched person it names (`person`), whether it
shows a picture of them (`photo`). Shapes with a photo: a post with a photo beside the name (no
size declared, or a large one, in `src` or lazy `data-src`); a captioned figure naming the
person; a post whose picture's alt text names the person. Shapes without: the same posts with
an avatar, an icon, a smiley or a logo instead (by class, address or a small declared size);
a photo in another post than the one naming the person; a photo in the page header only; a
post naming the person without any picture. The people are score_assess's (assess_devset.PEOPLE).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from assess_devset import PEOPLE

SAYS = [
    "{name} har igen lukket vores sag uden at svare.",
    "Her er {name}, som tog vores børn.",
    "{name} burde skamme sig over sin sagsbehandling.",
    "Kender nogen {name} fra forvaltningen?",
    "{name} er en løgner og en idiot.",
    "Endnu et møde med {name} i dag.",
]
OTHER = ["Tak for en god dag i haven.", "Husk mødet på torsdag.", "Vi ses til sommerfesten."]
PHOTOS = ["/billeder/IMG_{n}.jpg", "/uploads/2026/11/foto-{n}.jpeg", "/media/{n}.png"]
DECORATION = [
    '<img class="avatar" src="/u/{n}.jpg" alt="">',
    '<img src="https://secure.gravatar.com/avatar/{n}?s=48">',
    '<img src="/ikoner/like.png" width="16" height="16">',
    '<img src="/forum/smiley.png" alt=":)">',
    '<img src="/img/logo.svg" alt="Gruppen">',
    '<img src="/p/{n}.jpg" width="48" height="48">',
    '<img src="/p/{n}.jpg" style="width: 40px; height: 40px">',
]


def _photo(rnd: random.Random, n: int, alt: str = "") -> str:
    src = rnd.choice(PHOTOS).format(n=n)
    size = rnd.choice(["", ' width="800" height="600"', ' width="640"'])
    attribute = rnd.choice(["src", "src", "data-src"])
    return f'<img {attribute}="{src}"{size} alt="{alt}">'


def _page(body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset=utf-8><title>Gruppen</title></head><body>"
        '<header><img src="/img/logo.png" alt="logo"><h1>Gruppen</h1></header>'
        f"<main>{body}</main></body></html>"
    )


def make_page(rnd: random.Random, n: int) -> dict[str, object]:
    pid, name, _ = rnd.choice(PEOPLE)
    says = rnd.choice(SAYS).format(name=name)
    other = rnd.choice(OTHER)
    shape = rnd.choice(["beside", "figure", "alt", "avatar", "other_post", "header_only", "no_picture"])
    if shape == "beside":
        body = f"<article><p>{says}</p>{_photo(rnd, n)}</article><article><p>{other}</p></article>"
    elif shape == "figure":
        body = (f"<article><p>{other}</p><figure>{_photo(rnd, n)}<figcaption>{name} på rådhuset"
                f"</figcaption></figure><p>{says}</p></article>")
    elif shape == "alt":
        body = f'<div class="post"><p>{says}</p><p>{other}</p>{_photo(rnd, n, alt=name)}</div>'
    elif shape == "avatar":
        body = f'<div class="comment">{rnd.choice(DECORATION).format(n=n)}<p>{says}</p></div>'
    elif shape == "other_post":
        body = f"<article><p>{says}</p></article><article><p>{other}</p>{_photo(rnd, n)}</article>"
    elif shape == "header_only":
        body = f"<article><p>{says}</p><p>{other}</p></article>"
    else:
        body = f"<article><p>{says}</p></article>"
    return {"id": f"f{n:03d}", "html": _page(body), "person": pid, "photo": shape in ("beside", "figure", "alt"),
            "shape": shape}


def make_pages(seed: int = 3, n: int = 120) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    return [make_page(rnd, i) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "data" / "photo_dev.jsonl")
    args = parser.parse_args()
    rows = make_pages(args.seed, args.n)
    args.output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} pages -> {args.output}")


if __name__ == "__main__":
    main()
