"""The `vaern` command line (CONTRACT.md). Thin: parse arguments, call into the app, print.

Exit codes: 0 ok; 1 the work ran but something failed (named on stderr); 2 bad usage or config.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
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
        from sqlalchemy.exc import DBAPIError

        try:
            return super().invoke(ctx)
        except VaernError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from None
        except DBAPIError as exc:  # the database went away, or refuses writes (read-only), mid-command
            from vaern.app import database_problem

            obj = ctx.find_object(Context)
            database = obj.config.database if obj is not None and obj._config is not None else "?"
            click.echo(f"error: {database_problem(database, exc)}", err=True)
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
    config = obj.config
    refused: list[str] = []
    if config.sites:
        from vaern.crawler.netguard import refused_start_urls  # loads Scrapy: only when there are sites

        refused = refused_start_urls(config.sites, config.network.allow_private_hosts)
    from vaern.crawler.ocr import config_warnings

    click.echo(summary(config, [*refused, *config_warnings(config.ocr.enabled, config.ocr.languages)]))


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
@click.option("--no-alerts", is_flag=True,
              help="Queue the alerts but send nothing (vaern send or vaern run sends them later).")
@pass_ctx
def crawl(obj: Context, sites: tuple[str, ...], no_alerts: bool) -> None:
    """One pass now over all (or the named) sites, with progress; then send the alerts it queued
    and any earlier ones whose retry is due."""
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
    from vaern.supervisor import exit_with_supervisor

    exit_with_supervisor()
    # Scrapy resets logger levels when it starts; our handlers' own level keeps its chatter (the
    # stats dump, "Spider opened") out of an operator's terminal unless -v was given.
    level = logging.getLogger().getEffectiveLevel()
    for name in ("scrapy", "twisted", "asyncio"):
        logging.getLogger(name).setLevel(level)
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    prepared = prepare_crawl(obj.config)
    if run_id is None:  # started ahead by supervisor.prestart_crawls: the parent sends the run when it has one
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
            f"{f' {r.dead_links} dead links,' if r.dead_links else ''} {r.hits_new} new hits [{r.status}]"
            for r in runs
        )
        if line != last_line:
            click.echo(("\r" + line[:200]) if interactive else line, err=True, nl=not interactive)
            last_line = line

    runs: list[Any] = []
    if not site_ids:
        click.echo("No sites in the config; nothing to crawl.")
    with _signals_as_interrupt():
        result = crawl_pass(config, site_ids, send_alerts=send_alerts, on_progress=progress)
    runs = result.runs
    if interactive and site_ids:
        click.echo("", err=True)
    if result.interrupted:
        click.echo(f"Interrupted by {result.interrupted}: the crawls were told to stop and have ended; "
                   "what they reached is saved.", err=True)
    ok = True
    click.echo("Site                    fetched unchanged  failed  new hits  seen   status")
    from vaern.storage.failures import outcome

    for r in runs:
        click.echo(
            f"{r.site_id:<22} {r.pages_fetched:>8} {r.pages_unchanged:>9} {r.pages_failed:>7} {r.hits_new:>9}"
            f" {r.hits_seen:>5}   {outcome(r)}"
        )
        if r.status != "ok":
            ok = False
            click.echo(f"  {r.site_id}: {r.error or r.status}", err=True)
        for url, reason in result.failures.get(r.id, []):
            click.echo(f"  {r.site_id}: failed {url}: {reason}", err=True)
    if result.interrupted:
        ok = False
        saved_pages = sum(r.pages_fetched for r in runs)
        saved_hits = sum(r.hits_new for r in runs)
        click.echo(f"Saved before stopping: {saved_pages} pages, {saved_hits} new hits.")
    for line in result.timestamps_owed:
        ok = False
        click.echo(f"Timestamps: {line}", err=True)
    if result.sending_interrupted:
        click.echo("Sending interrupted; the alerts not yet sent stay queued (`vaern send` sends them).", err=True)
        return False
    if result.delivery is not None:
        ok = _delivery_summary(result.delivery, result.outbox) and ok
    else:
        click.echo("Alerts queued, not sent (--no-alerts); `vaern send` or `vaern run` delivers them.")
    return ok


def _delivery_summary(report: Any, box: dict[str, int]) -> bool:
    """What a delivery pass did, then the outbox as `vaern alerts` shows it; False if not all went."""
    click.echo(f"E-mails: {report.sent} sent, {report.retrying} waiting for retry, {report.failed} failed.")
    click.echo(f"Outbox: {box['queued']} queued, {box['sent']} sent, {box['failed']} failed.")
    if report.failed or report.retrying:
        click.echo("Some e-mails were not delivered; see `vaern alerts`.", err=True)
        return False
    return True


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM is handled like Ctrl-C: the crawls are stopped (Supervisor.stop), not orphaned.

    The crawl processes run in sessions of their own (so a kill reaches their browsers), which
    also means the terminal's Ctrl-C and a SIGTERM to this process never reach them: we pass it on.
    """

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    from vaern.words import Words

    word = Words(obj.config.language)  # the category names of the e-mails and the app
    for h in rows:
        cats = ", ".join(word(c) for c in h["categories"]) or "-"
        click.echo(f"{h['id']}  {h['status']:<9} {h['confidence']:<8} {h['person_name']}  ({h['site']}, {cats})")
        click.echo(f"          {h['url']}")
        click.echo(f"          {h['excerpt']}")


