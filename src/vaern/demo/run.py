"""`vaern demo`: the whole pipeline on a fictional municipality, on this machine only.

0. start clean: what an earlier demo left in the folder (config, database, archive, e-mails) is
   removed, so a second run is a second clean demo; choose the review app's port: `--port` if
   given (and free, else say which port is taken and how to choose another), else 8000 or the
   next free port after it;
1. serve the embedded demo site (a hate blog, a forum thread, a page without mentions) on
   127.0.0.1, with its dates moved relative to now (`shift_dates`), so the 72-hour deadlines in
   the review app and the e-mails count down live;
2. start a local SMTP sink that writes every e-mail as an .eml file into the demo folder (the
   site and the sink are the fixture servers of vaern.testing);
3. write a config for "Egeby Kommune" (3 units, 12 employees) pointing at both;
4. crawl once, capture evidence, send the alerts;
5. print where everything is, then serve the review app with a demo login.

Nothing leaves 127.0.0.1. Everything in the demo is fictional.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import yaml

from vaern import clock
from vaern.config import Config, load_config
from vaern.testing.siteserver import SiteServer
from vaern.testing.smtpsink import SmtpSink

UNITS: list[dict[str, Any]] = [
    {
        "id": "boern-familie",
        "name": "Børn og Familie",
        "leader": {"name": "Lene Leder", "email": "lene.leder@egeby.example"},
        "notify": [{"name": "Arne Arbejdsmiljø", "email": "amr@egeby.example"}],
    },
    {
        "id": "jobcenter",
        "name": "Jobcenter Egeby",
        "leader": {"name": "Jonas Kragh", "email": "jonas.kragh@egeby.example"},
    },
    {
        "id": "aeldre",
        "name": "Ældre og Sundhed",
        "leader": {"name": "Birgit Lund", "email": "birgit.lund@egeby.example"},
    },
]

PEOPLE: list[dict[str, Any]] = [
    {"id": "rh", "name": "Rikke Holmgaard", "unit": "boern-familie", "title": "socialrådgiver"},
    {"id": "jbn", "name": "Jens Bach Nielsen", "unit": "boern-familie", "title": "afdelingsleder"},
    {"id": "sp", "name": "Sofie Petersen", "unit": "boern-familie", "title": "socialrådgiver"},
    {"id": "mh", "name": "Mads Hvid", "unit": "boern-familie", "title": "familiebehandler"},
    {"id": "as", "name": "Ahmed Sørensen", "unit": "jobcenter", "title": "jobkonsulent"},
    {"id": "ck", "name": "Camilla Krog", "unit": "jobcenter", "title": "jobkonsulent"},
    {"id": "pm", "name": "Peter Mortensen", "unit": "jobcenter", "title": "sagsbehandler"},
    {"id": "hb", "name": "Hanne Bisgaard", "unit": "jobcenter", "title": "teamleder"},
    {"id": "mld", "name": "Mette-Louise Dahl", "unit": "aeldre", "title": "visitator"},
    {"id": "tv", "name": "Thomas Vestergaard", "unit": "aeldre", "title": "social- og sundhedsassistent"},
    {"id": "ms", "name": "Mette Skov", "unit": "aeldre", "title": "sygeplejerske"},
    {"id": "ej", "name": "Emil Juhl", "unit": "aeldre", "title": "terapeut"},
]

DEMO_USER = ("analytiker", "demo-egeby-2026")


CONFIG_HEADER = "# Written by `vaern demo`: a fictional municipality. Safe to delete.\n"
# What a demo writes into its folder; a new demo removes these first.
LEFT_BY_A_DEMO = ("vaern.yaml", "vaern.db", "vaern.db-wal", "vaern.db-shm", "vaern.db-journal", "archive", "mail")
DEFAULT_PORT = 8000
PORTS_TRIED = 50

# The demo site's pages are dated as if read on this day, Copenhagen time; served, every date
# moves by (now - DEMO_DAY), so a post "two days ago" is two days old whenever the demo runs.
DEMO_DAY = datetime(2026, 11, 21, 9, 0)
MONTHS = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
          "november", "december")
_LONG_DATE = re.compile(r"(\d{1,2})\. (" + "|".join(MONTHS) + r") (\d{4})(?: kl\. (\d{1,2}):(\d{2}))?")
_SHORT_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4}) (\d{1,2}):(\d{2})")


class DemoError(Exception):
    """The demo cannot start as asked; the message says why and what to do."""


def shift_dates(html: str, now_local: datetime) -> str:
    """Move every date in a demo page by `now_local - DEMO_DAY` (both Copenhagen wall time)."""
    shift = now_local.replace(tzinfo=None, second=0, microsecond=0) - DEMO_DAY

    def long(m: re.Match[str]) -> str:
        hour, minute = (int(m[4]), int(m[5])) if m[4] else (12, 0)
        moved = datetime(int(m[3]), MONTHS.index(m[2]) + 1, int(m[1]), hour, minute) + shift
        text = f"{moved.day}. {MONTHS[moved.month - 1]} {moved.year}"
        return text + (f" kl. {moved:%H:%M}" if m[4] else "")

    def short(m: re.Match[str]) -> str:
        moved = datetime(int(m[3]), int(m[2]), int(m[1]), int(m[4]), int(m[5])) + shift
        return f"{moved:%d/%m/%Y %H:%M}"

    return _SHORT_DATE.sub(short, _LONG_DATE.sub(long, html))


@contextmanager
def demo_site() -> Iterator[str]:
    """Serve the embedded site on 127.0.0.1 (a free port) with the fixture site server; yield its base URL."""
    root = resources.files("vaern.demo").joinpath("site")
    with resources.as_file(root) as directory, SiteServer(directory, record=False) as server:
        # Its pages, with their dates moved to now (see `shift_dates`), override the files.
        now_local = clock.now().astimezone(ZoneInfo("Europe/Copenhagen"))
        for page in sorted(directory.rglob("*.html")):
            route = "/" + page.relative_to(directory).as_posix()
            body = shift_dates(page.read_text(encoding="utf-8"), now_local)
            server.set_page(route, body)
            if page.name == "index.html":
                server.set_page(route.removesuffix("index.html"), body)
        yield server.base_url


def write_config(directory: Path, site_url: str, smtp_port: int, review_port: int) -> Path:
    config = {
        "organisation": "Egeby Kommune (demo)",
        "timezone": "Europe/Copenhagen",
        "language": "da",
        "database": "sqlite:///vaern.db",
        "archive": "archive",
        "review_url": f"http://127.0.0.1:{review_port}",
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "Værn <vaern@egeby.example>"},
        "network": {"allow_private_hosts": ["127.0.0.1"]},
        "units": UNITS,
        "people": PEOPLE,
        "sites": [
            {
                "id": "sandheden",
                "name": "Sandheden om Egeby Kommune (blog og forum)",
                "start_urls": [site_url + "/"],
                "schedule": "30m",
                "render": "http",
                "follow": {"max_depth": 3, "max_pages": 50},
                "robots": "obey",
                # Politeness off: the demo site is on this machine.
                "delay": 0,
                "autothrottle": False,
            }
        ],
        "alerts": {"analysts": ["analyse@egeby.example"]},
    }
    path = directory / "vaern.yaml"
    path.write_text(CONFIG_HEADER + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        # As uvicorn binds: a port left in TIME_WAIT by an earlier run is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(port: int | None) -> int:
    """The review app's port: the one asked for, which must be free; else the first free one
    from DEFAULT_PORT on. Raises DemoError naming a taken port and how to choose another."""
    if port is not None:
        if not port_is_free(port):
            raise DemoError(
                f"port {port} on 127.0.0.1 is taken by another program, so the review app cannot use it. "
                f"Choose another: vaern demo --port {port + 1} (with make: make demo DEMO_ARGS='--port {port + 1}')"
            )
        return port
    for candidate in range(DEFAULT_PORT, DEFAULT_PORT + PORTS_TRIED):
        if port_is_free(candidate):
            return candidate
    raise DemoError(
        f"ports {DEFAULT_PORT}-{DEFAULT_PORT + PORTS_TRIED - 1} on 127.0.0.1 are all taken. "
        "Choose a free one: vaern demo --port N (with make: make demo DEMO_ARGS='--port N')"
    )


def clean_folder(directory: Path) -> None:
    """Remove what an earlier demo left in `directory`, so this run starts clean. A folder whose
    vaern.yaml was not written by a demo is left alone (DemoError): it may be someone's real one."""
    config = directory / "vaern.yaml"
    if config.exists() and not config.read_text(encoding="utf-8", errors="replace").startswith(CONFIG_HEADER):
        raise DemoError(f"{config} was not written by `vaern demo`; not touching it. Choose another folder: "
                        "vaern demo --dir PATH")
    for name in LEFT_BY_A_DEMO:
        target = directory / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()


