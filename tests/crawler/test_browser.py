"""Finding Chromium, one browser per session, fresh contexts, and no Chromium left behind."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from vaern.config import Browser
from vaern.crawler.browser import (
    LAUNCH_ARGS,
    MARKER_ENV,
    MARKER_PREFIX,
    NETWORK_ARGS,
    NO_NETWORK,
    TREE_ENV,
    BrowserSession,
    browser_processes,
    find_chromium,
    kill_browsers,
    launch_options,
    marker_dir,
    new_marker,
    owner_alive,
    reap_orphaned_browsers,
)
from vaern.errors import BrowserNotFound
from vaern.testing.browsing import BrowserThread
from vaern.testing.jssite import JsSite
from vaern.testing.processes import live_descendants, own_browser_markers

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site() -> Iterator[JsSite]:
    with JsSite(delay=0.3) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    bt = BrowserThread(Browser(timeout=20))
    yield bt
    bt.close()


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_until_gone(marker: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not browser_processes(marker):
            return 0
        time.sleep(0.1)
    return len(browser_processes(marker))


# -- finding and launching ------------------------------------------------------------------


def test_vaern_chromium_wins_and_a_bad_one_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VAERN_CHROMIUM", "/usr/bin/chromium")
    assert find_chromium(Browser(executable="/nonexistent")) == "/usr/bin/chromium"
    monkeypatch.setenv("VAERN_CHROMIUM", str(tmp_path / "nope"))
    with pytest.raises(BrowserNotFound, match=r"VAERN_CHROMIUM names .*nope.*not an executable"):
        find_chromium()
    monkeypatch.delenv("VAERN_CHROMIUM")
    with pytest.raises(BrowserNotFound, match=r"browser.executable names '/nonexistent'"):
        find_chromium(Browser(executable="/nonexistent"))


def test_none_found_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("VAERN_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserNotFound, match="apt-get install chromium"):
        find_chromium()


def test_launch_options_carry_flags_and_marker() -> None:
    marker = "vaern-browser-1-2-ab"
    options = launch_options(Browser(timeout=7), marker=marker, folder=marker_dir(marker))
    assert options["headless"] is True
    assert options["args"] == [*LAUNCH_ARGS, *NETWORK_ARGS]
    # Without a guard proxy, Chromium has no network at all; loopback is never bypassed.
    assert options["proxy"] == {"server": NO_NETWORK, "bypass": "<-loopback>"}
    assert "--proxy-bypass-list=<-loopback>" in options["args"] and "--disable-quic" in options["args"]
    assert "--no-sandbox" in options["args"] and "--disable-gpu" in options["args"]
    assert options["timeout"] == 7000
    assert options["env"][MARKER_ENV] == "vaern-browser-1-2-ab"
    assert options["env"]["TMPDIR"] == str(marker_dir("vaern-browser-1-2-ab"))
    # Launched by anyone else (evidence capture, export): still marked as this process's.
    other = launch_options()
    assert other["env"][MARKER_ENV].startswith(f"vaern-browser-{os.getpid()}-")
    assert "TMPDIR" not in other["env"] or other["env"]["TMPDIR"] == os.environ.get("TMPDIR")


# -- one browser, fresh contexts --------------------------------------------------------------


def _main_pids(marker: str) -> set[int]:
    """The browser process itself (not its renderers, helpers or crash handler)."""
    return {
        p.pid
        for p, _m in browser_processes(marker)
        if "--type=" not in " ".join(p.cmdline()) and "crashpad" not in p.name()
    }


def test_one_browser_fresh_context_per_page(browser: BrowserThread, site: JsSite) -> None:
    async def visit(session: BrowserSession) -> tuple[list[str], list[int], set[int]]:
        storage, contexts, mains = [], [], set()
        for _ in range(3):
            async with session.page() as page:
                await page.goto(site.url("/plain/"))
                storage.append(await page.evaluate("document.cookie + '|' + localStorage.getItem('k')"))
                await page.evaluate("document.cookie = 'seen=1; path=/'; localStorage.setItem('k', 'v')")
                assert page.context.browser is not None
                contexts.append(len(page.context.browser.contexts))
                mains |= _main_pids(session.marker)
        return storage, contexts, mains

    storage, contexts, mains = browser.run(visit)
    assert storage == ["|null"] * 3, "a page must not see an earlier page's cookies or storage"
    # The page's own context, and at most one spare opened ahead for the next page.
    assert all(n <= 2 for n in contexts), "each page's context is closed when the page is done"
    assert len(mains) == 1, "one browser process serves every page"


def test_service_workers_are_blocked(browser: BrowserThread, site: JsSite) -> None:
    async def visit(session: BrowserSession) -> int:
        async with session.page() as page:
            await page.goto(site.url("/sw/"))
            await page.wait_for_function("document.getElementById('state').textContent !== 'venter'")
            await page.wait_for_timeout(300)
            return int(await page.evaluate("navigator.serviceWorker.getRegistrations().then(r => r.length)"))

    # Playwright's block makes register() a no-op: the page thinks it worked, nothing is installed,
    # and the worker script is never fetched, so every request stays visible to us.
    assert browser.run(visit) == 0
    assert "/sw.js" not in site.requests
    assert "/sw/" in site.requests


def test_a_crashed_browser_is_replaced(site: JsSite) -> None:
    bt = BrowserThread(Browser(timeout=20))
    try:
        async def title(session: BrowserSession) -> str:
            async with session.page() as page:
                await page.goto(site.url("/plain/"))
                return await page.title()

        assert bt.run(title) == "Almindelig side"
        for proc, _m in browser_processes(bt.session.marker):
            with contextlib.suppress(psutil.NoSuchProcess):  # a helper may go with the main process first
                proc.kill()
        _wait_until_gone(bt.session.marker, 10)
        assert bt.run(title) == "Almindelig side"
        assert browser_processes(bt.session.marker)
    finally:
        bt.close()
    assert _wait_until_gone(bt.session.marker, 5) == 0


def test_close_leaves_no_process_and_no_folder(site: JsSite) -> None:
    bt = BrowserThread()

    async def visit(session: BrowserSession) -> None:
        async with session.page() as page:
            await page.goto(site.url("/feed/"))

    bt.run(visit)
    marker = bt.session.marker
    procs = [p for p, _m in browser_processes(marker)]
    assert len(procs) >= 3, "Chromium runs as several processes, all marked"
    assert marker_dir(marker).is_dir()
    bt.close()
    assert _alive(procs) == []
    assert browser_processes(marker) == []
    assert not marker_dir(marker).exists()


def test_a_failing_crawl_closes_its_browser(site: JsSite) -> None:
    bt = BrowserThread()

    async def fail(session: BrowserSession) -> None:
        async with session:
            async with session.page() as page:
                await page.goto(site.url("/plain/"))
                raise RuntimeError("the crawl broke")

    with pytest.raises(RuntimeError, match="the crawl broke"):
        bt.run(fail)
    assert browser_processes(bt.session.marker) == []
    bt.close()


# -- killed crawls ------------------------------------------------------------------------------


def _start_holder(site: JsSite, how: str = "hold") -> tuple[subprocess.Popen[str], str]:
    """A stand-in crawl process, in its own session as the supervisor starts crawls, mid-page."""
    child = subprocess.Popen(
        [sys.executable, "-m", "vaern.testing.browsing", how, site.url("/endless/")],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    marker = json.loads(line)["marker"]
    assert len(browser_processes(marker)) >= 2
    return child, marker


def test_sigkill_of_the_crawl_process_leaves_no_chromium(site: JsSite) -> None:
    child, marker = _start_holder(site)
    child.send_signal(signal.SIGKILL)
    child.wait()
    # Playwright's driver sees its stdin close and closes the browser; nobody else helps here.
    assert _wait_until_gone(marker, 15) == 0


@pytest.mark.parametrize("how", ["hold", "hold-bare"])
def test_sigkill_of_everything_then_the_service_reaps(site: JsSite, how: str) -> None:
    """`hold`: a BrowserSession; `hold-bare`: Playwright launched with launch_options() alone,
    as evidence capture does. Either way the leftover Chromium is found and killed."""
    child, marker = _start_holder(site, how)
    # A live crawl's browser in this process must survive the sweep. It is started first, so that
    # the sweep follows the kill at once.
    bt = BrowserThread()
    try:
        async def start(session: BrowserSession) -> None:
            await session.browser()

        bt.run(start)
        mine = [p for p, _m in browser_processes(bt.session.marker)]

        # Freeze Chromium so it cannot notice its pipe closing, then kill the crawl's whole process
        # group (as supervisor.kill_crawl does): the browser is left over, and only the sweep can help.
        frozen = [p for p, _m in browser_processes(marker)]
        group = os.getpgid(frozen[0].pid)
        victims = [p for p in psutil.process_iter() if _pgid(p) == group] + frozen
        for proc in victims:
            proc.suspend()
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        assert _group_gone(child.pid, 10), "the crawl's process group outlived SIGKILL"
        assert not owner_alive(marker)
        assert len(_alive(victims)) >= 3, "frozen Chromium survives the kill of its crawl"

        killed = reap_orphaned_browsers()
        assert killed >= len(frozen)
        assert _alive(victims) == [], "every process of the left-over browser is gone, renderers too"
        assert browser_processes(marker) == []
        assert not marker_dir(marker).exists()
        assert _alive(mine) == mine, "a running crawl's browser is left alone"
    finally:
        bt.close()


def _group_gone(pgid: int, seconds: float) -> bool:
    """Wait until no live process is left in process group `pgid` (SIGKILL is delivered, not instant)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive([p for p in psutil.process_iter() if _pgid(p) == pgid]):
            return True
        time.sleep(0.02)
    return False


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except (ProcessLookupError, psutil.Error):
        return None


