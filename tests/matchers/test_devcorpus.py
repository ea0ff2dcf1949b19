"""The shared dev corpus (../shared/matching-dev beside the repository), scored by its own
score.py: the issue's targets for names, tiers and categories."""

from __future__ import annotations

import collections
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from vaern.config import CATEGORIES
from vaern.domain import Mention, WatchedPerson
from vaern.matchers import build_index

GOLD = Path(__file__).resolve().parents[2].parent / "shared" / "matching-dev"


def _score_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("matching_dev_score", GOLD / "score.py")
    assert spec is not None and spec.loader is not None, f"no score.py in {GOLD}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict[str, list[Mention]], dict]:
    people = [
        WatchedPerson(p["id"], p["name"], tuple(p.get("aliases", ())))
        for p in json.loads((GOLD / "people.json").read_text(encoding="utf-8"))
    ]
    docs = [json.loads(line) for line in (GOLD / "docs.jsonl").open(encoding="utf-8")]
    index = build_index(people)
    preds = {d["id"]: index.find(d["text"]) for d in docs}
    out = tmp_path_factory.mktemp("dev") / "pred.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for did, mentions in preds.items():
            rows = [m.as_row() for m in mentions]
            f.write(json.dumps({"id": did, "mentions": rows}, ensure_ascii=False) + "\n")
    return docs, preds, _score_module().score(str(GOLD), str(out))


def test_core_precision_and_recall(run: tuple[list[dict], dict[str, list[Mention]], dict]) -> None:
    _, _, result = run
    assert result["precision"] >= 0.98, result
    assert result["recall"] >= 0.97, result


def test_every_core_variant_is_found(run: tuple[list[dict], dict[str, list[Mention]], dict]) -> None:
    _, _, result = run
    for variant, figure in result["per_variant"].items():
        found, total = map(int, figure.split("/"))
        if variant != "title_surname":
            assert found >= 0.9 * total, (variant, figure)


def _hit(mentions: list[Mention], gold: dict) -> Mention | None:
    return next(
        (m for m in mentions if m.person == gold["person"] and m.start < gold["end"] and gold["start"] < m.end),
        None,
    )


def test_title_surname_found_as_possible(run: tuple[list[dict], dict[str, list[Mention]], dict]) -> None:
    docs, preds, _ = run
    tiers = collections.Counter(
        hit.confidence
        for d in docs
        for g in d["mentions"]
        if g["variant"] == "title_surname" and (hit := _hit(preds[d["id"]], g)) is not None
    )
    assert tiers["possible"] >= 20 and tiers["high"] == 0, tiers


def test_no_high_mention_on_any_decoy(run: tuple[list[dict], dict[str, list[Mention]], dict]) -> None:
    docs, preds, _ = run
    on_decoys = [
        (d["id"], dec["text"], m.person)
        for d in docs
        for dec in d["decoys"]
        for m in preds[d["id"]]
        if m.confidence == "high" and m.start < dec["end"] and dec["start"] < m.end
    ]
    assert on_decoys == []


def test_categories(run: tuple[list[dict], dict[str, list[Mention]], dict]) -> None:
    docs, preds, _ = run
    confusion: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for d in docs:
        for g in d["mentions"]:
            hit = _hit(preds[d["id"]], g)
            if hit is None:
                continue
            confusion[g["category"]]["(any)"] += 1
            for c in hit.categories:
                confusion[g["category"]][c] += 1
    assert sum(confusion["neutral"][c] for c in CATEGORIES) <= 0.02 * confusion["neutral"]["(any)"]
    for c in CATEGORIES:
        tp = confusion[c][c]
        fp = sum(confusion[g][c] for g in confusion if g != c)
        assert tp / (tp + fp) >= 0.9, (c, dict(confusion))
        assert tp / confusion[c]["(any)"] >= 0.7, (c, dict(confusion))
