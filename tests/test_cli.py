"""The command line as CONTRACT.md describes it: exit codes, `check`, `match`, `hits --json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from vaern import clock
from vaern.app import open_services, watched_people
from vaern.cli import main
from vaern.crawler import ocr
from vaern.domain import Byline, Page
from vaern.matchers import build_index
from vaern.pipeline import PagePipeline
from vaern.storage.db import transaction
from vaern.storage.queries import new_run
from vaern.testing.processes import live_descendants


def _invoke(config: Any, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, ["-c", str(config.source), *args], input=input)


def test_check_prints_a_summary_for_a_valid_config(make_config: Any) -> None:
    config = make_config()
    result = _invoke(config, "check")
    assert result.exit_code == 0, result.output
    assert "units: 2, people: 3, sites: 0" in result.output
    assert "warning: ocr" not in result.output  # on by default where Tesseract is installed: nothing to say


def test_check_warns_when_ocr_is_switched_on_but_tesseract_is_missing(
    make_config: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    config = make_config(ocr={"enabled": True})
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on this PATH
    ocr.tesseract.cache_clear()
    try:
        result = _invoke(config, "check")
        assert result.exit_code == 0, result.output
        assert (
            "  warning: ocr.enabled is true, but tesseract is not installed: text in images is not read "
            "(apt-get install tesseract-ocr tesseract-ocr-dan)"
        ) in result.output.splitlines()
        quiet = _invoke(make_config(), "check")  # the default says nothing: images are simply not read
        assert "warning: ocr" not in quiet.output
    finally:
        ocr.tesseract.cache_clear()
        ocr.languages_installed.cache_clear()


def test_check_warns_when_tesseract_lacks_the_language_data(make_config: Any) -> None:
    result = _invoke(make_config(ocr={"languages": "dan+xqz"}), "check")
    assert result.exit_code == 0, result.output
    assert (
        "  warning: ocr.languages: tesseract has no language data for xqz (apt-get install tesseract-ocr-xqz): "
        "text in images is not read"
    ) in result.output.splitlines()


def test_check_exits_2_with_file_line_field_message(tmp_path: Path) -> None:
    path = tmp_path / "vaern.yaml"
    path.write_text("organisation: X\nsmtp:\n  hots: mail.example\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["-c", str(path), "check"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{path}:3: smtp.hots: unknown key (did you mean 'host'?)"


def test_match_reads_json_lines_and_writes_mentions(tmp_path: Path) -> None:
    people = tmp_path / "people.json"
    people.write_text(json.dumps([{"id": "rr", "name": "René Rosenkilde", "aliases": []}]), encoding="utf-8")
    lines = json.dumps({"id": "d1", "text": "Hvorfor får René Rosenkilde lov?"}) + "\n" + json.dumps(
        {"id": "d2", "text": "Ingen navne her."}
    )
    result = CliRunner().invoke(main, ["match", "--people", str(people)], input=lines)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == ["d1", "d2"]
    (mention,) = out[0]["mentions"]
    assert mention["person"] == "rr" and mention["confidence"] == "high"
    assert "Hvorfor får René Rosenkilde lov?"[mention["start"] : mention["end"]] == "René Rosenkilde"
    assert set(mention) == {"person", "start", "end", "score", "confidence", "variant", "categories", "found"}
    assert mention["found"] == "text"
    assert out[1]["mentions"] == [] and out[1]["context"] == []


def test_match_gives_later_references_found_in_context_as_a_crawl_does(tmp_path: Path) -> None:
    people = tmp_path / "people.json"
    people.write_text(json.dumps([{"id": "rr", "name": "René Rosenkilde", "aliases": []}]), encoding="utf-8")
    text = "René Rosenkilde har lukket sagen. Rosenkilde er en idiot. Han skal have tæsk."
    result = CliRunner().invoke(main, ["match", "--people", str(people)], input=json.dumps({"id": "d", "text": text}))
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    # The names as written stay `mentions`; what a crawl also counts is added beside them.
    assert [(text[m["start"] : m["end"]], m["found"]) for m in line["mentions"]] == [("René Rosenkilde", "text")]
    assert [(text[m["start"] : m["end"]], m["found"]) for m in line["context"]] == [
        ("Rosenkilde", "context"), ("Han", "context")
    ]
    mentions = line["mentions"] + line["context"]
    # Each mention carries the categories of its own sentence, not those of the full name's.
    assert [m["categories"] for m in mentions] == [[], ["insult"], ["threat"]]
    assert all(m["person"] == "rr" and m["confidence"] == "high" for m in mentions)


def test_match_rejects_a_line_that_is_not_json(tmp_path: Path) -> None:
    people = tmp_path / "people.json"
    people.write_text("[]", encoding="utf-8")
    result = CliRunner().invoke(main, ["match", "--people", str(people)], input="not json\n")
    assert result.exit_code == 2
    assert "<stdin>:1: not a JSON object" in result.stderr


def test_hits_json_has_the_contract_fields(make_config: Any) -> None:
    config = make_config(sites=[{"id": "blog", "start_urls": ["http://127.0.0.1:1/"]}])
    services = open_services(config)
    with transaction(services.sessions) as session:
        run_id = new_run(session, "blog")
    pipeline = PagePipeline(config, config.site("blog"), services.sessions, build_index(watched_people(config)), run_id)
    text = "Karin Juhl har igen glemt at ringe tilbage."
    pipeline.page(Page("blog", "http://x/1", 200, clock.now(), text.encode(), text, content_hash="a",
                       bylines=(Byline(0, len(text), "Vred Borger", "json-ld"),)))
    services.engine.dispose()

    result = _invoke(config, "hits", "--json")
    assert result.exit_code == 0, result.output
    (hit,) = json.loads(result.output)
    assert hit["id"] == "h-000001"
    assert (hit["person"], hit["person_name"], hit["unit"], hit["site"]) == ("kj", "Karin Juhl", "job", "blog")
    assert (hit["url"], hit["status"], hit["confidence"]) == ("http://x/1", "new", "high")
    assert hit["matched_text"] == ["Karin Juhl"] and "Karin Juhl" in hit["excerpt"]
    assert hit["first_seen"].endswith("Z") and hit["removed_at"] is None
    assert hit["snapshots"] == [] and hit["alerts"] == []
    assert set(hit) == {
        "id", "person", "person_name", "unit", "site", "url", "status", "confidence", "score", "matched_text",
        "excerpt", "categories", "first_seen", "last_seen", "removed_at", "snapshots", "alerts", "evidence_owed",
        "also_shown_on",  # added: the listing pages that showed the post (issue 21)
        # Added by the assessment (CONTRACT.md, Additions): severity, passage, mentions[].found.
        "severity", "passage", "mentions",
        "author",  # added: who wrote the post, where the page says (issue 19)
    }
    assert hit["author"] == "Vred Borger"
    assert hit["evidence_owed"] is True  # the contract's added field: no complete snapshot yet
    assert hit["also_shown_on"] == []
    assert (hit["severity"], hit["categories"], hit["passage"]) == ("none", [], None)
    assert hit["mentions"] == [{"text": "Karin Juhl", "found": "text", "confidence": "high"}]
    assert json.loads(_invoke(config, "hits", "--json", "--person", "rr").output) == []
    assert len(json.loads(_invoke(config, "hits", "--json", "--since", "2000-01-01T00:00:00Z").output)) == 1
    bad = _invoke(config, "hits", "--since", "yesterday")
    assert bad.exit_code == 2 and "not an ISO 8601 time" in bad.stderr


def test_crawl_says_which_database_it_cannot_open_and_leaves_no_crawl_process(make_config: Any) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(
        database=f"postgresql+psycopg://vaern:hemmeligt@127.0.0.1:{port}/vaern",
        sites=[{"id": "s", "start_urls": [f"http://127.0.0.1:{port}/"]}],
    )
    result = _invoke(config, "crawl", "--no-alerts")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot open the database postgresql+psycopg://vaern:***@127.0.0.1:{port}/vaern")
    assert "hemmeligt" not in result.stderr
    # The crawl process started ahead (supervisor.prestart_crawls) went with the failed command.
    assert not [p for p, line in live_descendants() if "crawl-site" in line]
