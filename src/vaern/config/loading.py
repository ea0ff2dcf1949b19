"""Reading a config file into a checked `Config`, and what `vaern check` says about it.

`load_config(path)` reads `vaern.yaml` (and `people_csv` if set) through `sources.py`,
validates it against the schema (`schema.py`), applies the rules that span entries and
sections (unique ids, a person's unit exists, ssl or starttls), and returns a frozen `Config`,
or raises `ConfigError` listing every problem as `FILE:LINE: path.to.field: message`, sorted by
file and line. A bad config never half-applies: nothing is returned until the whole file is
valid. Relative paths (`database` for SQLite, `archive`, `evidence.tsa_ca_files`, `people_csv`,
`browser.executable` with a '/', `sites[].session`, `sites_file`) are made relative to the config
file here.

`sites_file` (default `added-sites.yaml` beside the config) holds the sites added from the review
app (`sites: [...]`, the same entries as in vaern.yaml); when it exists its sites join `sites`,
checked like them, errors naming that file and line. A site's `session` file is read here too, so
a missing or malformed one is an error of the config, not of a crawl hours later.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from vaern.config.messages import Loc, dotted, message, suggest
from vaern.config.schema import Config, Person, Site
from vaern.config.sessionfile import SessionFileError, read_cookies
from vaern.config.sources import CsvRows, Source, read_people_csv, read_yaml
from vaern.errors import ConfigError, ConfigProblem

__all__ = ["load_config"]


# ---------------------------------------------------------------------------------------------
# Loading


def load_config(path: str | Path, *, sites_file: Path | None = None) -> Config:
    """Read, substitute and validate a config file; raise ConfigError listing every problem.
    `sites_file`: read the added sites from this file instead of the config's `sites_file` (to
    check a new version of it before it replaces the old one: config/addedsites.py)."""
    path = Path(path)
    shown = str(path)
    data, src, problems = read_yaml(path, shown)
    if data is None:
        raise ConfigError(problems)
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(shown, 1, "(top)", "the file must hold key: value lines")])
    if "source" in data:
        problems.append(src.problem(("source",), "unknown key (set by Værn, not in the file)"))
        data = {k: v for k, v in data.items() if k != "source"}

    base = path.parent
    csv_rows: CsvRows = []
    csv_shown = ""
    if isinstance(data.get("people_csv"), str) and data["people_csv"].strip():
        csv_path = base / Path(data["people_csv"].strip()).expanduser()
        csv_shown = str(csv_path)
        csv_rows = read_people_csv(csv_path, csv_shown, problems, src.where(("people_csv",)))

    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, (), src))
    added_sites = _added_sites(base, config, src, problems, sites_file)

    csv_people: list[Person] = []
    for row, line, i in csv_rows:
        try:
            csv_people.append(Person.model_validate(row))
        except ValidationError as exc:
            for error in exc.errors():
                loc = ("people_csv", i, *error["loc"])
                problems.append(ConfigProblem(csv_shown, line, dotted(loc), message(error, [])))

    _cross_check(data, csv_rows, csv_shown, src, problems)
    if config is not None:
        _check_sections(config, src, problems)
    if problems or config is None:
        raise ConfigError(_sorted(problems, shown))

    index = _unit_index(data)
    people = [
        p if p.unit is None else p.model_copy(update={"unit": index[p.unit.strip().casefold()]})
        for p in [*config.people, *csv_people]
    ]
    executable = config.browser.executable
    if executable and "/" in executable and not Path(executable).expanduser().is_absolute():
        executable = str((base / executable).resolve())
    return config.model_copy(
        update={
            "people": people,
            "sites": [*(_with_session_path(s, base) for s in config.sites), *added_sites],
            "sites_file": (base / config.sites_file.expanduser()).resolve(),
            "database": _resolve_database(config.database, base),
            "archive": (base / config.archive.expanduser()).resolve(),
            "people_csv": Path(csv_shown).resolve() if csv_shown else None,
            "browser": config.browser.model_copy(update={"executable": executable}),
            "evidence": config.evidence.model_copy(
                update={"tsa_ca_files": [(base / f.expanduser()).resolve() for f in config.evidence.tsa_ca_files]}
            ),
            "source": path.resolve(),
        }
    )


def _added_sites(
    base: Path, config: Config | None, src: Source, problems: list[ConfigProblem], instead: Path | None
) -> list[Site]:
    """The sites of `sites_file`, if it exists, with their session files read; each problem is
    named by its own file and line. Also reads the session files of vaern.yaml's own sites."""
    out: list[Site] = []
    if config is None:
        return out
    for i, site in enumerate(config.sites):
        _check_session(site, base, lambda msg, i=i: problems.append(src.problem(("sites", i, "session"), msg)))
    path = instead or (base / config.sites_file.expanduser()).resolve()
    if not path.exists():
        return out
    shown = str(path)
    added, added_src, added_problems = read_yaml(path, shown)
    problems.extend(added_problems)
    if added is None:
        return out
    if not isinstance(added, dict) or not isinstance(added.get("sites", []), list) or set(added) - {"sites"}:
        problems.append(ConfigProblem(shown, 1, "(top)", "the file must hold one key, sites: a list of site entries"))
        return out
    taken = {s.id: n for n, s in enumerate(config.sites)}
    for i, entry in enumerate(added.get("sites") or []):
        try:
            site = Site.model_validate(entry)
        except ValidationError as exc:
            problems.extend(_problems(exc, ("sites", i), added_src))
            continue
        if site.id in taken:
            file, line = src.where(("sites", taken[site.id], "id"))
            why = f"duplicate id {site.id!r} (already used at {file}:{line})"
            problems.append(added_src.problem(("sites", i, "id"), why))
            continue
        _check_session(site, path.parent,
                       lambda msg, i=i: problems.append(added_src.problem(("sites", i, "session"), msg)))
        taken[site.id] = -1
        out.append(site)
    return [_with_session_path(s, path.parent) for s in out]


