"""Reading the config's files into plain data that remembers where each value came from.

`loading.load_config` validates; this module only reads: `vaern.yaml` (YAML with a line number
for every key and value, `${VAR}` taken from the environment) and the optional `people_csv`
(an HR export: comma- or semicolon-separated, UTF-8 or Windows-1252). A YAML syntax error is
explained here, where the reading fails; the words for every other problem are `messages.py`'s.

Scalars are kept as the text that was written. YAML 1.1 would turn `no` into False, `0123`
into 83 and `7:30` into 450; pydantic then converts the text to the type each field wants
(`yes`/`no`/`true`/`false` for booleans, digits for numbers), so a person named `Yes` or an
employee number with a leading zero survives. A plain empty value or `null`/`~` is None.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vaern.config.messages import Loc, dotted, suggest
from vaern.errors import ConfigProblem

# `${NAME}`, `${NAME:-default}`, or `$${` for a literal `${`.
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_CSV_COLUMNS = ("id", "name", "aliases", "unit", "title")


@dataclass
class Source:
    """Where every location in the loaded data was written, and which came from the environment."""

    file: str
    lines: dict[Loc, tuple[str, int]] = field(default_factory=dict)
    # location -> the variables substituted there and their values (never printed)
    secrets: dict[Loc, dict[str, str]] = field(default_factory=dict)

    def where(self, loc: Loc) -> tuple[str, int]:
        """The file and line of `loc`, or of the nearest enclosing location we know."""
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, (self.file, 1))

    def problem(self, loc: Loc, message: str) -> ConfigProblem:
        file, line = self.where(loc)
        return ConfigProblem(file, line, dotted(loc), self.scrub(loc, message))

    def scrub(self, loc: Loc, message: str) -> str:
        """Replace any value taken from the environment at or under `loc` by its `${NAME}`."""
        for where, values in self.secrets.items():
            if where[: len(loc)] == loc or loc[: len(where)] == where:
                for name, value in values.items():
                    if value:
                        message = message.replace(value, "${" + name + "}")
        return message

    def from_env(self, loc: Loc) -> list[str]:
        """Names of the variables substituted into the value at `loc`."""
        return sorted(self.secrets.get(loc, {}))


# ---------------------------------------------------------------------------------------------
# YAML


def read_yaml(path: Path, shown: str) -> tuple[Any, Source, list[ConfigProblem]]:
    """Parse `path`; return the data, where each part of it is, and the problems met on the way.

    A file that cannot be read or parsed raises nothing here: it comes back as one problem and
    data None, since nothing else can be checked.
    """
    src = Source(shown, {(): (shown, 1)})
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, src, [ConfigProblem(shown, 0, "(file)", f"cannot read: {exc.strerror}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        return None, src, [ConfigProblem(shown, line, "(file)", problem)]
    try:
        node = _compose(text)
    except _TooBig as exc:
        return None, src, [ConfigProblem(shown, exc.line, "(yaml)", str(exc))]
    except yaml.MarkedYAMLError as exc:
        line, message = _syntax_message(exc, text)
        return None, src, [ConfigProblem(shown, line, "(yaml)", message)]
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        problem = f"a control character (0x{exc.character:02x}) that a config file may not hold"
        return None, src, [ConfigProblem(shown, line, "(yaml)", problem)]
    problems: list[ConfigProblem] = []
    try:
        data = _construct(node, (), src, problems, [0]) if node is not None else {}
    except _TooBig as exc:
        return None, src, [ConfigProblem(shown, exc.line, "(yaml)", str(exc))]
    return data, src, problems


# A Værn config is a few levels deep and at most some thousands of values. Limits far above that
# stop hostile files before they cost memory or time: YAML aliases inside aliases (a "billion
# laughs" file of a few lines expands to billions of values) and nesting thousands deep (the
# Python parser recurses once per level).
MAX_DEPTH = 64
MAX_VALUES = 200_000
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep; a config needs only a few"
_TOO_MANY = (f"the file expands to more than {MAX_VALUES:,} values (aliases inside aliases?); "
             "a config needs far fewer")


class _TooBig(Exception):
    """The YAML is beyond MAX_DEPTH or MAX_VALUES; carries the line and the message."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(message)


