"""What `vaern check` prints for a valid config: a summary of what it holds, and warnings.

`summary(config)` is the summary (never a password); `warnings_for(config)` lists what is valid
but probably not what was meant (people nobody is told about, placeholders left from the starter
file, a password without a user name).
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parseaddr
from urllib.parse import urlsplit

from vaern.config.schema import Config, redact_url

__all__ = ["summary", "warnings_for"]


def warnings_for(config: Config) -> list[str]:
    """Things in a valid config that are probably not what was meant."""
    out = []
    homeless = [p.id for p in config.people if p.unit is None]
    if homeless and config.alerts.fallback is None:
        shown = ", ".join(homeless[:5]) + (", …" if len(homeless) > 5 else "")
        out.append(
            f"{len(homeless)} {'person has' if len(homeless) == 1 else 'people have'} no unit and "
            f"alerts.fallback is not set: no leader is told of their hits ({shown})"
        )
    if not config.people:
        out.append("no people: nobody is watched for")
    if not config.sites:
        out.append("no sites: a crawl has nothing to visit")
    placeholders = [f"site {s.id}" for s in config.sites if any(_is_placeholder(u) for u in s.start_urls)]
    placeholders += [f"unit {u.id}" for u in config.units if _is_placeholder(u.leader.email)]
    if placeholders or _is_placeholder(config.smtp.sender):
        out.append(
            "example values on the reserved .invalid domain are still in place (marked REPLACE in "
            f"the starter file){': ' + ', '.join(placeholders) if placeholders else ''}"
        )
    if config.smtp.password is not None and not config.smtp.username:
        out.append("smtp.password is set but smtp.username is not: the password is not used")
    return out


def _is_placeholder(address: str) -> bool:
    host = urlsplit(address).hostname if "://" in address else parseaddr(address)[1].rpartition("@")[2]
    return bool(host) and (host or "").rstrip(">").endswith(".invalid")


def _people(n: int) -> str:
    return f"{n} {'person' if n == 1 else 'people'}"


def summary(config: Config, more_warnings: Sequence[str] = ()) -> str:
    """What `vaern check` prints for a valid config, with `more_warnings` from the stages that judge
    it further (the SSRF guard's view of the start URLs). Never shows a password."""
    smtp = config.smtp
    security = "ssl" if smtp.ssl else "starttls" if smtp.starttls else "plain"
    login = f"login as {smtp.username}" if smtp.username else "no login"
    lines = [
        f"{config.source}: ok",
        f"  organisation: {config.organisation} (time zone {config.timezone}, language {config.language})",
        f"  units: {len(config.units)}, people: {len(config.people)}, sites: {len(config.sites)}",
        f"  database: {redact_url(config.database)}",
        f"  archive: {_archive(config)}",
        f"  review app: {config.review_url}",
        f"  e-mail: via {smtp.host}:{smtp.port} ({security}, {login}), from {smtp.sender}",
    ]
    if config.people_csv is not None:
        lines.append(f"  people_csv: {config.people_csv}")
    counts: dict[str | None, int] = {}
    for person in config.people:
        counts[person.unit] = counts.get(person.unit, 0) + 1
    for unit in config.units:
        notify = f"; also {', '.join(c.email for c in unit.notify)}" if unit.notify else ""
        lines.append(
            f"  unit {unit.id}: {_people(counts.get(unit.id, 0))}, leader {unit.leader.email}{notify}"
        )
    if counts.get(None):
        lines.append(f"  no unit: {_people(counts[None])}, alerts to {config.alerts.fallback or 'nobody'}")

    def when(schedule: str) -> str:
        return f"cron {schedule}" if " " in schedule else f"every {schedule}"

    for site in config.sites:
        lines.append(
            f"  site {site.id}: {len(site.start_urls)} start URL(s), {when(site.schedule)}, "
            f"render {site.render}, robots {site.robots}, max {site.follow.max_pages} pages"
            + (f", logged in with {site.session}" if site.session is not None else "")
        )
    if config.sites_file.exists():
        lines.append(f"  added sites: {config.sites_file} (merged into sites)")
    if config.discovery.providers:
        kinds = ", ".join(p.kind for p in config.discovery.providers)
        lines.append(f"  discovery: {kinds}; at most {config.discovery.budget_per_day} queries a day, "
                     f"each name every {config.discovery.every}")
    lines.extend(f"  warning: {w}" for w in [*warnings_for(config), *more_warnings])
    return "\n".join(lines)


def _archive(config: Config) -> str:
    store = config.evidence.store
    if store.kind == "local":
        return str(config.archive)
    prefix = store.prefix.strip("/") + "/" if store.prefix.strip("/") else ""
    lock = f", Object Lock {store.object_lock.mode} {store.object_lock.retain_days} days" if store.object_lock else ""
    return f"s3://{store.bucket}/{prefix} at {store.endpoint_url or 'AWS'}{lock}"