def _with_session_path(site: Site, base: Path) -> Site:
    if site.session is None:
        return site
    return site.model_copy(update={"session": (base / site.session.expanduser()).resolve()})


def _check_session(site: Site, base: Path, report: Any) -> None:
    """A site's session file must be a storage state with a cookie for one of the site's hosts."""
    if site.session is None:
        return
    from urllib.parse import urlsplit

    path = (base / site.session.expanduser()).resolve()
    try:
        cookies = read_cookies(path)
    except SessionFileError as exc:
        report(str(exc))
        return
    hosts = {(urlsplit(u).hostname or "").lower() for u in site.start_urls}
    if not any(c.covers(h) for c in cookies for h in hosts):
        report(f"{path}: holds no cookie for {', '.join(sorted(hosts))} "
               "(was it exported while logged in to this site?)")


def _problems(exc: ValidationError, prefix: Loc, src: Source) -> list[ConfigProblem]:
    out = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        keys = _fields_at(loc[:-1]) if error["type"] == "extra_forbidden" else None
        out.append(src.problem(loc, message(error, src.from_env(loc), keys)))
    return out


def _fields_at(loc: Loc) -> list[str]:
    """The keys the schema allows at `loc` (for 'did you mean' on an unknown key)."""
    kind: Any = Config
    for part in loc:
        while get_origin(kind) in (Union, types.UnionType, Annotated):
            kind = next(a for a in get_args(kind) if a is not type(None))
        if isinstance(part, int) and get_origin(kind) is list:
            kind = get_args(kind)[0]
        elif isinstance(part, str) and isinstance(kind, type) and issubclass(kind, BaseModel):
            info = kind.model_fields.get(part)
            if info is None:
                return []
            kind = info.annotation
        else:
            return []
    while get_origin(kind) in (Union, types.UnionType):
        kind = next(a for a in get_args(kind) if a is not type(None))
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [name for name in kind.model_fields if name != "source"]
    return []