def _compose(text: str) -> yaml.Node | None:
    # libyaml is fast but words its errors differently (and accepts a few things the Python
    # parser does not); on any error parse again in Python so messages are the same everywhere,
    # except nesting beyond libyaml's own limit, which the Python parser would recurse into.
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.compose(text, Loader=loader)
        except yaml.MarkedYAMLError as exc:
            if "nesting depth" in str(exc.problem or ""):
                raise _TooBig(exc.problem_mark.line + 1 if exc.problem_mark else 1, _TOO_DEEP) from None
        except yaml.YAMLError:
            pass
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise _TooBig(1, _TOO_DEEP) from None


def _syntax_message(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """A line and a plain-words message for the mistakes people make when editing YAML by hand."""
    problem = str(exc.problem or "")
    context = str(exc.context or "")
    mark = exc.problem_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    context_line = exc.context_mark.line + 1 if exc.context_mark else line
    lines = text.splitlines()
    for n in sorted({context_line, line}):
        if 0 < n <= len(lines) and "\xa0" in lines[n - 1]:
            return n, "a non-breaking space (pasted from a document?); retype it as a plain space"
    if "single document" in context:
        return line, "a second document ('---') starts here; the config is one document"
    if "'\\t'" in problem:
        return line, f"a tab character (column {column}); indent with spaces, not tabs"
    if "cannot start any token" in problem:
        return line, f"{problem} (column {column})"
    if problem.startswith("mapping values are not allowed"):
        return line, (
            f"unexpected ':' (column {column}); put a value that holds ': ' or ends in ':' in quotes, "
            'like name: "Børn: Familie"'
        )
    if problem.startswith("could not find expected ':'"):
        return context_line, "this line has no ':' (expected key: value)"
    if "quoted scalar" in context and "end of stream" in problem:
        return context_line, "a quote opened on this line is never closed"
    if "flow" in context:
        return context_line, f"a [ or {{ opened on this line is not closed properly ({problem})"
    if problem.startswith("expected <block end>") or "did not find expected key" in problem:
        return line, "the indentation does not line up with the lines above"
    if "found unknown escape" in problem:
        return line, (
            f"{problem} (column {column}); inside double quotes a backslash starts an escape: "
            "put a regular expression in single quotes instead"
        )
    if "found character" in problem:
        return line, f"{problem} (column {column})"
    words = f"{problem} ({context})" if context else problem
    return line, words or str(exc)


def _construct(node: yaml.Node, loc: Loc, src: Source, problems: list[ConfigProblem], made: list[int]) -> Any:
    """Turn a composed YAML node into plain data, recording each value's line. `made` counts the
    values made so far (an alias is made again each time it is used); see MAX_VALUES."""
    made[0] += 1
    if made[0] > MAX_VALUES:
        raise _TooBig(node.start_mark.line + 1, _TOO_MANY)
    if len(loc) > MAX_DEPTH:
        raise _TooBig(node.start_mark.line + 1, _TOO_DEEP)
    src.lines[loc] = (src.file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in _merged(node, problems, src):
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    ConfigProblem(
                        src.file,
                        key_node.start_mark.line + 1,
                        dotted(loc),
                        "a key must be a plain word, not a list or mapping",
                    )
                )
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in first_line:
                problems.append(
                    ConfigProblem(
                        src.file,
                        line,
                        dotted((*loc, key)),
                        f"key given twice (first on line {first_line[key]})",
                    )
                )
            first_line.setdefault(key, line)
            out[key] = _construct(value_node, (*loc, key), src, problems, made)
            # Errors about a key (unknown, wrong type) point at the key's own line.
            src.lines[(*loc, key)] = (src.file, line)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), src, problems, made) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    if node.tag.startswith("!"):
        problems.append(
            ConfigProblem(
                src.file,
                node.start_mark.line + 1,
                dotted(loc),
                f"YAML tags like {node.tag} are not supported here",
            )
        )
    if node.tag == _NULL and not node.style:
        return None
    return _substitute(str(node.value), loc, node.start_mark.line + 1, src, problems)


Pairs = list[tuple[yaml.Node, yaml.Node]]


