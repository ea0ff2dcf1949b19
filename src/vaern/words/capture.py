"""What evidence capture records, in English, in its sealed files, read back in the report's language.

`crawler/capture.py` writes its limitations, notes and actions into provenance.json and
manifest.json in English; they are sealed evidence and stay as recorded. Each is a text of
`en.py` under an id (`capture.limitation.*`, `capture.note.*`, `capture.action.*`); the report
finds the id of a recorded text here and shows the Danish text of that id. A recorded text that is
none of them (an older capture's, say) is shown as recorded, marked as a quotation.
"""

from __future__ import annotations

import re
import string

from vaern.words import en


def _ids(prefix: str) -> dict[str, str]:
    return {text: key for key, text in en.EN.items() if key.startswith(prefix)}


def _pattern(template: str) -> re.Pattern[str]:
    """A note's English template ("page is {h} px tall") as a pattern over a whole recorded note."""
    out = ""
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        out += re.escape(literal) + (f"(?P<{field}>.+?)" if field else "")
    return re.compile(out, re.S)


# The recorded English of each limitation and action, and the pattern of each note -> its id.
LIMITATIONS = _ids("capture.limitation.")
ACTIONS = _ids("capture.action.")
NOTES = {key: _pattern(text) for key, text in en.EN.items() if key.startswith("capture.note.")}
_SCROLLER = re.compile(r"scroller-(\d+)")


def limitation_id(text: str) -> str | None:
    return LIMITATIONS.get(text)


def action_id(text: str) -> str | None:
    return ACTIONS.get(text)


def note_id(text: str) -> tuple[str, dict[str, str]] | None:
    """The id of a recorded note and the values in it, or None when it is no note capture writes."""
    for key, pattern in NOTES.items():
        m = pattern.fullmatch(text)
        if m:
            return key, m.groupdict()
    return None


def kind_id(kind: str) -> tuple[str, dict[str, str]]:
    """The id of a file kind of the manifest ("screenshot", "scroller-2") and its values."""
    scroller = _SCROLLER.fullmatch(kind)
    if scroller:
        return "capture.kind.scroller", {"n": scroller.group(1)}
    return f"capture.kind.{kind}", {}