@main.command()
@click.option("--people", "people_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="People as JSON: [{\"id\", \"name\", \"aliases\"}]; default: the config's people.")
@click.argument("input_file", default="-", type=click.File("r", encoding="utf-8"))
@pass_ctx
def match(obj: Context, people_file: Path | None, input_file: Any) -> None:
    """Name matching alone: JSON lines {"id", "text"} in, one line of mentions out per input
    (the names as written; the mentions found in context beside them, as "context")."""
    from vaern.app import watched_people
    from vaern.domain import WatchedPerson
    from vaern.matchers import build_index
    from vaern.matchers.assess import Assessor

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
    assessor = Assessor(index)
    for number, line in enumerate(input_file, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            text = doc["text"]
            if not isinstance(text, str):
                raise TypeError("text is not a string")
        except (ValueError, KeyError, TypeError):
            click.echo(f"{input_file.name}:{number}: not a JSON object with \"id\" and \"text\"", err=True)
            raise SystemExit(2) from None
        # Read as a crawl reads a page without posts. `mentions` stay the names as written (what
        # scripts and the dev corpus's scorer read); the later references to a person the text
        # names in full, which a crawl counts too, are added beside them as `context`.
        rows = assessor.rows(text, assessor.read(text))
        line = {"id": doc.get("id"), "mentions": [r for r in rows if r["found"] != "context"],
                "context": [r for r in rows if r["found"] == "context"]}
        click.echo(json.dumps(line, ensure_ascii=False))


# -- the demo -------------------------------------------------------------------------------


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Where the demo keeps its config, database, archive and e-mails.")
@click.option("--no-serve", is_flag=True, help="Exit after the summary instead of serving the review app.")
@click.option("--port", type=int, default=None, show_default="8000, or the next free port after it",
              help="Port for the review app; a taken port is an error (exit 2) naming it.")
def demo(directory: Path, no_serve: bool, port: int | None) -> None:
    """The whole pipeline on a fictional municipality: local site, local SMTP sink, one crawl.

    Each run starts clean: what an earlier demo left in --dir is removed first."""
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

    password = _password(password_env)
    try:
        add_account(obj.config, name, role, list(units), password)
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    click.echo(f"Added {role} {name}" + (f" (units: {', '.join(units)})" if units else ""))


def _password(password_env: str | None) -> str:
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            click.echo(f"--password-env: the environment variable {password_env} is not set", err=True)
            raise SystemExit(2)
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


def _account_change(obj: Context, change: Any) -> None:
    """Run `change(session, actor_name)` in one transaction; an AccountError is bad usage (exit 2)."""
    from vaern.app import open_services
    from vaern.review.auth import AccountError, cli_actor
    from vaern.storage.db import transaction

    services = open_services(obj.config)
    try:
        with transaction(services.sessions) as session:
            change(session, cli_actor())
    except AccountError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    finally:
        services.engine.dispose()


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array: name, role, units, active, times.")
@pass_ctx
def user_list(obj: Context, as_json: bool) -> None:
    """List the accounts: name, role, units, last sign-in."""
    from vaern.app import open_services
    from vaern.review.accounts import list_users, user_json

    services = open_services(obj.config)
    with services.sessions() as session:
        rows = [user_json(u) for u in list_users(session)]
    services.engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No accounts. Add one: vaern user add NAME --role admin")
        return
    for row in rows:
        units = f" ({', '.join(row['units'])})" if row["units"] else ""
        last = row["last_login_at"] or "never"
        click.echo(f"{row['name']:<20} {row['role']:<8}{units}  last sign-in: {last}"
                   + ("" if row["active"] else "  [inactive]"))


@user.command("remove")
@click.argument("name")
@pass_ctx
def user_remove(obj: Context, name: str) -> None:
    """Remove an account; its sign-ins end at once (the audit log keeps its actions)."""
    from vaern.review.accounts import remove_user

    _account_change(obj, lambda session, actor: remove_user(session, name, actor_name=actor))
    click.echo(f"Removed {name}")


@user.command("passwd")
@click.argument("name")
@click.option("--password-env", metavar="VAR", help="Read the new password from this environment variable.")
@pass_ctx
def user_passwd(obj: Context, name: str, password_env: str | None) -> None:
    """Set a new password (from a prompt or --password-env); the account's sign-ins end."""
    from vaern.review.accounts import set_password

    password = _password(password_env)
    _account_change(obj, lambda session, actor: set_password(session, name, password, actor_name=actor))
    click.echo(f"New password set for {name}")


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "analyst", "leader"]))
@click.option("--unit", "units", multiple=True, metavar="ID", help="A unit a leader may see (repeatable).")
@pass_ctx
def user_role(obj: Context, name: str, role: str, units: tuple[str, ...]) -> None:
    """Give an account another role (a leader needs --unit); its sign-ins end."""
    from vaern.review.accounts import set_role

    _account_change(obj, lambda session, actor: set_role(session, obj.config, name, role, list(units),
                                                         actor_name=actor))
    click.echo(f"{name} is now {role}" + (f" (units: {', '.join(units)})" if units else ""))