def _merged(node: yaml.MappingNode, problems: list[ConfigProblem], src: Source) -> Pairs:
    """The mapping's pairs with YAML merge keys (`<<: *defaults`) applied; own keys win."""
    own = [(k, v) for k, v in node.value if k.tag != _MERGE]
    merges = [v for k, v in node.value if k.tag == _MERGE]
    if not merges:
        return own
    inherited: Pairs = []
    for value in merges:
        for sub in value.value if isinstance(value, yaml.SequenceNode) else [value]:
            if isinstance(sub, yaml.MappingNode):
                inherited.extend(_merged(sub, problems, src))
            else:
                problems.append(
                    ConfigProblem(
                        src.file,
                        sub.start_mark.line + 1,
                        "(yaml)",
                        "'<<' must name a mapping (like <<: *defaults)",
                    )
                )
    names = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    seen: set[str] = set()
    kept = []
    for k, v in inherited:
        if isinstance(k, yaml.ScalarNode) and (k.value in names or k.value in seen):
            continue
        seen.add(str(k.value))
        kept.append((k, v))
    return kept + own


def _substitute(value: str, loc: Loc, line: int, src: Source, problems: list[ConfigProblem]) -> str:
    if "$" not in value:
        return value

    def replace(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            src.secrets.setdefault(loc, {})[name] = os.environ[name]
            return os.environ[name]
        if default is not None:
            return default
        problems.append(ConfigProblem(src.file, line, dotted(loc), f"environment variable {name} is not set"))
        return ""

    # Check the written text, not the result: a secret may itself contain '${'.
    leftover = _VAR.sub("", value)
    if "${" in leftover:
        problems.append(
            ConfigProblem(
                src.file,
                line,
                dotted(loc),
                "'${' must start a reference like ${NAME} (letters, digits, _); write $${ for a literal ${",
            )
        )
    return _VAR.sub(replace, value)


# ---------------------------------------------------------------------------------------------
# people_csv


# (person, the line its row starts on, its index among the data rows)
CsvRows = list[tuple[dict[str, Any], int, int]]


def read_people_csv(
    path: Path, shown: str, problems: list[ConfigProblem], named_at: tuple[str, int]
) -> CsvRows:
    """Rows of an HR export as person dicts, each with the line it starts on and its index.

    Accepts what spreadsheet programs write: a UTF-8 BOM or Windows-1252 (Danish Excel's
    "CSV (semikolonsepareret)"), ',' or ';' or tab between fields, header names in any case.
    A file that cannot be read is reported where the config names it (`named_at`).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(ConfigProblem(*named_at, "people_csv", f"cannot read {shown}: {exc.strerror}"))
        return []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ("id", "name") if c not in header]
    if missing:
        problems.append(
            ConfigProblem(
                shown,
                1,
                "people_csv",
                f"the header line lacks {' and '.join(missing)} (expected {','.join(_CSV_COLUMNS)})",
            )
        )
        return []
    for col in header:
        if col not in _CSV_COLUMNS:
            problems.append(
                ConfigProblem(
                    shown, 1, f"people_csv.{col or '(empty)'}", f"unknown column{suggest(col, _CSV_COLUMNS)}"
                )
            )
        elif header.count(col) > 1:
            problems.append(ConfigProblem(shown, 1, f"people_csv.{col}", "column given twice"))
    rows: CsvRows = []
    end = reader.line_num
    index = -1
    for cells in reader:
        start, end = end + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        index += 1
        if len(cells) > len(header):
            # The columns are shifted: what follows would only add confusing errors.
            problems.append(
                ConfigProblem(
                    shown,
                    start,
                    f"people_csv[{index}]",
                    f"the row has {len(cells)} fields but the header has {len(header)}"
                    + (" (a name with ',' must be in quotes)" if delimiter == "," else ""),
                )
            )
            continue
        values = dict(zip(header, (c.strip() for c in cells), strict=False))
        person: dict[str, Any] = {"id": values.get("id", ""), "name": values.get("name", "")}
        aliases = [a.strip() for a in values.get("aliases", "").split(";") if a.strip()]
        if aliases:
            person["aliases"] = aliases
        for col in ("unit", "title"):
            if values.get(col):
                person[col] = values[col]
        rows.append((person, start, index))
    return rows