def run_demo(
    directory: Path, crawl: Callable[[Config, list[str]], bool], serve: bool = True, port: int | None = None
) -> int:
    """Run the demo; return the exit code. `crawl(config, site_ids)` is the crawl pass to run,
    with its progress and summary (the CLI's `vaern crawl`); True if all went well."""
    directory = directory.resolve()
    try:
        port = choose_port(port) if serve else (port or DEFAULT_PORT)
        directory.mkdir(parents=True, exist_ok=True)
        clean_folder(directory)
    except DemoError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    mail_dir = directory / "mail"
    with demo_site() as site_url, SmtpSink(eml_dir=mail_dir) as mailbox:
        config_path = write_config(directory, site_url, mailbox.port, port)
        config = load_config(config_path)
        click.echo(f"Demo site: {site_url}/   (fictional; served from this machine)")
        click.echo(f"SMTP sink: 127.0.0.1:{mailbox.port}   (e-mails are written to {mail_dir})")
        click.echo("Crawling…")
        ok = crawl(config, [s.id for s in config.sites])
        mails = sorted(mail_dir.glob("*.eml"))
    click.echo("")
    click.echo(f"Config:   {config_path}")
    click.echo(f"E-mails:  {len(mails)} in {mail_dir}")
    for mail in mails:
        click.echo(f"          {mail.name}")
    click.echo(f"Hits:     vaern -c {config_path} hits")
    click.echo(f"Evidence: {directory / 'archive'}   (check it: vaern -c {config_path} verify)")
    if not serve:
        return 0 if ok else 1
    return _serve_review(config_path, port)


def _serve_review(config_path: Path, port: int) -> int:
    from vaern.review.auth import ensure_user
    from vaern.review.webapp import serve

    config = load_config(config_path)
    username, password = DEMO_USER
    ensure_user(config, username, password, role="analyst")
    click.echo("")
    click.echo(f"Review app: http://127.0.0.1:{port}/login   user: {username}   password: {password}")
    click.echo("Press Ctrl+C to stop.")
    serve(config, host="127.0.0.1", port=port)
    return 0
