"""`vaern demo`: the whole pipeline on a fictional municipality, on this machine only.

1. serve the embedded demo site (a hate blog, a forum thread, a page without mentions) on 127.0.0.1;
2. start a local SMTP sink that writes every e-mail as an .eml file into the demo folder (the
   site and the sink are the fixture servers of vaern.testing);
3. write a config for "Egeby Kommune" (3 units, 12 employees) pointing at both;
4. crawl once, capture evidence, send the alerts;
5. print where everything is, then serve the review app with a demo login.

Nothing leaves 127.0.0.1. Everything in the demo is fictional.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml

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


@contextmanager
def demo_site() -> Iterator[str]:
    """Serve the embedded site on 127.0.0.1 (a free port) with the fixture site server; yield its base URL."""
    root = resources.files("vaern.demo").joinpath("site")
    with resources.as_file(root) as directory, SiteServer(directory, record=False) as server:
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
    header = "# Written by `vaern demo`: a fictional municipality. Safe to delete.\n"
    path.write_text(header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_demo(directory: Path, crawl: Callable[[Config, list[str]], bool], serve: bool = True, port: int = 8000) -> int:
    """Run the demo; return the exit code. `crawl(config, site_ids)` is the crawl pass to run,
    with its progress and summary (the CLI's `vaern crawl`); True if all went well."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
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
