"""Real site software: hits and snapshots per planted post, quiet recrawls, traps, render: auto.

    .venv/bin/python bench/realsites.py [--names 6] [--no-capture]

Serves the WordPress-like blog and the Spirit-like forum of testing/realsites.py on 127.0.0.1,
plants one post (blog) or topic (forum) per watched name, plus a name in a comment on an older
comment page, and runs `vaern crawl --no-alerts` twice (evidence capture on unless --no-capture;
the forum as `render: auto` with a search URL that redirects to a login page), then reads
`vaern hits --json` and the run rows. Figures, each next to a baseline measured here too:

  hits / planted post       now: hits on the site per planted name (target 1.0), and how many
                            of them are on the planted page; baseline: one hit per (person,
                            page) over every page the first crawl read, as before listing pages
                            gave their mentions to the post (what the pipeline did)
  snapshots / planted post  now: snapshots of those hits (target 1.0); baseline: one per
                            baseline hit
  re-matched on recrawl     now: pages the unchanged second crawl matched again (target <= 5 %);
                            baseline: pages whose bytes differed between two fetches (the old
                            raw-byte hash; the fixture's routes send no validators)
  requests in traps         now: requests for login, register, reply, print, share and feed
                            URLs in the first crawl; baseline: the same crawl with
                            `follow.builtin_deny: false`
  render: auto              now: the forum's remembered decision; baseline: what the decision
                            rule says about the login page the search redirects to

Normalisation of links is on in both runs, so the baselines understate what the code before
issue 21 did (it also fetched every `?replytocom=` and `?page=1` URL).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern.config import load_config
from vaern.crawler.extract import extract_html
from vaern.crawler.render import needs_browser
from vaern.domain import WatchedPerson
from vaern.matchers import build_index
from vaern.storage.db import make_engine
from vaern.storage.queries import site_memory
from vaern.storage.tables import CrawlRunRow
from vaern.testing.realsites import Planted, blog_posts, forum_topics, mount_blog, mount_forum
from vaern.testing.siteserver import SiteServer

NAMES = [
    "Signe Brix Frølund", "René Rosenkilde", "Mette Aaskov", "Karin Juhl", "Søren Kjærgaard", "Lone Bak Vestergaard",
]
TRAP_WORDS = ("login", "register", "replytocom", "print=", "share=", "comments/feed", "/feed/atom", "publish", "logout")


def vaern(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "vaern", "-c", str(config), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"vaern {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def write_config(path: Path, blog: SiteServer, forum: SiteServer, names: list[str], capture: bool, deny: bool) -> Path:
    people = [{"id": f"p{i}", "name": n, "unit": "u"} for i, n in enumerate(names)]
    polite = {"delay": 0, "autothrottle": False, "robots": "ignore", "concurrency": 4,
              "follow": {"max_depth": 3, "builtin_deny": deny}}
    data: dict[str, Any] = {
        "organisation": "Bench Kommune",
        "database": f"sqlite:///{path / 'vaern.db'}",
        "archive": str(path / "archive"),
        "network": {"allow_private_hosts": ["127.0.0.1"]},
        "units": [{"id": "u", "name": "Enhed", "leader": {"name": "Lene Leder", "email": "lene@bench.example"}}],
        "people": people,
        "evidence": {"capture": capture},
        "sites": [
            {"id": "blog", "start_urls": [blog.url("/")], **polite},
            {"id": "forum", "start_urls": [forum.url("/")], "render": "auto",
             "search_urls": [forum.url("/search/?q={query}")], **polite},
        ],
    }
    config = path / "vaern.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config


def trap_requests(paths: list[str]) -> int:
    return sum(1 for p in paths if any(w in p for w in TRAP_WORDS))


def page_hits(server: SiteServer, paths: list[str], names: list[str]) -> int:
    """Baseline hits: (person, page) pairs over every HTML page requested, fetched again here."""
    index = build_index([WatchedPerson(id=f"p{i}", name=n) for i, n in enumerate(names)])
    pairs = set()
    for path in sorted(set(paths)):
        try:
            with urllib.request.urlopen(server.url(path), timeout=10) as response:  # noqa: S310 (loopback)
                if "html" not in response.headers.get("Content-Type", "") or response.url != server.url(path):
                    continue
                body = response.read()
        except OSError:
            continue
        extracted = extract_html(body, server.url(path))
        for field in (extracted.title, extracted.text):
            pairs.update((m.person, path) for m in index.find(field))
    return len(pairs)


def raw_changes(server: SiteServer, paths: list[str]) -> tuple[int, int]:
    """Baseline re-matches: pages whose bytes differ between two fetches (of the HTML pages)."""
    changed = total = 0
    for path in sorted(set(paths)):
        bodies = []
        for _ in range(2):
            try:
                with urllib.request.urlopen(server.url(path), timeout=10) as response:  # noqa: S310 (loopback)
                    if "html" not in response.headers.get("Content-Type", "") or response.url != server.url(path):
                        break
                    bodies.append(hashlib.sha256(response.read()).hexdigest())
            except OSError:
                break
        if len(bodies) == 2:
            total += 1
            changed += bodies[0] != bodies[1]
    return changed, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=6, help="watched names planted (at most 6)")
    parser.add_argument("--no-capture", action="store_true", help="skip evidence capture (no snapshots)")
    args = parser.parse_args()
    names = NAMES[: max(1, min(args.names, len(NAMES)))]
    posts, blog_planted = blog_posts(names)
    topics, forum_planted = forum_topics(names)
    planted: dict[str, list[Planted]] = {"blog": blog_planted, "forum": forum_planted}
    rows = []
    with SiteServer() as blog, SiteServer() as forum, tempfile.TemporaryDirectory() as tmp:
        mount_blog(blog, posts)
        mount_forum(forum, topics)
        servers = {"blog": blog, "forum": forum}
        # Baseline crawl: built-in deny patterns off.
        base_dir = Path(tmp) / "baseline"
        base_dir.mkdir()
        vaern(write_config(base_dir, blog, forum, names, capture=False, deny=False), "crawl", "--no-alerts")
        base_paths = {s: servers[s].paths() for s in servers}
        for server in servers.values():
            server.clear()
        # Now: two crawls with everything on.
        now_dir = Path(tmp) / "now"
        now_dir.mkdir()
        config = write_config(now_dir, blog, forum, names, capture=not args.no_capture, deny=True)
        started = time.perf_counter()
        vaern(config, "crawl", "--no-alerts")
        first_seconds = time.perf_counter() - started
        paths = {s: servers[s].paths() for s in servers}
        vaern(config, "crawl", "--no-alerts")
        hits = json.loads(vaern(config, "hits", "--json").stdout)
        loaded = load_config(config)
        engine = make_engine(loaded.database)
        with Session(engine) as session:
            runs = {
                s: session.scalars(select(CrawlRunRow).where(CrawlRunRow.site_id == s).order_by(CrawlRunRow.id)).all()
                for s in servers
            }
            decision = site_memory(session, "forum")[1]
        engine.dispose()
        login_page = forum.url("/user/login/?next=/search/%3Fq%3Dx")
        with urllib.request.urlopen(login_page, timeout=10) as response:  # noqa: S310 (loopback)
            login_verdict = needs_browser(response.read()).verdict
        for site, server in servers.items():
            n = len(planted[site])
            on_site = [h for h in hits if h["site"] == site]
            right = {(p.person, p.path) for p in planted[site]}
            id_of = {f"p{i}": name for i, name in enumerate(names)}
            placed = sum(1 for h in on_site if (id_of[h["person"]], h["url"].removeprefix(server.base_url)) in right)
            snapshots = sum(len(h["snapshots"]) for h in on_site)
            base_hits = page_hits(server, base_paths[site], names)
            second = runs[site][-1]
            rematched = second.pages_fetched
            read = second.pages_fetched + second.pages_unchanged
            changed, total = raw_changes(server, [p for p in base_paths[site] if not any(w in p for w in TRAP_WORDS)])
            rows.append((site, n, len(on_site), placed, snapshots, base_hits, rematched, read, changed, total,
                         trap_requests(paths[site]), len(paths[site]), trap_requests(base_paths[site]),
                         len(base_paths[site])))
    print(f"real site software: {len(names)} watched names planted; first crawl {first_seconds:.1f} s")
    print(f"{'site':<6} {'figure':<26} {'now':>14} {'baseline':>14}  target")
    for (site, n, nhits, placed, snaps, base_hits, rematched, read, changed, total, traps, reqs, base_traps,
         base_reqs) in rows:
        print(f"{site:<6} {'hits / planted post':<26} {nhits / n:>14.2f} {base_hits / n:>14.2f}  1.0"
              f"  ({placed} of {n} on the planted page)")
        snap_now = f"{snaps / n:.2f}" if not args.no_capture else "off"
        print(f"{'':<6} {'snapshots / planted post':<26} {snap_now:>14} {base_hits / n:>14.2f}  1.0")
        print(f"{'':<6} {'re-matched on recrawl':<26} {f'{rematched}/{read}':>14} {f'{changed}/{total}':>14}"
              f"  <= 5 %  ({100 * rematched / max(read, 1):.1f} % vs {100 * changed / max(total, 1):.1f} %)")
        print(f"{'':<6} {'requests in traps':<26} {f'{traps}/{reqs}':>14} {f'{base_traps}/{base_reqs}':>14}")
    print(f"{'forum':<6} {'render: auto':<26} {decision or '-':>14} {login_verdict:>14}  http")


if __name__ == "__main__":
    main()