def _cross_check(
    data: dict[str, Any],
    csv_rows: CsvRows,
    csv_shown: str,
    src: Source,
    problems: list[ConfigProblem],
) -> None:
    """Rules that span entries: ids are unique, a person's unit exists.

    Run on the raw data, so these are reported together with type errors elsewhere.
    """

    def entries(kind: str) -> list[tuple[dict[str, Any], Loc]]:
        items = data.get(kind)
        if not isinstance(items, list):
            return []
        return [(item, (kind, i)) for i, item in enumerate(items) if isinstance(item, dict)]

    for kind in ("units", "sites"):
        _duplicates([(item, loc, *src.where((*loc, "id"))) for item, loc in entries(kind)], problems)

    people = [(item, loc, *src.where((*loc, "id"))) for item, loc in entries("people")]
    people += [(row, ("people_csv", i), csv_shown, line) for row, line, i in csv_rows]
    _duplicates(people, problems)

    index = _unit_index(data)
    unit_ids = list(dict.fromkeys(index.values()))
    for person, loc, file, line in people:
        unit = person.get("unit")
        if not isinstance(unit, str) or unit.strip().casefold() in index:
            continue
        if loc[0] == "people":
            file, line = src.where((*loc, "unit"))
        hint = suggest(unit, unit_ids) or (
            f" (units: {', '.join(unit_ids)})" if unit_ids else " (no units are defined)"
        )
        problems.append(ConfigProblem(file, line, dotted((*loc, "unit")), f"unknown unit {unit!r}{hint}"))


def _unit_index(data: dict[str, Any]) -> dict[str, str]:
    """How a person may name a unit -> the unit's id: its id or its name, in any case.

    An HR export names the department ("Jobcenter"), not our id ("jobcenter"). A name two
    units share names neither.
    """
    units = [u for u in data.get("units") or [] if isinstance(u, dict) and isinstance(u.get("id"), str)]
    index = {u["id"].strip().casefold(): u["id"].strip() for u in units}
    by_name: dict[str, set[str]] = {}
    for u in units:
        if isinstance(u.get("name"), str):
            by_name.setdefault(u["name"].strip().casefold(), set()).add(u["id"].strip())
    for name, ids in by_name.items():
        if len(ids) == 1 and name not in index:
            index[name] = ids.pop()
    return index


def _duplicates(items: list[tuple[dict[str, Any], Loc, str, int]], problems: list[ConfigProblem]) -> None:
    first: dict[str, tuple[Loc, str, int]] = {}
    for item, loc, file, line in items:
        ident = item.get("id")
        if not isinstance(ident, str) or not ident.strip():
            continue
        ident = ident.strip()
        if ident in first:
            floc, ffile, fline = first[ident]
            problems.append(
                ConfigProblem(
                    file,
                    line,
                    dotted((*loc, "id")),
                    f"duplicate id {ident!r} (already used by {dotted(floc)} at {ffile}:{fline})",
                )
            )
        else:
            first[ident] = (loc, file, line)


def _check_sections(config: Config, src: Source, problems: list[ConfigProblem]) -> None:
    """Rules between fields of one section, once the section itself is valid."""
    if config.smtp.ssl and config.smtp.starttls:
        problems.append(
            src.problem(
                ("smtp", "ssl"),
                "ssl and starttls exclude each other (ssl: true for port 465, starttls: true for port 587)",
            )
        )
    if config.matching.possible_score > config.matching.high_score:
        problems.append(
            src.problem(
                ("matching", "possible_score"),
                f"must not be above high_score "
                f"({config.matching.possible_score:g} > {config.matching.high_score:g})",
            )
        )


def _resolve_database(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to the config file, as the contract says.

    `postgresql://` and `postgres://` name psycopg 3, the driver Værn installs.
    """
    for short in ("postgresql://", "postgres://"):
        if url.startswith(short):
            return "postgresql+psycopg://" + url[len(short) :]
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def _sorted(problems: list[ConfigProblem], config_file: str) -> list[ConfigProblem]:
    # The config file's problems first, in line order, then those of people_csv.
    return sorted(problems, key=lambda p: (p.file != config_file, p.file, p.line, p.path))
