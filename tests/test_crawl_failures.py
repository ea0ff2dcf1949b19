"""Start URLs that cannot be fetched fail the run, with the reason; every failed URL's reason is
kept per run and shown by `vaern crawl`, `vaern status` and `vaern status --json`; `vaern check`
warns about a start URL on a private address that is not allowed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from vaern.config import Config
from vaern.storage.db import make_engine, session_factory
from vaern.storage.failures import MAX_PER_RUN
from vaern.storage.tables import CrawlFailureRow, CrawlRunRow
from vaern.testing.siteserver import SiteServer


def _vaern(config: Config, *args: str) -> subprocess.CompletedProcess[str]:
    assert config.source is not None
    return subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config.source), *args], capture_output=True, text=True, timeout=240
    )


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer() as site:
        site.set_page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        site.set_page("/private/", "<p>René Rosenkilde</p>")
        site.set_page(
            "/mixed/",
            '<p>Hej</p><a href="/_/slow?seconds=5">slow</a> <a href="/_/huge?mb=2">huge</a>'
            ' <a href="/_/redirect-loop/a">loop</a> <a href="/_/status/500">error</a>',
        )
        yield site


def _site(site_id: str, *urls: str, **extra: object) -> dict[str, object]:
    return {"id": site_id, "start_urls": list(urls), "delay": 0, "autothrottle": False, "retries": 0, **extra}


def test_start_urls_that_all_fail_make_a_failed_run_with_the_reason(
    make_config: Callable[..., Config], server: SiteServer
) -> None:
    port = server.port
    config = make_config(
        sites=[
            _site("guarded", f"http://127.0.0.2:{port}/", f"http://10.20.30.40:{port}/"),
            _site("robots", server.url("/private/")),
            _site("nodns", "http://no-such-host.invalid/"),
            _site("good", server.url("/mixed/"), f"http://127.0.0.2:{port}/x", timeout=1, max_response_mb=1),
        ],
        evidence={"capture": False},
    )
    result = _vaern(config, "crawl", "--no-alerts")
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert "guarded: all 2 start URLs could not be fetched: " in err
    assert f"http://127.0.0.2:{port}/: refused" in err and "not in network.allow_private_hosts" in err
    robots = server.url("/private/")
    assert f"robots: the start URL could not be fetched: {robots}: refused by the site's robots.txt" in err
    assert "nodns: the start URL could not be fetched: http://no-such-host.invalid/: " in err
    rows = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert rows["guarded"] == rows["robots"] == rows["nodns"] == "failed"
    # One start URL of `good` worked: the run went through, with failures: `partial`, never `ok`.
    assert rows["good"] == "partial"

    engine = make_engine(config.database)
    with session_factory(engine)() as session:
        runs = {r.site_id: r for r in session.scalars(select(CrawlRunRow))}
        assert {s: r.status for s, r in runs.items()} == {
            "guarded": "failed", "robots": "failed", "nodns": "failed", "good": "ok"
        }
        good = {f.url: f.reason for f in session.scalars(select(CrawlFailureRow).where(
            CrawlFailureRow.run_id == runs["good"].id))}
    engine.dispose()
    assert good[server.url("/_/slow?seconds=5")] == "timed out after 1 s"
    assert good[server.url("/_/huge?mb=2")] == "response larger than max_response_mb (1 MB)"
    assert good[server.url("/_/redirect-loop/a")].startswith("redirect loop (")
    assert good[server.url("/_/status/500")] == "HTTP 500"
    assert "refused" in good[f"http://127.0.0.2:{port}/x"]

    status = _vaern(config, "status")
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert ", failed: 0 pages fetched" in out
    assert "  error: the start URL could not be fetched: http://no-such-host.invalid/: " in out
    assert ", partial: 1 pages fetched, 0 unchanged, 5 failed;" in out
    assert f"  failed {server.url('/_/slow?seconds=5')}: timed out after 1 s" in out
    assert ", ok: " not in out

    data = json.loads(_vaern(config, "status", "--json").stdout)
    by_site = {s["site"]: s["last_crawl"] for s in data["sites"]}
    assert by_site["good"]["status"] == "ok" and by_site["good"]["outcome"] == "partial"
    reasons = {f["url"]: f["reason"] for f in by_site["good"]["failures"]}
    assert reasons[server.url("/_/huge?mb=2")] == "response larger than max_response_mb (1 MB)"
    assert by_site["robots"]["outcome"] == "failed"
    [robots] = by_site["robots"]["failures"]
    assert robots["start_url"] is True and "robots.txt" in robots["reason"]


def test_vaern_check_warns_about_a_start_url_on_a_private_address(make_config: Callable[..., Config]) -> None:
    config = make_config(
        sites=[
            _site("lan", "http://192.168.1.20/forum/"),
            _site("local", "http://localhost:8080/", "http://127.0.0.1:9/"),
            _site("public", "https://blog.example/"),
        ],
        network={"allow_private_hosts": ["127.0.0.2"]},
    )
    result = _vaern(config, "check")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if "will not fetch it" in line]
    assert len(warnings) == 3, result.stdout
    assert warnings[0].startswith("  warning: site lan: start URL refused http://192.168.1.20/forum/: ")
    assert "site local: start URL refused http://localhost:8080/" in warnings[1]
    assert "site local: start URL refused http://127.0.0.1:9/" in warnings[2]
    allowed = make_config(sites=[_site("local", "http://localhost:8080/")],
                          network={"allow_private_hosts": ["localhost", "127.0.0.1", "::1"]})
    assert "will not fetch it" not in _vaern(allowed, "check").stdout


def test_failures_kept_per_run_are_bounded(make_config: Callable[..., Config]) -> None:
    from vaern.app import open_services
    from vaern.domain import FetchFailure
    from vaern.storage.db import transaction
    from vaern.storage.failures import record_failure, run_failures
    from vaern.storage.queries import new_run

    config = make_config(sites=[_site("blog", "https://blog.example/")])
    services = open_services(config)
    with transaction(services.sessions) as session:
        run = new_run(session, "blog")
    with transaction(services.sessions) as session:
        for n in range(MAX_PER_RUN + 20):
            record_failure(session, run, FetchFailure("blog", f"https://blog.example/{n}", "HTTP 500", 500),
                           start_url=False)
        record_failure(session, run, FetchFailure("blog", "https://blog.example/3", "timed out after 30 s"),
                       start_url=False)
        record_failure(session, run, FetchFailure("blog", "https://blog.example/", "HTTP 503", 503), start_url=True)
    with services.sessions() as session:
        kept = run_failures(session, run)
    services.engine.dispose()
    assert len(kept) == MAX_PER_RUN + 1  # the start URL is always kept
    assert kept[0].url == "https://blog.example/" and kept[0].start_url
    again = next(f for f in kept if f.url == "https://blog.example/3")
    assert again.times == 2 and again.reason == "timed out after 30 s"
