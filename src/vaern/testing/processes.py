"""The processes a test run owns, so that counting them is not upset by other programs.

A test that checks "no Chromium was left behind" must not count the browsers other programs run
on the same machine: another test run, a Chromium somebody opened. `tag_tree()`, called once when
the run starts, names the run's process tree in its environment (`TREE_ENV`). Every process the
run starts, and every process those start, inherits it — Chromium too, which gets the crawl's
environment (see `launch_options`) and keeps it when its crawl dies and it is re-parented, which
is exactly when a leak would show. A browser is the run's own if it was started in the run's tree
(`browser_trees`); any process descending from this process is too. The orphan sweep
(`reap_orphaned_browsers`) keeps to its tree the same way.

Zombies (exited, waiting for their parent to collect their status) are never counted: they run
nothing. They are not collected here either: waiting for a child that a `subprocess.Popen`, an
asyncio watcher or multiprocessing still waits for would take its exit status from them.
"""

from __future__ import annotations

import os
import secrets

import psutil

from vaern.crawler.browser import TREE_ENV, browser_processes, browser_trees


def tag_tree() -> str:
    """Tag this process, and every process it starts from now on, as one test run's."""
    tag = f"test-{os.getpid()}-{secrets.token_hex(4)}"
    os.environ[TREE_ENV] = tag
    return tag


def live_descendants() -> list[tuple[psutil.Process, str]]:
    """This process's descendants still running, each with its command line."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append((proc, " ".join(proc.cmdline())))
        except psutil.Error:  # it ended meanwhile
            pass
    return found


def own_browsers(marker: str | None = None) -> list[tuple[psutil.Process, str]]:
    """`browser_processes(marker)` narrowed to this test run's: the processes of browsers started
    in its tree (see `browser_trees`) and any descending from this process."""
    tag = os.environ.get(TREE_ENV)
    if not tag:
        raise RuntimeError(f"{TREE_ENV} is not set: the test run must call tag_tree() before starting processes")
    family = {proc.pid for proc, _line in live_descendants()}
    found = browser_processes(marker)
    trees = browser_trees(found)
    return [(proc, m) for proc, m in found if proc.pid in family or trees.get(m) == tag]


def own_browser_markers() -> set[str]:
    """The markers of this test run's running browsers."""
    return {m for _proc, m in own_browsers()}

