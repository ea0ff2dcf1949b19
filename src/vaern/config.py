"""The one configuration schema, read once and checked before anything runs.

`load_config(path)` reads `vaern.yaml` (and `people_csv` if set), substitutes `${VAR}` from the
environment, validates everything and returns a frozen `Config`, or raises `ConfigError` listing
every problem as `FILE:LINE: path.to.field: message`. A bad config never half-applies: nothing
is returned until the whole file is valid.
"""

from __future__ import annotations

import csv
import os
import re
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from vaern.errors import ConfigError, ConfigProblem

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$")
_INTERVAL = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def parse_interval(text: str) -> timedelta:
    """'30s', '15m', '2h', '1d' -> timedelta. Raises ValueError otherwise."""
    m = _INTERVAL.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"{text!r} is not an interval like 30s, 15m, 2h or 1d")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Model):
    name: str
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        return _check_email(v)


class Unit(_Model):
    id: str
    name: str
    leader: Contact
    notify: list[Contact] = []


class Person(_Model):
    id: str
    name: str
    aliases: list[str] = []
    unit: str | None = None
    title: str | None = None

    @field_validator("name")
    @classmethod
    def _name_has_two_parts(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a name may not be empty")
        return " ".join(v.split())


class Follow(_Model):
    allow: list[str] = []
    deny: list[str] = []
    max_depth: int = Field(3, ge=0)
    max_pages: int = Field(500, ge=1)

    @field_validator("allow", "deny")
    @classmethod
    def _regexes_compile(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
        return v


class Site(_Model):
    id: str
    name: str | None = None
    start_urls: list[str] = Field(min_length=1)
    schedule: str = "1h"
    render: Literal["http", "browser", "auto"] = "http"
    follow: Follow = Follow()
    search_urls: list[str] = []
    search_budget: int = Field(200, ge=0, description="searches per crawl when the watch list is long")
    robots: Literal["obey", "ignore"] = "obey"
    concurrency: int = Field(2, ge=1, le=32, description="parallel requests to one domain")
    delay: float = Field(1.0, ge=0, description="seconds between requests to one domain (AutoThrottle start)")
    autothrottle: bool = True
    timeout: float = Field(30.0, gt=0, description="seconds per request")
    max_response_mb: float = Field(5.0, gt=0)
    user_agent: str | None = None

    @field_validator("start_urls", "search_urls")
    @classmethod
    def _http_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL")
        return v

    @field_validator("search_urls")
    @classmethod
    def _has_query(cls, v: list[str]) -> list[str]:
        for url in v:
            if "{query}" not in url:
                raise ValueError(f"{url!r} has no {{query}} placeholder")
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        v = v.strip()
        if _INTERVAL.match(v):
            parse_interval(v)
            return v
        if len(v.split()) == 5:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(v)
            except ValueError as exc:
                raise ValueError(f"{v!r} is not a valid cron expression: {exc}") from None
            return v
        raise ValueError(f"{v!r} is neither an interval (30s, 15m, 2h, 1d) nor a 5-field cron expression")

    @property
    def label(self) -> str:
        return self.name or self.id


class Smtp(_Model):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "Værn <vaern@localhost>"
    timeout: float = Field(30.0, gt=0)

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        _check_email(parseaddr(v)[1] or v)
        return v


class Network(_Model):
    allow_private_hosts: list[str] = []


class Matching(_Model):
    """Thresholds for the name matcher."""

    high_score: float = Field(90.0, ge=0, le=100)
    possible_score: float = Field(75.0, ge=0, le=100)
    categories: dict[str, list[str]] = Field(default_factory=dict, description="extra words per category")


class Alerts(_Model):
    fallback: str | None = None
    analysts: list[str] = []
    remind_after: str = "24h"
    max_attempts: int = Field(8, ge=1)
    digest_at: str = "07:30"

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, v: str | None) -> str | None:
        return None if v is None else _check_email(v)

    @field_validator("analysts")
    @classmethod
    def _analysts(cls, v: list[str]) -> list[str]:
        for a in v:
            _check_email(a)
        return v

    @field_validator("remind_after")
    @classmethod
    def _interval(cls, v: str) -> str:
        parse_interval(v)
        return v


class Retention(_Model):
    dismissed_days: int = Field(90, ge=1, description="delete dismissed hits' evidence after this")


class Browser(_Model):
    executable: str | None = None
    timeout: float = Field(30.0, gt=0, description="seconds per browser step")


class Evidence(_Model):
    capture: bool = True
    pdf: bool = False
    max_height: int = Field(60000, ge=1000)
    tsa_urls: list[str] = []


class Crawl(_Model):
    max_parallel_sites: int = Field(2, ge=1)
    timeout: str = "1h"

    @field_validator("timeout")
    @classmethod
    def _interval(cls, v: str) -> str:
        parse_interval(v)
        return v


class Review(_Model):
    """The review web app (`vaern serve`): sign-in sessions and throttling."""

    session_hours: float = Field(12.0, gt=0, description="a sign-in lasts this long")
    login_max_failures: int = Field(5, ge=1, description="failed sign-ins per name (or 4x per address) ...")
    login_window: str = Field("15m", description="... within this interval before sign-in is refused")
    page_size: int = Field(50, ge=5, le=500, description="hits per page in the list")

    @field_validator("login_window")
    @classmethod
    def _interval(cls, v: str) -> str:
        parse_interval(v)
        return v


class Config(_Model):
    organisation: str
    timezone: str = "Europe/Copenhagen"
    language: Literal["da", "en"] = "da"
    database: str = "sqlite:///var/vaern.db"
    archive: Path = Path("var/archive")
    review_url: str = "http://127.0.0.1:8000"
    smtp: Smtp = Smtp()
    network: Network = Network()
    units: list[Unit] = []
    people: list[Person] = []
    people_csv: Path | None = None
    sites: list[Site] = []
    matching: Matching = Matching()
    alerts: Alerts = Alerts()
    retention: Retention = Retention()
    browser: Browser = Browser()
    evidence: Evidence = Evidence()
    crawl: Crawl = Crawl()
    review: Review = Review()
    # Where the config was read from; set by load_config, not by the user.
    source: Path | None = Field(None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a known time zone (like Europe/Copenhagen)") from None
        return v

    @field_validator("review_url")
    @classmethod
    def _review_url(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("http", "https"):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")

    def unit(self, unit_id: str | None) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    def site(self, site_id: str) -> Site:
        return next(s for s in self.sites if s.id == site_id)

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)


# ---------------------------------------------------------------------------------------------
# Loading: YAML with line numbers, ${VAR} substitution, people from CSV, cross-field checks.

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Loc = tuple[str | int, ...]


class _Source:
    """Maps a location in the loaded data to (file, line) for error messages."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Loc, tuple[str, int]] = {(): (file, 1)}

    def where(self, loc: Loc) -> tuple[str, int]:
        while loc not in self.lines:
            loc = loc[:-1]
        return self.lines[loc]


def _construct(node: yaml.Node, loc: Loc, src: _Source, problems: list[ConfigProblem]) -> Any:
    """Turn a composed YAML node into plain data, recording each value's line."""
    src.lines[loc] = (src.file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.safe_load(yaml.serialize(key_node)))
            if key in out:
                problems.append(
                    ConfigProblem(src.file, key_node.start_mark.line + 1, _path((*loc, key)), "key given twice")
                )
            out[key] = _construct(value_node, (*loc, key), src, problems)
            src.lines[(*loc, key)] = (src.file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), src, problems) for i, item in enumerate(node.value)]
    value = yaml.safe_load(yaml.serialize(node))
    if isinstance(value, str) and node.tag == "tag:yaml.org,2002:str":
        line = node.start_mark.line + 1

        def substitute(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                problems.append(
                    ConfigProblem(src.file, line, _path(loc), f"environment variable {name} is not set")
                )
                return ""
            return os.environ[name]

        value = _VAR.sub(substitute, value)
    return value


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ")


def _read_people_csv(path: Path, src: _Source, problems: list[ConfigProblem]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        problems.append(ConfigProblem(*src.where(("people_csv",)), "people_csv", f"cannot read {path}: {exc.strerror}"))
        return rows
    with handle:
        reader = csv.DictReader(handle)
        missing = {"id", "name"} - set(reader.fieldnames or [])
        if missing:
            problems.append(ConfigProblem(str(path), 1, "people_csv", f"header lacks {', '.join(sorted(missing))}"))
            return rows
        unknown = set(reader.fieldnames or []) - {"id", "name", "aliases", "unit", "title"}
        for col in sorted(unknown):
            problems.append(ConfigProblem(str(path), 1, f"people_csv.{col}", "unknown column"))
        for row in reader:
            line = reader.line_num
            person: dict[str, Any] = {"id": (row.get("id") or "").strip(), "name": (row.get("name") or "").strip()}
            aliases = [a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()]
            if aliases:
                person["aliases"] = aliases
            for col in ("unit", "title"):
                if (row.get(col) or "").strip():
                    person[col] = row[col].strip()
            rows.append(person)
            src.lines[("csv", len(rows) - 1)] = (str(path), line)
    return rows


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read, substitute and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    shown = str(path)
    src = _Source(shown)
    problems: list[ConfigProblem] = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(shown, 0, "(file)", f"cannot read: {exc.strerror}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ConfigError([ConfigProblem(shown, line, "(yaml)", str(getattr(exc, "problem", exc)))]) from None
    data = _construct(node, (), src, problems) if node is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(shown, 1, "(top)", "the config must be a mapping of keys to values")])

    base = path.parent
    csv_people: list[dict[str, Any]] = []
    if isinstance(data.get("people_csv"), str):
        csv_people = _read_people_csv(base / data["people_csv"], src, problems)

    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            problems.append(ConfigProblem(*src.where(loc), _path(loc), _message(error)))
        raise ConfigError(_sorted(problems)) from None

    people = list(config.people)
    for i, row in enumerate(csv_people):
        try:
            people.append(Person.model_validate(row))
        except ValidationError as exc:
            for error in exc.errors():
                loc = ("people_csv", i, *error["loc"])
                problems.append(ConfigProblem(*src.where(("csv", i)), _path(loc), _message(error)))

    _cross_check(config, people, len(config.people), src, problems)
    if problems:
        raise ConfigError(_sorted(problems))

    return config.model_copy(
        update={
            "people": people,
            "database": _resolve_database(config.database, base),
            "archive": (base / config.archive).resolve(),
            "people_csv": (base / config.people_csv).resolve() if config.people_csv else None,
            "source": path.resolve(),
        }
    )


def _cross_check(
    config: Config, people: list[Person], yaml_people: int, src: _Source, problems: list[ConfigProblem]
) -> None:
    """Rules that span fields: unique ids, persons' units exist."""

    def where(i: int) -> tuple[str, int, Loc]:
        if i < yaml_people:
            return (*src.where(("people", i)), ("people", i))
        return (*src.where(("csv", i - yaml_people)), ("people_csv", i - yaml_people))

    groups: tuple[tuple[str, list[str]], ...] = (
        ("units", [u.id for u in config.units]),
        ("sites", [s.id for s in config.sites]),
    )
    for kind, ids in groups:
        seen: dict[str, int] = {}
        for i, item_id in enumerate(ids):
            if item_id in seen:
                file, line = src.where((kind, i, "id"))
                problems.append(
                    ConfigProblem(
                        file, line, f"{kind}[{i}].id", f"duplicate id {item_id!r} (also {kind}[{seen[item_id]}])"
                    )
                )
            seen.setdefault(item_id, i)
            if not _ID.match(item_id):
                file, line = src.where((kind, i, "id"))
                message = f"{item_id!r} may hold only letters, digits, '.', '_' and '-'"
                problems.append(ConfigProblem(file, line, f"{kind}[{i}].id", message))

    unit_ids = {u.id for u in config.units}
    seen_people: dict[str, str] = {}
    for i, person in enumerate(people):
        file, line, loc = where(i)
        if person.id in seen_people:
            problems.append(
                ConfigProblem(
                    file, line, _path((*loc, "id")), f"duplicate id {person.id!r} (also {seen_people[person.id]})"
                )
            )
        seen_people.setdefault(person.id, _path(loc))
        if person.unit is not None and person.unit not in unit_ids:
            known = ", ".join(sorted(unit_ids)) or "none defined"
            problems.append(
                ConfigProblem(file, line, _path((*loc, "unit")), f"unknown unit {person.unit!r} (units: {known})")
            )


def _resolve_database(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the config file, as the contract says."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def _sorted(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    return sorted(problems, key=lambda p: (p.file, p.line, p.path))


def summary(config: Config) -> str:
    """What `vaern check` prints for a valid config."""
    lines = [
        f"{config.source}: ok",
        f"  organisation: {config.organisation}",
        f"  units: {len(config.units)}, people: {len(config.people)}, sites: {len(config.sites)}",
        f"  database: {_redact(config.database)}",
        f"  archive: {config.archive}",
    ]
    for site in config.sites:
        lines.append(
            f"  site {site.id}: {len(site.start_urls)} start URL(s), every {site.schedule}, render {site.render}, "
            f"robots {site.robots}, max {site.follow.max_pages} pages"
        )
    return "\n".join(lines)


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)
