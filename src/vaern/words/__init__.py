"""The words Værn shows people — the alert e-mails, the review app and the evidence report — in
Danish (the default) and English, keyed by ids; `language` in the config chooses.

    da.py, en.py   the two tables, id -> text; each has every id of the other (a test holds them to it)
    capture.py     the ids of what evidence capture records in English, so the report can show it
                   in Danish

Ids: `mail.*` the e-mails, `page.*` the review app's pages, `report.*` the evidence report, `hit.*`
what the app and the report both say about a hit, `case.*` why a change to a hit's case was refused,
`capture.*` what capture recorded, `date.*` how dates are written; statuses, categories, roles and
other codes are their own ids as the data holds them (`new`, `threat`, `step_police_report`).
Templates call `t("page.police_deadline")`; code calls `Words(config.language)(...)`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vaern.words import capture, da, en


class Words:
    """One language's words: `words("page.hits")`, `words("mail.greeting", name="Lene")`.

    `section("mail")` gives the same words with ids relative to `mail.`. An id this language does
    not have is shown as it is: a status the code does not know yet reads as itself.
    """

    def __init__(self, language: str, prefix: str = "") -> None:
        self.language = "en" if language == "en" else "da"
        self.danish = self.language == "da"
        self._module = da if self.danish else en
        self._table: Mapping[str, str] = da.DA if self.danish else en.EN
        self._prefix = prefix

    def __call__(self, key: str, **values: object) -> str:
        text = self._table.get(self._prefix + key)
        if text is None:
            return key
        return text.format(**values) if values else text

    def __contains__(self, key: str) -> bool:
        return self._prefix + key in self._table

    def section(self, name: str) -> Words:
        """These words with ids relative to `name.` (the e-mails use `section("mail")`)."""
        return Words(self.language, f"{self._prefix}{name}.")

    @functools.cached_property
    def labels(self) -> dict[str, str]:
        """The section's texts without placeholders, by their relative ids (for templates: `t["where"]`)."""
        start = len(self._prefix)
        return {k[start:]: v for k, v in self._table.items() if k.startswith(self._prefix) and "{" not in v}

    def code(self, prefix: str, value: str | None) -> str:
        """A status, reason, category or confidence in words; one without words is shown as it is."""
        if not value:
            return ""
        key = f"{prefix}{value}"
        return self(key) if key in self else value

    def number(self, value: float) -> str:
        text = f"{value:g}"
        return text.replace(".", ",") if self.danish else text

    def when(self, local: datetime, *, weekday: bool = False, clock: bool = True) -> str:
        """'torsdag 12. november 2026 kl. 14:03' / 'Thursday 12 November 2026, 14:03'."""
        table, module = self._table, self._module  # dates are the same words in every section
        text = table["date.day"].format(day=local.day, month=module.MONTHS[local.month - 1], year=local.year)
        if weekday:
            text = table["date.weekday"].format(weekday=module.DAYS[local.weekday()], date=text)
        return table["date.at"].format(date=text, time=f"{local:%H:%M}") if clock else text

    # -- what evidence capture recorded (in English) -------------------------------------------

    def kind(self, kind: str) -> str:
        """What a file of the manifest is (its kind is the manifest's key, shown as it is in English)."""
        key, values = capture.kind_id(kind)
        return self(key, **values) if self.danish and key in self else kind

    def limitation(self, text: str) -> tuple[str, bool]:
        """A limitation capture recorded, in this language; False when it can only be quoted as recorded."""
        key = capture.limitation_id(text)
        if not self.danish:
            return text, True
        return (self(key), True) if key is not None else (text, False)

    def note(self, text: str) -> tuple[str, bool]:
        """A note of the manifest, in this language; False when it can only be quoted as recorded."""
        found = capture.note_id(text)
        if not self.danish:
            return text, True
        return (self(found[0], **found[1]), True) if found is not None else (text, False)

    def action(self, action: dict[str, Any]) -> tuple[str, bool]:
        """One entry of the capture's actions log, in a sentence; False when it can only be quoted as recorded."""
        recorded = str(action.get("action", "?"))
        key = capture.action_id(recorded)
        what = self(key) if self.danish and key is not None else recorded
        text = what
        if "steps" in action:
            then = str(action.get("then", ""))
            then_key = capture.action_id(then)
            then = self(then_key) if self.danish and then_key is not None else then
            details = self("capture.action.steps", steps=action["steps"], height=action.get("final_height", "?"),
                           then=then)
            text = f"{what} ({details})"
        if "container" in action:
            positions = ", ".join(str(p) for p in action.get("positions") or [])
            text += self("capture.action.container", container=action["container"], positions=positions,
                         restored=action.get("restored_to", "?"))
        return text, not self.danish or key is not None


__all__ = ["Words"]
