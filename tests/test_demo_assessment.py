"""The demo's own pages, crawled as `vaern demo` does: each leader's e-mail gives the right
severity first in the subject, the right categories, quotes the gravest passage, masks private
data, and gives the police deadline only where a report fits, counted from the harmful post."""

from __future__ import annotations

import email
import email.header
import json
import re
import subprocess
import sys
from email.message import Message
from pathlib import Path

import pytest

MONTHS = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
          "november", "december"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "vaern", "demo", "--dir", str(directory), "--no-serve"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return directory


def _mail(directory: Path, recipient: str) -> tuple[str, str]:
    [path] = [p for p in (directory / "mail").glob("*.eml") if p.name.endswith(f"-{recipient}.eml")]
    message = email.message_from_bytes(path.read_bytes())
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    return subject, _text(message)


def _text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


def _section(body: str, person: str) -> str:
    """The part of the e-mail about one person's hit."""
    start = body.index(f". {person} (")
    nxt = re.search(r"\n\d+\. ", body[start + 1 :])
    return body[start : start + 1 + nxt.start()] if nxt else body[start:]


def _hits(directory: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "vaern", "-c", str(directory / "vaern.yaml"), "hits", "--json"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    return {h["person"]: h for h in json.loads(out)}


def _local_words(stamp: str) -> str:
    """"05/12/2026 08:54" as the e-mail writes it: "5. december 2026 kl. 08:54"."""
    day, month, rest = stamp.split("/", 2)
    year, clock = rest.split(" ")
    return f"{int(day)}. {MONTHS[int(month) - 1]} {year} kl. {clock}"


def test_the_threatened_and_exposed_caseworker(demo: Path) -> None:
    subject, body = _mail(demo, "lene.leder@egeby.example")
    assert subject.startswith("KRITISK: ")
    rikke = _section(body, "Rikke Holmgaard")
    assert "Alvor: KRITISK" in rikke
    for category in ("trussel", "private oplysninger", "beskyldning om forbrydelse"):
        assert category in rikke
    assert "Det alvorligste sted (trussel):" in rikke
    # Her address and phone are published on the page; the e-mail says so without repeating them.
    assert "adresse: L••••••• ••" in rikke and "telefonnummer: •• •• •• 89" in rikke
    assert "Lærkevej 14" not in body and "23 45 67 89" not in body
    assert "Frist for politianmeldelse" in rikke and "som siden angiver" in rikke


def test_a_leader_criticised_is_not_alerted_at_once(demo: Path) -> None:
    hits = _hits(demo)
    assert hits["jbn"]["severity"] == "low" and hits["jbn"]["categories"] == ["criticism"]
    assert hits["as"]["severity"] == "low"  # "Det er en skandale og et dårligt skøn"
    _, body = _mail(demo, "lene.leder@egeby.example")
    assert "Jens Bach Nielsen" not in body  # alerts.policy: low goes to the digest
    assert not list((demo / "mail").glob("*-jobcenter*.eml"))


def test_surname_in_capitals_and_threat_by_surname(demo: Path) -> None:
    subject, body = _mail(demo, "birgit.lund@egeby.example")
    assert subject.startswith("KRITISK: ")
    dahl = _section(body, "Mette-Louise Dahl")
    assert "Alvor: ALVORLIG" in dahl
    assert "Art: grov fornærmelse, beskyldning om forbrydelse" in dahl
    assert 'Det alvorligste sted (beskyldning om forbrydelse): "Hun har stjålet fra min mors konto' in dahl
    assert "fundet ud fra sammenhængen" in dahl
    vestergaard = _section(body, "Thomas Vestergaard")
    assert "Alvor: KRITISK" in vestergaard and "Art: trussel" in vestergaard
    assert "Vi skal nok finde dig, Vestergaard." in vestergaard

    # Each deadline counts from the post that holds the harm, as the page dates it.
    hits = _hits(demo)
    snapshot = hits["mld"]["snapshots"][0]["files"]["text"]["path"]  # type: ignore[index]
    page = (demo / "archive" / str(snapshot)).read_text(encoding="utf-8")
    accused = re.search(r"egebyborger skrev (\d\d/\d\d/\d{4} \d\d:\d\d):\s*DAHL", page)
    threatened = re.search(r"egebyborger skrev (\d\d/\d\d/\d{4} \d\d:\d\d):\s*Vi skal nok finde dig", page)
    assert accused and threatened
    assert f"som siden angiver: {_local_words(accused.group(1))}." in dahl
    assert f"som siden angiver: {_local_words(threatened.group(1))}." in vestergaard


def test_hits_json_carries_severity_passage_and_how_mentions_were_found(demo: Path) -> None:
    hits = _hits(demo)
    assert hits["tv"]["severity"] == "critical"
    passage = hits["mld"]["passage"]
    assert isinstance(passage, dict) and passage["category"] == "accusation"
    found = {m["found"] for m in hits["mld"]["mentions"]}  # type: ignore[union-attr]
    assert found == {"text", "context"}
