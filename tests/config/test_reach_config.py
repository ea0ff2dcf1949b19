"""Config rules of reach: a site's session file, the added-sites file and the discovery section.

Each bad input is an error naming its file, line and field; an added site that would break the
config is refused and the file stays as it was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from vaern.config import load_config
from vaern.config.addedsites import add_site, new_site_entry
from vaern.config.summary import summary
from vaern.errors import ConfigError

STATE = {"cookies": [{"name": "sid", "value": "abc", "domain": ".forum.example", "path": "/"}], "origins": []}


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "vaern.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _site(session: str | None = None, **extra: Any) -> dict[str, Any]:
    site: dict[str, Any] = {"id": "forum", "start_urls": ["https://www.forum.example/"], **extra}
    if session is not None:
        site["session"] = session
    return site


def test_a_good_session_file_is_resolved_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps(STATE), encoding="utf-8")
    config = load_config(_write(tmp_path, {"organisation": "X", "sites": [_site("state.json")],
                                           "discovery": {"providers": [{"kind": "brave", "api_key": "k"}]}}))
    assert config.sites[0].session == (tmp_path / "state.json").resolve()
    shown = summary(config)
    assert f"logged in with {(tmp_path / 'state.json').resolve()}" in shown
    assert "  discovery: brave; at most 100 queries a day, each name every 1d" in shown
    assert "added sites" not in shown  # no such file yet


@pytest.mark.parametrize(("content", "words"), [
    (None, "no such file"),
    ("{not json", "not a JSON storage-state file"),
    (json.dumps({"origins": []}), 'not a Playwright storage-state file (no "cookies" list)'),
    (json.dumps({"cookies": [{"name": "sid"}]}), "cookies[0] needs name, value and domain as text"),
    (json.dumps({"cookies": [{"name": "sid", "value": "v", "domain": "other.example"}]}),
     "holds no cookie for www.forum.example (was it exported while logged in to this site?)"),
])
def test_a_bad_session_file_is_an_error_with_its_line(tmp_path: Path, content: str | None, words: str) -> None:
    if content is not None:
        (tmp_path / "state.json").write_text(content, encoding="utf-8")
    path = _write(tmp_path, {"organisation": "X", "sites": [_site("state.json")]})
    [error] = _errors(path)
    assert error.startswith(f"{path}:6: sites[0].session: "), error
    assert words in error


def test_added_sites_are_merged_and_their_errors_name_their_own_file(tmp_path: Path) -> None:
    path = _write(tmp_path, {"organisation": "X", "sites": [_site()]})
    added = tmp_path / "added-sites.yaml"
    added.write_text("sites:\n  - id: blog\n    start_urls: [https://blog.example/]\n", encoding="utf-8")
    config = load_config(path)
    assert [s.id for s in config.sites] == ["forum", "blog"] and config.sites_file == added.resolve()
    assert f"  added sites: {added.resolve()} (merged into sites)" in summary(config)

    added.write_text("sites:\n  - id: forum\n    start_urls: [https://x.example/]\n"
                     "  - id: ok\n    start_urls: [nope]\n", encoding="utf-8")
    errors = _errors(path)
    assert errors == [
        f"{added.resolve()}:2: sites[0].id: duplicate id 'forum' (already used at {path}:3)",
        f"{added.resolve()}:5: sites[1].start_urls[0]: 'nope' is not an http(s) URL",
    ], errors


def test_add_site_checks_the_whole_config_first_and_never_half_applies(tmp_path: Path) -> None:
    path = _write(tmp_path, {"organisation": "X", "sites": [_site()]})
    config = load_config(path)
    site = add_site(config, new_site_entry(config, "https://hadeside.example/opslag/3"))
    assert (site.id, site.start_urls) == ("hadeside-example", ["https://hadeside.example/",
                                                               "https://hadeside.example/opslag/3"])
    config = load_config(path)
    assert [s.id for s in config.sites] == ["forum", "hadeside-example"]
    assert new_site_entry(config, "https://hadeside.example/x")["id"] == "hadeside-example-2"
    before = config.sites_file.read_bytes()
    with pytest.raises(ConfigError, match="duplicate id 'forum'"):
        add_site(config, {"id": "forum", "start_urls": ["https://y.example/"]})
    with pytest.raises(ConfigError, match="is not an http"):
        add_site(config, {"id": "bad", "start_urls": ["ftp://y.example/"]})
    assert config.sites_file.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["added-sites.yaml", "vaern.yaml"]


@pytest.mark.parametrize(("discovery", "where", "words"), [
    ({"providers": [{"kind": "brave"}]}, "discovery.providers[0]",
     "the brave provider needs api_key (e.g. api_key: ${BRAVE_SEARCH_KEY})"),
    ({"providers": [{"kind": "searxng"}]}, "discovery.providers[0]", "the searxng provider needs base_url"),
    ({"providers": [{"kind": "google", "base_url": "https://g.example"}]}, "discovery.providers[0].kind", "google"),
    ({"query": "Rosenkilde"}, "discovery.query", "has no {name} placeholder"),
    ({"budget_per_day": -1}, "discovery.budget_per_day", "0"),
])
def test_discovery_errors_name_the_field(tmp_path: Path, discovery: dict[str, Any], where: str, words: str) -> None:
    path = _write(tmp_path, {"organisation": "X", "discovery": discovery})
    [error] = _errors(path)
    assert f": {where}: " in error and words in error, error


def test_discovery_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, {"organisation": "X"}))
    found = config.discovery
    assert (found.budget_per_day, found.providers, found.query) == (100, [], '"{name}"')