# -- evidence: verify and export ------------------------------------------------------------


@main.command()
@pass_ctx
def verify(obj: Context) -> None:
    """Check the evidence archive: every file's SHA-256, every manifest, the chain, the timestamps and
    the database's record of them; exit 1 naming each problem, and say what it cannot prove."""
    from sqlalchemy import func, select

    from vaern.app import open_services
    from vaern.storage.archive import expected_manifests, snapshot_file_maps
    from vaern.storage.stamping import archive_for, recorded_tokens
    from vaern.storage.tables import HitRow

    services = open_services(obj.config)
    with services.sessions() as session:
        expected = expected_manifests(session)
        owed = session.scalar(select(func.count()).select_from(HitRow).where(HitRow.evidence_owed.is_(True)))
        file_maps = snapshot_file_maps(session)
        tokens = recorded_tokens(session)
    services.engine.dispose()
    archive = archive_for(obj.config)
    report = archive.check(expected, file_maps=file_maps, db_tokens=tokens)
    for problem in report.problems:
        click.echo(problem, err=True)
    for line in report.unproven:
        click.echo(f"not proven: {line}", err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) in {archive.where}", err=True)
        raise SystemExit(1)
    retired = archive.retired()
    stored = report.chain_length - 2 * len(retired)  # each retired snapshot: its entry and its tombstone's
    click.echo(f"ok: {stored} snapshot(s) in the chain, {len(expected)} in the database, "
               f"every file and manifest matches its SHA-256"
               + (f"; {len(retired)} deleted, each with its tombstone in the chain:" if retired else ""))
    for path, tomb in retired.items():
        body = archive.manifest(tomb["manifest"])
        click.echo(f"  deleted {tomb['snapshot']} ({path}) at {body.get('deleted_at')}: {body.get('reason')}; "
                   f"{len(body.get('deleted_files') or {})} file(s), hashes in {tomb['manifest']}")
    click.echo(f"timestamps: {report.tokens_ok} anchored to a configured root, "
               f"{report.tokens_not_anchored} not anchored")
    if report.anchored_through:
        click.echo(f"chain: entries 1-{report.anchored_through} unchanged since the head was stamped at "
                   f"{report.anchored_at}; {report.chain_length - report.anchored_through} newer not yet anchored")
    else:
        click.echo("chain: no timestamped head; the chain proves order and integrity only against outsiders")
    if owed:
        # Not a fault of the archive, but not evidence either: said, so that no one reads "ok" as "all secured".
        click.echo(f"note: {owed} hit(s) still have no complete evidence; `vaern status` names them", err=True)


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


@main.command()
@click.argument("url")
@click.option("--person", "person", default=None, help="The watched person (id) the page is about.")
@click.option("--json", "as_json", is_flag=True, help="Print what was secured as JSON.")
@click.option("--no-alerts", is_flag=True, help="Queue the e-mails of new hits, send nothing (`vaern send` does).")
@pass_ctx
def capture(obj: Context, url: str, person: str | None, as_json: bool, no_alerts: bool) -> None:
    """Secure one page now: screenshot, HTML, WARC and hashes through the evidence path, filed
    with a hit for each watched person it names (and for --person) or as a case record; a new
    hit is read and told as a crawled one is (alerts.policy), and its e-mails are sent now."""
    from vaern.oneoff import CaptureRefused, capture_once

    try:
        secured = capture_once(obj.config, url, person=person, requested_by="cli", via="cli")
    except CaptureRefused as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2 if exc.bad_input else 1) from None
    if as_json:
        click.echo(json.dumps(secured.as_json(), indent=2, ensure_ascii=False))
    else:
        _capture_summary(secured)
    if secured.told and no_alerts:
        click.echo("Alerts queued, not sent (--no-alerts); `vaern send` or `vaern run` delivers them.",
                   err=as_json)
    if secured.told and not no_alerts:
        from vaern.alerts import deliver, outbox_counts
        from vaern.app import open_services

        services = open_services(obj.config)
        try:
            report = deliver(obj.config, services.sessions)
            with services.sessions() as session:
                box = outbox_counts(session)
        finally:
            services.engine.dispose()
        if as_json:  # stdout is the JSON; what delivery did goes to stderr
            with contextlib.redirect_stdout(sys.stderr):
                ok = _delivery_summary(report, box)
        else:
            ok = _delivery_summary(report, box)
        if not ok:
            raise SystemExit(1)


