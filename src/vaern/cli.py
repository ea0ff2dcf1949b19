"""The `vaern` command line (CONTRACT.md). Thin: parse arguments, call into the app, print.

Exit codes: 0 ok; 1 the work ran but something failed (named on stderr); 2 bad usage or config.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import click

from vaern import ids
from vaern.config import Config, load_config
from vaern.config.summary import summary
from vaern.errors import ConfigError, VaernError


class Context:
    """What every command gets: where the config is, and the config once read."""

    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                for problem in exc.problems:
                    click.echo(str(problem), err=True)
                raise SystemExit(2) from None
        return self._config


pass_ctx = click.make_pass_decorator(Context)


class VaernGroup(click.Group):
    """Turns Værn's own errors into one clear line on stderr and exit 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VaernError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from None


@click.group(cls=VaernGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    default=lambda: os.environ.get("VAERN_CONFIG", "vaern.yaml"),
    show_default="$VAERN_CONFIG, else ./vaern.yaml",
    help="The configuration file.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.version_option(package_name="vaern")
@click.pass_context
def main(ctx: click.Context, config_path: str, verbose: bool) -> None:
    """Værn watches public sites for employees being named, secures the evidence and alerts their leader."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context(config_path)


# -- set-up ---------------------------------------------------------------------------------


@main.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Write a commented starter vaern.yaml into DIRECTORY and create its database."""
    from vaern.app import open_services

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "vaern.yaml"
    if target.exists():
        click.echo(f"{target} exists already; not overwriting it.", err=True)
        raise SystemExit(2)
    target.write_text(resources.files("vaern").joinpath("starter.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config = _load_or_exit(target)
    open_services(config).engine.dispose()
    click.echo(f"Wrote {target}. Edit it (units, people, sites, smtp), then run: vaern -c {target} check")


@main.command()
@pass_ctx
def check(obj: Context) -> None:
    """Validate the configuration and print a summary, or every error as FILE:LINE: field: message."""
    click.echo(summary(obj.config))


def _load_or_exit(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(2) from None


# -- crawling -------------------------------------------------------------------------------


@main.command()
@click.option("--site", "sites", multiple=True, metavar="ID", help="Crawl only this site (repeatable).")
@click.option("--no-alerts", is_flag=True, help="Queue the alerts but send nothing (vaern run sends them later).")
@pass_ctx
def crawl(obj: Context, sites: tuple[str, ...], no_alerts: bool) -> None:
    """One pass now over all (or the named) sites, with progress; then send the alerts it queued."""
    config = obj.config
    known = {s.id for s in config.sites}
    unknown = [s for s in sites if s not in known]
    if unknown:
        click.echo(f"unknown site {', '.join(unknown)} (sites: {', '.join(sorted(known)) or 'none'})", err=True)
        raise SystemExit(2)
    ok = crawl_now(config, list(sites) or [s.id for s in config.sites], send_alerts=not no_alerts)
    raise SystemExit(0 if ok else 1)


@main.command("crawl-site", hidden=True)
@click.argument("site_id")
@click.option("--run-id", type=int, help="The run; without it, read from stdin once the crawler is loaded.")
@pass_ctx
def crawl_site_command(obj: Context, site_id: str, run_id: int | None) -> None:
    """Internal: the child process that crawls one site for one run."""
    from vaern.app import prepare_crawl, run_crawl

    # Scrapy resets logger levels when it starts; our handlers' own level keeps its chatter (the
    # stats dump, "Spider opened") out of an operator's terminal unless -v was given.
    level = logging.getLogger().getEffectiveLevel()
    for name in ("scrapy", "twisted", "asyncio"):
        logging.getLogger(name).setLevel(level)
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    prepared = prepare_crawl(obj.config)
    if run_id is None:  # started ahead by crawlprocess.prestart_crawls: the parent sends the run when it has one
        line = sys.stdin.readline().strip()
        if not line:
            return  # the parent closed the pipe without a run: it gave up (its database would not open)
        run_id = int(line)
    run_crawl(obj.config, site_id, run_id, prepared)
    # The run is written and its database connections closed. What is left is the interpreter
    # taking Scrapy, Twisted and the matcher apart module by module: a quarter of a second per
    # crawl, longer than a second crawl of an unchanged site spends fetching. Skip it.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def crawl_now(config: Config, site_ids: list[str], send_alerts: bool) -> bool:
    """A crawl pass (app.crawl_pass) with a progress line, then its summary; True if all went well."""
    from vaern.app import crawl_pass

    interactive = sys.stderr.isatty()
    last_line = ""

    def progress(runs: list[Any]) -> None:
        nonlocal last_line
        line = "  ".join(
            f"{r.site_id}: {r.pages_fetched} fetched, {r.pages_unchanged} unchanged, {r.pages_failed} failed,"
            f" {r.hits_new} new hits [{r.status}]"
            for r in runs
        )
        if line != last_line:
            click.echo(("\r" + line[:200]) if interactive else line, err=True, nl=not interactive)
            last_line = line

    result = crawl_pass(config, site_ids, send_alerts=send_alerts, on_progress=progress)
    if not site_ids:
        click.echo("No sites in the config; nothing to crawl.")
        return True
    runs = result.runs
    if interactive:
        click.echo("", err=True)
    sent = failed = queued = 0
    if result.delivery is not None:
        sent, failed, queued = result.delivery.sent, result.delivery.failed, result.delivery.retrying
    ok = True
    click.echo("Site                    fetched unchanged  failed  new hits  seen   status")
    for r in runs:
        click.echo(
            f"{r.site_id:<22} {r.pages_fetched:>8} {r.pages_unchanged:>9} {r.pages_failed:>7} {r.hits_new:>9}"
            f" {r.hits_seen:>5}   {r.status}"
        )
        if r.status != "ok":
            ok = False
            click.echo(f"  {r.site_id}: {r.error or r.status}", err=True)
    from vaern.app import open_services
    from vaern.storage.stamping import after_crawl

    services = open_services(config)
    with services.sessions() as session:
        owed = after_crawl(config, session)
    services.engine.dispose()
    for line in owed:
        ok = False
        click.echo(f"Timestamps: {line}", err=True)
    if send_alerts:
        click.echo(f"E-mails: {sent} sent, {queued} waiting for retry, {failed} failed.")
        if failed or queued:
            ok = False
            click.echo("Some e-mails were not delivered; see `vaern alerts`.", err=True)
    else:
        click.echo("Alerts queued, not sent (--no-alerts); `vaern run` delivers them.")
    return ok


# -- reading results ------------------------------------------------------------------------


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the JSON array of CONTRACT.md.")
@click.option("--person", metavar="ID")
@click.option("--site", metavar="ID")
@click.option("--status", type=click.Choice(["new", "confirmed", "dismissed", "removed"]))
@click.option("--since", metavar="ISO8601", help="Only hits seen at or after this time.")
@pass_ctx
def hits(obj: Context, as_json: bool, person: str | None, site: str | None, status: str | None,
         since: str | None) -> None:
    """List hits: who was named, where, and how sure we are."""
    from vaern.app import open_services
    from vaern.storage.queries import find_hits, hit_json, people_names

    since_at = None
    if since:
        try:
            parsed = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            click.echo(f"--since: {since!r} is not an ISO 8601 time (like 2026-11-21T14:00:00Z)", err=True)
            raise SystemExit(2) from None
        since_at = (parsed.astimezone(UTC) if parsed.tzinfo else parsed).replace(tzinfo=None)
    services = open_services(obj.config)
    with services.sessions() as session:
        names = people_names(session)
        rows = [hit_json(session, h, names)
                for h in find_hits(session, person=person, site=site, status=status, since=since_at)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No hits.")
        return
    for h in rows:
        cats = ", ".join(h["categories"]) or "-"
        click.echo(f"{h['id']}  {h['status']:<9} {h['confidence']:<8} {h['person_name']}  ({h['site']}, {cats})")
        click.echo(f"          {h['url']}")
        click.echo(f"          {h['excerpt']}")


@main.command()
@click.option("--people", "people_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="People as JSON: [{\"id\", \"name\", \"aliases\"}]; default: the config's people.")
@click.argument("input_file", default="-", type=click.File("r", encoding="utf-8"))
@pass_ctx
def match(obj: Context, people_file: Path | None, input_file: Any) -> None:
    """Name matching alone: JSON lines {"id", "text"} in, one line of mentions out per input."""
    from vaern.app import watched_people
    from vaern.domain import WatchedPerson
    from vaern.matchers import build_index

    if people_file is not None:
        try:
            raw = json.loads(people_file.read_text(encoding="utf-8"))
            people = [WatchedPerson(str(p["id"]), str(p["name"]), tuple(p.get("aliases") or ())) for p in raw]
        except (ValueError, KeyError, TypeError) as exc:
            click.echo(f"{people_file}: not a JSON list of {{\"id\", \"name\", \"aliases\"}}: {exc}", err=True)
            raise SystemExit(2) from None
        index = build_index(people)
    else:
        config = obj.config
        index = build_index(watched_people(config), config.matching)
    for number, line in enumerate(input_file, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            text = doc["text"]
        except (ValueError, KeyError, TypeError):
            click.echo(f"{input_file.name}:{number}: not a JSON object with \"id\" and \"text\"", err=True)
            raise SystemExit(2) from None
        mentions = [{**m.as_row(), "score": round(m.score, 1)} for m in index.find(text)]
        click.echo(json.dumps({"id": doc.get("id"), "mentions": mentions}, ensure_ascii=False))


# -- the demo -------------------------------------------------------------------------------


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Where the demo keeps its config, database, archive and e-mails.")
@click.option("--no-serve", is_flag=True, help="Exit after the summary instead of serving the review app.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port for the review app.")
def demo(directory: Path, no_serve: bool, port: int) -> None:
    """The whole pipeline on a fictional municipality: local site, local SMTP sink, one crawl."""
    from vaern.demo.run import run_demo

    crawl = functools.partial(crawl_now, send_alerts=True)  # the demo's crawl is `vaern crawl`'s, as it prints
    raise SystemExit(run_demo(directory, crawl, serve=not no_serve, port=port))



# -- review app -----------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8000, show_default=True, help="Port to listen on.")
@pass_ctx
def serve(obj: Context, host: str, port: int) -> None:
    """The review web app for analysts and leaders."""
    from vaern.review.webapp import serve as run_server

    click.echo(f"Review app on http://{host}:{port}/ (Ctrl+C stops it)")
    run_server(obj.config, host=host, port=port)


@main.group()
def user() -> None:
    """Review-app accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "analyst", "leader"]), required=True)
@click.option("--unit", "units", multiple=True, metavar="ID", help="A unit a leader may see (repeatable).")
@click.option("--password-env", metavar="VAR", help="Read the password from this environment variable.")
@pass_ctx
def user_add(obj: Context, name: str, role: str, units: tuple[str, ...], password_env: str | None) -> None:
    """Add an account; the password comes from a prompt or --password-env."""
    from vaern.review.auth import AccountError, add_account

    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            click.echo(f"--password-env: the environment variable {password_env} is not set", err=True)
            raise SystemExit(2)
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        add_account(obj.config, name, role, list(units), password)
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(f"Added {role} {name}" + (f" (units: {', '.join(units)})" if units else ""))
# -- evidence: verify and export ------------------------------------------------------------


@main.command()
@pass_ctx
def verify(obj: Context) -> None:
    """Check the evidence archive: every file's SHA-256, every manifest, the chain, the timestamps and
    the database's record of them; exit 1 naming each problem, and say what it cannot prove."""
    from vaern.app import open_services
    from vaern.storage.archive import expected_manifests, snapshot_file_maps
    from vaern.storage.stamping import archive_for, recorded_tokens

    services = open_services(obj.config)
    with services.sessions() as session:
        expected = expected_manifests(session)
        file_maps = snapshot_file_maps(session)
        tokens = recorded_tokens(session)
    services.engine.dispose()
    report = archive_for(obj.config).check(expected, file_maps=file_maps, db_tokens=tokens)
    for problem in report.problems:
        click.echo(problem, err=True)
    for line in report.unproven:
        click.echo(f"not proven: {line}", err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) in {obj.config.archive}", err=True)
        raise SystemExit(1)
    click.echo(f"ok: {report.chain_length} snapshot(s) in the chain, {len(expected)} in the database, "
               f"every file and manifest matches its SHA-256")
    click.echo(f"timestamps: {report.tokens_ok} anchored to a configured root, "
               f"{report.tokens_not_anchored} not anchored")
    if report.anchored_through:
        click.echo(f"chain: entries 1-{report.anchored_through} unchanged since the head was stamped at "
                   f"{report.anchored_at}; {report.chain_length - report.anchored_through} newer not yet anchored")
    else:
        click.echo("chain: no timestamped head; the chain proves order and integrity only against outsiders")


@main.command()
@click.argument("hit_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The zip to write (default: ./<hit id>.zip).")
@pass_ctx
def export(obj: Context, hit_id: str, output: Path | None) -> None:
    """An evidence bundle (zip) of one hit for police, Datatilsynet or a lawyer."""
    from vaern.app import evidence_bundle, open_services
    from vaern.storage.export import parse_hit_id

    number = parse_hit_id(hit_id)
    services = open_services(obj.config)
    with services.sessions() as session:
        path = evidence_bundle(obj.config, session, number, output or Path(f"{ids.hit(number)}.zip"),
                               via="vaern export")
        session.commit()
    click.echo(str(path))


# -- the service and its outbox -------------------------------------------------------------


@main.command()
@pass_ctx
def run(obj: Context) -> None:
    """The long-running service: scheduled crawls, alert delivery with retries, digest, retention."""
    from vaern.scheduler import run_service

    raise SystemExit(run_service(obj.config))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
def status(obj: Context, as_json: bool) -> None:
    """Per site the last crawl and the next one; the outbox (queued, failed)."""
    from vaern.app import open_services
    from vaern.status import collect, render

    services = open_services(obj.config)
    data = collect(obj.config, services.engine, services.sessions)
    services.engine.dispose()
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else render(obj.config, data))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the JSON array of CONTRACT.md.")
@pass_ctx
def alerts(obj: Context, as_json: bool) -> None:
    """The alert outbox: queued, sent and failed e-mails, with their recipients."""
    from vaern.alerts import alerts_json, alerts_table
    from vaern.app import open_services

    services = open_services(obj.config)
    with services.sessions() as session:
        entries = alerts_json(session)
    services.engine.dispose()
    click.echo(json.dumps(entries, ensure_ascii=False, indent=2) if as_json else alerts_table(entries))
