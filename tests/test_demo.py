"""`vaern demo` twice in a row gives two clean demos; a taken review port is named with the way
out (exit 2), never a URL leading to another program; the demo pages are dated relative to now."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from vaern.clock import clock_at
from vaern.demo.run import choose_port, demo_site, port_is_free
from vaern.storage.db import make_engine, session_factory
from vaern.storage.tables import AlertRow, HitRow


def _demo(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaern", "demo", "--dir", str(directory), *args],
        capture_output=True, text=True, timeout=300,
    )


def _recipients(directory: Path) -> list[str]:
    """Who got the e-mails in the demo's mail folder (files are numbered in the order sent)."""
    return sorted(p.name.split("-", 1)[1] for p in (directory / "mail").glob("*.eml"))


def _counts(directory: Path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{directory / 'vaern.db'}")
    with session_factory(engine)() as session:
        hits = session.scalar(select(func.count()).select_from(HitRow)) or 0
        alerts = session.scalar(select(func.count()).select_from(AlertRow)) or 0
    engine.dispose()
    return hits, alerts


def test_a_second_demo_starts_clean(tmp_path: Path) -> None:
    directory = tmp_path / "demo-output"
    first = _demo(directory, "--no-serve")
    assert first.returncode == 0, first.stdout + first.stderr
    mails = _recipients(directory)
    hits, alerts = _counts(directory)
    assert mails and hits and alerts == len(mails)

    second = _demo(directory, "--no-serve")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Traceback" not in second.stderr
    assert _recipients(directory) == mails  # no duplicate e-mails, none left from the first run
    assert _counts(directory) == (hits, alerts)  # no duplicate hits
    assert f"E-mails:  {len(mails)} in" in second.stdout


def test_a_folder_that_is_not_a_demo_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "vaern.yaml").write_text("organisation: Real\n", encoding="utf-8")
    result = _demo(tmp_path, "--no-serve")
    assert result.returncode == 2
    assert "was not written by `vaern demo`; not touching it" in result.stderr
    assert (tmp_path / "vaern.yaml").read_text(encoding="utf-8") == "organisation: Real\n"


def test_a_taken_review_port_is_named_with_the_way_out(tmp_path: Path) -> None:
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]
        assert not port_is_free(port)
        result = _demo(tmp_path / "demo", "--port", str(port))
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"port {port} on 127.0.0.1 is taken by another program" in result.stderr
        assert f"--port {port + 1}" in result.stderr
        assert f"127.0.0.1:{port}/login" not in result.stdout  # no URL that leads to the other program
        assert not (tmp_path / "demo" / "mail").exists()  # nothing crawled or sent

        # Without --port the demo takes the first free port from 8000 on.
        chosen = choose_port(None)
        assert chosen >= 8000 and port_is_free(chosen)

        # `vaern serve` says the same in one line and exits 1, not uvicorn's code 3.
        config = tmp_path / "vaern.yaml"
        config.write_text(f"organisation: X\ndatabase: sqlite:///{tmp_path / 'x.db'}\n", encoding="utf-8")
        serve = subprocess.run([sys.executable, "-m", "vaern", "-c", str(config), "serve", "--port", str(port)],
                               capture_output=True, text=True, timeout=60)
        assert serve.returncode == 1, serve.stderr
        assert serve.stderr.strip() == (
            f"error: 127.0.0.1:{port} is taken by another program; choose another port with --port"
        )


def test_demo_pages_are_dated_relative_to_now() -> None:
    # Copenhagen is UTC+1 in December: 15:30 UTC is 16:30 local, 7 h 30 min after the demo day's 09:00
    # plus 16 days.
    with clock_at(datetime(2026, 12, 7, 15, 30, tzinfo=UTC)), demo_site() as url:
        blog = urllib.request.urlopen(url + "/blog/sagsbehandleren.html").read().decode()
        forum = urllib.request.urlopen(url + "/forum/traad-417.html").read().decode()
    # 18 Nov 21:14 was 2 days 11 h 46 min before the demo day; so it is now.
    assert "Skrevet 5. december 2026 kl. 04:44" in blog
    assert "18. november" not in blog
    assert "kaffekop77 skrev 05/12/2026 17:32:" in forum  # 19 Nov 10:02, 1 day 22 h 58 min before