def test_kill_browsers_by_marker_only_touches_that_marker(site: JsSite) -> None:
    a, b = BrowserThread(), BrowserThread()
    try:
        async def start(session: BrowserSession) -> None:
            await session.browser()

        a.run(start)
        b.run(start)
        assert kill_browsers(a.session.marker) >= 3
        assert browser_processes(a.session.marker) == []
        assert len(browser_processes(b.session.marker)) >= 3
    finally:
        a.close()
        b.close()


# -- counting only this run's browsers ----------------------------------------------------------


def _detached_chromium(env: dict[str, str]) -> int:
    """A marked Chromium whose starter exits at once, so it is re-parented as a leaked one is."""
    started = subprocess.run(
        ["sh", "-c", f'"{find_chromium()}" --headless {" ".join(LAUNCH_ARGS)} about:blank >/dev/null 2>&1 & echo $!'],
        env=env, capture_output=True, text=True, check=True, start_new_session=True,
    )
    return int(started.stdout)


def test_a_browser_counts_as_this_runs_by_its_tag_even_re_parented_and_others_do_not() -> None:
    theirs, ours = new_marker(), new_marker()
    other_program = {k: v for k, v in os.environ.items() if k != TREE_ENV}
    try:
        their_pid = _detached_chromium({**other_program, MARKER_ENV: theirs})
        our_pid = _detached_chromium({**os.environ, MARKER_ENV: ours})
        deadline = time.monotonic() + 30
        while not (browser_processes(theirs) and browser_processes(ours)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {theirs, ours} <= {m for _p, m in browser_processes()}  # machine-wide, both are there
        assert not {their_pid, our_pid} & {p.pid for p, _line in live_descendants()}  # neither descends from us
        counted = own_browser_markers()
        assert ours in counted, "a browser of this run, re-parented, still counts"
        assert theirs not in counted, "another program's browser does not"
    finally:
        kill_browsers(theirs)
        kill_browsers(ours)


def _dead_owner_marker() -> str:
    """A marker naming a crawl process that has exited, as a killed crawl's browser carries."""
    owner = subprocess.Popen(["sleep", "60"])
    marker = f"{MARKER_PREFIX}{owner.pid}-{int(psutil.Process(owner.pid).create_time() * 100)}-{secrets.token_hex(4)}"
    owner.kill()
    owner.wait()
    return marker


def test_the_sweep_leaves_another_process_trees_orphans_alone() -> None:
    """Two test runs on one machine: neither reaps the browser the other left behind to look at."""
    theirs, ours = _dead_owner_marker(), _dead_owner_marker()
    try:
        _detached_chromium({**os.environ, TREE_ENV: "another-run", MARKER_ENV: theirs})
        _detached_chromium({**os.environ, MARKER_ENV: ours})
        deadline = time.monotonic() + 30
        while not (browser_processes(theirs) and browser_processes(ours)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not owner_alive(theirs) and not owner_alive(ours)
        reap_orphaned_browsers()
        assert _wait_until_gone(ours, 5) == 0, "this run's orphan is reaped"
        assert browser_processes(theirs), "another run's orphan is left to that run"
    finally:
        kill_browsers(theirs)
        kill_browsers(ours)
