"""Evidence is never lost: a crawl killed with SIGKILL after a few hits, or a disk that fills up,
leaves every hit owing evidence, said so everywhere, and the next run makes every debt good."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from vaern.crawler.browser import reap_orphaned_browsers
from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

pytestmark = pytest.mark.browser

POSTS = 8
NAMES = ("René Rosenkilde", "Karin Juhl", "Mette Sørensen")

# Put on the crawl processes' path (PYTHONPATH): while the file named by VAERN_TEST_DISK_FULL
# exists, every file the evidence archive writes fails as a full disk fails.
FULL_DISK = '''
import errno, os
_marker = os.environ.get("VAERN_TEST_DISK_FULL")
if _marker:
    from vaern.storage.blobstore import FolderStore
    _write_new = FolderStore.write_new
    def _full(self, key, data, *, exist_ok=False):
        if os.path.exists(_marker):
            raise OSError(errno.ENOSPC, "No space left on device", str(key))
        return _write_new(self, key, data, exist_ok=exist_ok)
    FolderStore.write_new = _full
'''


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        links = "".join(f'<p><a href="/post/{n}">opslag {n}</a></p>' for n in range(1, POSTS + 1))
        server.set_page("/", f"<h1>Forum</h1>{links}")
        for n in range(1, POSTS + 1):
            server.set_page(f"/post/{n}", f"<article><p>Indlæg {n}: Hvorfor får {NAMES[n % 3]} lov at "
                                          f"blive i forvaltningen?</p></article>")
        yield server


# Every hit is told at once, whatever its severity: these tests are about evidence, and the
# forum's questions are mild (the default policy tells the leader of a mild hit nothing).
TELL_EVERY_HIT = {"policy": {"low": "immediate", "none": "immediate"}}


def _config(make_config: Any, site: SiteServer, **extra: Any) -> Any:
    return make_config(sites=[{"id": "forum", "start_urls": [site.url("/")], "robots": "ignore",
                               "autothrottle": False, "concurrency": 1, "delay": 0.4}],
                       alerts=TELL_EVERY_HIT, **extra)


def _vaern(config: Any, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaern", "-c", str(config.source), *args], capture_output=True,
                          text=True, timeout=400, env={**os.environ, **(env or {})})


def _hits(config: Any) -> list[dict[str, Any]]:
    listed = _vaern(config, "hits", "--json")
    assert listed.returncode == 0, listed.stderr
    data: list[dict[str, Any]] = json.loads(listed.stdout)
    return data


def _count_hits(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM hits").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _kill_everything(root: subprocess.Popen[str]) -> None:
    """SIGKILL the crawl command and every process under it (the crawl process, its browser)."""
    family = psutil.Process(root.pid).children(recursive=True)
    for proc in [psutil.Process(root.pid), *family]:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    root.wait(30)
    psutil.wait_procs(family, timeout=30)
    reap_orphaned_browsers()


def _assert_all_secured(config: Any) -> None:
    hits = _hits(config)
    assert len(hits) == POSTS
    for hit in hits:
        assert hit["evidence_owed"] is False, hit
        complete = [s for s in hit["snapshots"] if s["complete"]]
        assert complete, hit
        text = (Path(config.archive) / complete[-1]["files"]["text"]["path"]).read_text()
        assert hit["person_name"] in text


def test_a_crawl_killed_after_some_hits_leaves_nothing_the_next_run_cannot_make_good(
    make_config: Any, site: SiteServer, tmp_path: Path
) -> None:
    config = _config(make_config, site)
    db = Path(config.database.removeprefix("sqlite:///"))
    crawl = subprocess.Popen([sys.executable, "-m", "vaern", "-c", str(config.source), "crawl", "--no-alerts"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while _count_hits(db) < 3:
            assert crawl.poll() is None, crawl.communicate()
            assert time.monotonic() < deadline, "no hits within 240 s"
            time.sleep(0.05)
    finally:
        _kill_everything(crawl)
    killed = _hits(config)
    owed = [h for h in killed if h["evidence_owed"]]
    assert 3 <= len(killed) < POSTS and owed, [(h["url"], h["evidence_owed"]) for h in killed]
    status = _vaern(config, "status")
    assert f"Evidence owed: {len(owed)} hit(s)" in status.stdout, status.stdout
    assert all(h["id"] in status.stdout for h in owed)

    again = _vaern(config, "crawl", "--no-alerts")
    assert again.returncode == 0, again.stdout + again.stderr
    _assert_all_secured(config)
    verify = _vaern(config, "verify")
    assert verify.returncode == 0 and "still have no complete evidence" not in verify.stderr, verify.stderr
    assert "Evidence owed: none." in _vaern(config, "status").stdout


def test_a_full_disk_loses_no_evidence_and_no_one_is_told_it_was_secured(
    make_config: Any, site: SiteServer, tmp_path: Path
) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(FULL_DISK)
    full = tmp_path / "disk-is-full"
    full.touch()
    env = {"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
           "VAERN_TEST_DISK_FULL": str(full)}
    with SmtpSink(eml_dir=tmp_path / "mail") as mailbox:
        config = _config(make_config, site, smtp={"host": "127.0.0.1", "port": mailbox.port,
                                                  "sender": "Værn <vaern@testby.example>"})
        first = _vaern(config, "crawl", env=env)
        assert "No space left on device" in first.stderr, first.stderr[-3000:]
        hits = _hits(config)
        assert len(hits) == POSTS and all(h["evidence_owed"] and not h["snapshots"] for h in hits)
        mails = [p.read_text(errors="replace") for p in sorted((tmp_path / "mail").glob("*.eml"))]
        assert mails
        for mail in mails:
            assert "sikret i Værn" not in mail and "KUNNE IKKE SIKRES" in mail
        status = _vaern(config, "status")
        assert f"Evidence owed: {POSTS} hit(s)" in status.stdout
        verify = _vaern(config, "verify")
        assert verify.returncode == 0 and f"note: {POSTS} hit(s) still have no complete evidence" in verify.stderr

        full.unlink()  # room on the disk again
        again = _vaern(config, "crawl", "--no-alerts", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
    _assert_all_secured(config)
