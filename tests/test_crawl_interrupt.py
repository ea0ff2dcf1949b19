"""Ctrl-C or SIGTERM on `vaern crawl`: the crawl processes are told to stop, given a bounded time,
then killed; every run ends finished, the parent says what was saved, and no crawl goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from vaern.config import Config
from vaern.storage.db import make_engine, session_factory
from vaern.storage.tables import CrawlRunRow, HitRow
from vaern.testing.siteserver import SiteServer


@pytest.fixture
def slow_site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        links = "".join(f'<a href="/_/slow?seconds=60&n={n}">slow {n}</a>' for n in range(4))
        server.set_page("/", f"<!doctype html><p>Hvorfor får René Rosenkilde lov?</p>{links}")
        yield server


def _crawl_children(parent: psutil.Process, config: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "crawl-site" in cmdline and str(config) in cmdline and process.pid != parent.pid:
            found.append(process)
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_crawl_its_children_and_says_what_was_saved(
    make_config: Callable[..., Config], slow_site: SiteServer, tmp_path: Path, signum: int
) -> None:
    config = make_config(
        sites=[{"id": "slow", "start_urls": [slow_site.url("/")], "delay": 0, "autothrottle": False}],
        evidence={"capture": False},
    )
    assert config.source is not None
    parent = subprocess.Popen(
        [sys.executable, "-m", "vaern", "-c", str(config.source), "crawl", "--no-alerts"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    engine = make_engine(config.database)
    sessions = session_factory(engine)
    try:
        deadline = time.monotonic() + 60
        while slow_site.count("/_/slow") == 0:  # the crawl is in the middle of the slow pages
            assert parent.poll() is None, parent.communicate()
            assert time.monotonic() < deadline, "the crawl never reached the slow pages"
            time.sleep(0.1)
        children = _crawl_children(psutil.Process(parent.pid), config.source)
        assert children, "no crawl process found"
        os.kill(parent.pid, signum)
        started = time.monotonic()
        out, err = parent.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 1, (out, err)
    assert took < 30, f"stopping took {took:.1f} s"
    name = signal.Signals(signum).name
    assert f"Interrupted by {name}" in err
    assert "Saved before stopping: 1 pages, 1 new hits." in out
    gone = psutil.wait_procs(children, timeout=5)[1]
    assert not gone, f"crawl processes still running: {[p.pid for p in gone]}"
    with sessions() as session:
        [run] = session.scalars(select(CrawlRunRow)).all()
        assert run.finished_at is not None and run.status == "stopped", (run.status, run.error)
        assert session.scalars(select(HitRow)).all()
    engine.dispose()

    # `vaern status` no longer says "crawling now".
    status = subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(config.source), "status"], capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0, status.stderr
    assert "crawling now" not in status.stdout and "stopped" in status.stdout