def _capture_summary(secured: Any) -> None:
    """What `vaern capture` secured, what each hit says, and who is told."""
    state = "complete" if secured.complete else f"INCOMPLETE: {secured.incomplete_reason}"
    click.echo(f"secured {secured.url} as {secured.snapshot} ({state})")
    click.echo(f"  manifest {secured.manifest} sha256 {secured.manifest_sha256}")
    for kind, entry in sorted(secured.files.items()):
        click.echo(f"  {kind}: {entry.get('path')}")
    if not secured.hits:
        click.echo(f"  no watched person named; filed as case record {secured.record}")
        return
    click.echo(f"  hits: {', '.join(secured.hits)} (people named: {', '.join(secured.people) or 'none'})")
    for read in secured.read:
        categories = ", ".join(read["categories"]) or "no category"
        click.echo(f"  {read['hit']} {read['person']}: severity {read['severity']} ({categories}); "
                   f"police deadline {read['police_deadline']} ({read['deadline_basis']}); "
                   f"alerts.policy: {read['policy']}")
        if read["passage"]:
            click.echo(f"    passage: {read['passage']['text']}")
    if secured.told:
        click.echo(f"  told of the new hits at once: {', '.join(secured.told)}")
    else:
        click.echo("  nobody is e-mailed at once (no new hit the policy tells at once)")


@main.command("login-session")
@click.argument("site_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The session file to write (default: the site's `session`, else SITE-session.json).")
@pass_ctx
def login_session(obj: Context, site_id: str, output: Path | None) -> None:
    """Log in to a members-only site in a browser window and save its session file (sites[].session)."""
    from vaern.crawler.loginsession import NoSessionCookies, export_session

    site = next((s for s in obj.config.sites if s.id == site_id), None)
    if site is None:
        click.echo(f"error: no site {site_id!r} in the config (sites: "
                   f"{', '.join(s.id for s in obj.config.sites) or 'none'})", err=True)
        raise SystemExit(2)
    path = output or site.session or Path(f"{site.id}-session.json")

    def wait(_page: object) -> None:
        click.echo(f"A browser window shows {site.start_urls[0]}. Log in there with the site's Værn account,")
        click.echo("open a page only members can see to check it worked, then come back here.")
        click.prompt("Press Enter when you are logged in", default="", show_default=False)

    try:
        names = export_session(obj.config, site, path, wait)
    except NoSessionCookies as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"saved the session ({', '.join(names)}) to {path}; only you can read it.")
    if site.session is None or site.session.resolve() != path.resolve():
        click.echo(f"add `session: {path}` to site {site.id} in the config, then `vaern check`.")


# -- the service and its outbox -------------------------------------------------------------


@main.command()
@pass_ctx
def run(obj: Context) -> None:
    """The long-running service: scheduled crawls, alert delivery with retries, digest, retention."""
    from vaern.scheduler import run_service

    raise SystemExit(run_service(obj.config))


@main.command()
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Crawls run at once on this machine (default: crawl.max_parallel_sites).")
@click.option("--name", default=None, help="This worker's name in the runs (default: HOST-PID).")
@pass_ctx
def worker(obj: Context, concurrency: int | None, name: str | None) -> None:
    """Run queued crawls on this machine (queue: postgres); start one per machine, as many as needed."""
    if obj.config.queue != "postgres":
        click.echo("error: vaern worker runs queued crawls; set `queue: postgres` (and a PostgreSQL "
                   "database) in the config, then start `vaern run` on one machine and workers on others", err=True)
        raise SystemExit(2)
    from vaern.worker import run_worker

    raise SystemExit(run_worker(obj.config, concurrency=concurrency, name=name))


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
@pass_ctx
def send(obj: Context) -> None:
    """Deliver the queued alerts now, retries included; exit 1 if any could not be sent."""
    from vaern.alerts import deliver, outbox_counts
    from vaern.app import open_services

    services = open_services(obj.config)
    try:
        report = deliver(obj.config, services.sessions, retry_now=True)
        with services.sessions() as session:
            ok = _delivery_summary(report, outbox_counts(session))
    finally:
        services.engine.dispose()
    raise SystemExit(0 if ok else 1)


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
