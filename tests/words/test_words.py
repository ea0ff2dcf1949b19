"""The words: one table per language with the same ids, and every id the templates use in both."""

from __future__ import annotations

import re
from pathlib import Path

from vaern import alerts, review, storage
from vaern.crawler.capture import LIMITATIONS
from vaern.words import Words
from vaern.words.da import DA
from vaern.words.en import EN

_LITERAL_ID = re.compile(r"""\bt\(\s*["']([^"']+)["']\s*[,)]""")


def test_danish_and_english_have_the_same_ids_and_the_same_placeholders() -> None:
    assert set(DA) == set(EN)
    fields = re.compile(r"\{(\w+)")
    assert [k for k in DA if set(fields.findall(DA[k])) != set(fields.findall(EN[k]))] == []


def test_every_id_the_templates_and_pages_use_has_words_in_both_languages() -> None:
    used: set[str] = set()
    for folder in (Path(review.__file__).parent, Path(storage.__file__).parent):
        for path in [*folder.glob("templates/*.htm*"), *folder.glob("templates/*.j2"), *folder.glob("*.py")]:
            used |= set(_LITERAL_ID.findall(path.read_text(encoding="utf-8")))
    assert len(used) > 200
    assert sorted(u for u in used if u not in DA or u not in EN) == []
    mail = set(re.findall(r"""t\[["']([^"']+)["']\]""", "".join(
        p.read_text(encoding="utf-8") for p in (Path(alerts.__file__).parent / "templates").glob("*.j2"))))
    assert mail and sorted(m for m in mail if f"mail.{m}" not in DA) == []


def test_what_capture_records_in_english_is_read_back_by_id() -> None:
    danish = Words("da")
    assert all(danish.limitation(text)[1] for text in LIMITATIONS)
    assert danish.limitation(LIMITATIONS[0])[0] == DA["capture.limitation.hashes"]
    assert danish.note("page is 70000 px tall; screenshot capped at 60000 px") == (
        "siden er 70000 px høj; skærmbilledet er afkortet ved 60000 px", True)
    assert danish.kind("scroller-2") == "indre rulleområde 2" and Words("en").kind("scroller-2") == "scroller-2"


def test_an_id_without_words_reads_as_itself_and_dates_follow_the_language() -> None:
    from datetime import datetime

    assert Words("da")("a_status_not_known_yet") == "a_status_not_known_yet"
    moment = datetime(2026, 11, 12, 14, 3)
    assert Words("da").when(moment, weekday=True) == "torsdag 12. november 2026 kl. 14:03"
    assert Words("en").when(moment, weekday=True) == "Thursday 12 November 2026, 14:03"
    assert Words("en").section("mail")("greeting", name="Lene") == "Dear Lene"
