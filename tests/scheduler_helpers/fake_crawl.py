"""A stand-in for `vaern crawl-site`: marks its run row, works for a while, finishes.

Usage: fake_crawl.py SQLITE_URL RUN_ID SITE SECONDS LOG [--ignore-term] [--browser]

Standard library and `vaern.clock` only, so it starts fast even on a busy machine. Every event is appended to
LOG as a JSON line. On SIGTERM it finishes "the current page" and exits 0 (a graceful stop)
unless --ignore-term. With --browser it first starts a real headless Chromium, as a capture would.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from vaern import clock


def main() -> int:
    db_url, run_id, site, seconds, log_path = sys.argv[1:6]
    flags = set(sys.argv[6:])
    stopping = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, signal.SIG_IGN if "--ignore-term" in flags else on_term)

    def note(event: str, **fields: object) -> None:
        line = {"t": time.time(), "site": site, "run": int(run_id), "pid": os.getpid(), "event": event, **fields}
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def mark(sql: str, *args: object) -> None:
        with sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30) as conn:
            conn.execute(sql, (*args, int(run_id)))

    def now() -> str:
        return clock.utcnow().isoformat(sep=" ")

    mark("UPDATE crawl_runs SET status = 'running', started_at = ? WHERE id = ?", now())
    if "--browser" in flags:
        from vaern.crawler.browser import LAUNCH_ARGS, find_chromium

        browser = subprocess.Popen(
            [find_chromium(), "--headless", *LAUNCH_ARGS, "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        note("browser", browser_pid=browser.pid)
    note("start")
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end and not stopping:
        time.sleep(0.02)
    if stopping:
        mark(
            "UPDATE crawl_runs SET status = 'stopped', finished_at = ?, error = ? WHERE id = ?",
            now(),
            "stopped after the current page (SIGTERM)",
        )
        note("term")
    else:
        mark(
            "UPDATE crawl_runs SET status = 'ok', finished_at = ?, pages_fetched = 3, hits_new = 1 WHERE id = ?", now()
        )
        note("end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
