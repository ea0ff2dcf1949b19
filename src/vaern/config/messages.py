"""The words of config errors: pydantic's errors and the config's locations in plain language.

`message(error, …)` turns one pydantic error into a sentence an HR officer can act on (a value
taken from the environment is never shown); `dotted(loc)` writes a location as
`sites[0].follow.allow`; `suggest` offers the closest allowed word ("did you mean …?").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    """('sites', 0, 'follow', 'allow') -> 'sites[0].follow.allow'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # An invisible or odd character in a key (a non-breaking space pasted from a
            # document) is shown quoted so the reader sees why it does not match.
            text = part if re.fullmatch(r"[\w.-]+", part) else repr(part)
            out += f".{text}" if out else text
    return out or "(top)"



def suggest(word: str, choices: Iterable[str], what: str = "") -> str:
    """' (did you mean 'x'?)' when a choice is close to `word`, else ''."""
    close = difflib.get_close_matches(word.replace("\xa0", " ").strip(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def quoted(text: str) -> str:
    """'text' as written (a regex's backslashes not doubled), or repr() where that would mislead."""
    return f"'{text}'" if "'" not in text and text.isprintable() else repr(text)


def describe(value: Any) -> str:
    """How an offending value is named in a message."""
    if value is None:
        return "nothing (the value is empty)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return quoted(value) if isinstance(value, str) else repr(value)


# pydantic's error type of a number out of range -> how the bound is said, and its key in the context.
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def message(error: Any, from_env: list[str], keys: Iterable[str] | None = None) -> str:
    """One pydantic error in plain words. Values taken from the environment are never shown."""
    kind = str(error["type"])
    ctx = error.get("ctx") or {}
    value = error.get("input")
    got = (
        "the value of " + ", ".join("${" + n + "}" for n in from_env) + " (not shown)"
        if from_env
        else describe(value)
    )
    # A number out of range reads better bare: "at least 1, not 0".
    number = got if from_env or not isinstance(value, str) else value
    if kind == "extra_forbidden":
        key = str(error["loc"][-1])
        allowed = sorted(keys or [])
        if key != key.strip() or "\xa0" in key:
            return "unknown key (it holds a stray or non-breaking space; retype it with plain spaces)"
        hint = suggest(key, allowed)
        return "unknown key" + (hint or (f" (allowed here: {', '.join(allowed)})" if allowed else ""))
    if kind == "missing":
        return "required field is missing"
    if kind in ("string_type", "string_sub_type"):
        return f"expected text, got {got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {got}"
    if kind in ("float_parsing", "float_type", "decimal_parsing"):
        return f"expected a number, got {got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false (or yes/no), got {got}"
    if kind in ("list_type", "tuple_type", "set_type"):
        hint = " (write [a, b] or one '- item' per line)" if isinstance(value, str) else ""
        return f"expected a list, got {got}{hint}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return f"expected a mapping (key: value lines indented below it), got {got}"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected')}, not {got}"
    if kind in _BOUNDS:
        words, bound = _BOUNDS[kind]
        return f"must be {words} {ctx.get(bound)}, not {number}"
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"needs at least {n} {'item' if n == 1 else 'items'}"
    if kind == "too_long":
        return f"may have at most {ctx.get('max_length')} items"
    if kind in ("path_type", "path_parsing"):
        return f"expected a file or folder path, got {got}"
    return str(error["msg"]).removeprefix("Value error, ")
