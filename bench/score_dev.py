"""Run the matcher over the dev corpus and score it with the corpus's own score.py.

    python bench/score_dev.py [GOLD_DIR] [--misses]

GOLD_DIR defaults to ../shared/matching-dev beside the repository; the corpus is not part of
it, so without one nothing is measured. Prints score.py's figures (core precision/recall, per
variant), the tiers given to title+surname and decoys, and the category confusion table (gold
category per row, predicted categories per column).

Figures, not pass/fail: the issue's targets are printed beside them. Core precision >= 0.98 and
recall >= 0.97; every variant but title+surname found >= 90 % of the time; title+surname found
as `possible` at least 20 times and never as `high`; no `high` mention on a decoy; categories
given to <= 2 % of neutral mentions; each category's precision >= 0.9 and recall >= 0.7 (over
the mentions found).
"""

from __future__ import annotations

import collections
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

from vaern.config import CATEGORIES
from vaern.domain import WatchedPerson
from vaern.matchers import build_index
from vaern.matchers.assess import Assessor


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    gold_dir = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "shared" / "matching-dev"
    if not (gold_dir / "score.py").is_file():
        print(f"dev corpus: not measured (no score.py in {gold_dir}; name the corpus folder: GOLD_DIR)")
        return
    spec = importlib.util.spec_from_file_location("score", gold_dir / "score.py")
    assert spec and spec.loader
    score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(score)
    people = [
        WatchedPerson(p["id"], p["name"], tuple(p.get("aliases", ())))
        for p in json.loads((gold_dir / "people.json").read_text())
    ]
    docs = [json.loads(line) for line in (gold_dir / "docs.jsonl").open()]
    t0 = time.perf_counter()
    index = build_index(people)
    t1 = time.perf_counter()
    preds = {d["id"]: index.find(d["text"]) for d in docs}
    t2 = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for did, ms in preds.items():
            f.write(json.dumps({"id": did, "mentions": [m.as_row() for m in ms]}, ensure_ascii=False) + "\n")
    r = score.score(str(gold_dir), f.name)
    print(f"build {t1 - t0:.2f} s, match {t2 - t1:.2f} s for {len(docs)} texts")
    targets = {"precision": "(target >= 0.98)", "recall": "(target >= 0.97)"}
    for k, v in r.items():
        if k == "per_variant":
            print("per variant (found/total):")
            for vk, vv in v.items():
                found, total = map(int, vv.split("/"))
                target = "" if vk == "title_surname" else "  (target >= 90 %)"
                print(f"  {vk:18s} {vv:>7s} {found / total:6.1%}{target}")
        elif k == "false_positive_examples":
            print("false positives:")
            for e in v:
                print("  ", e)
        else:
            print(f"{k}: {v} {targets.get(k, '')}".rstrip())
    tiers: collections.Counter[str] = collections.Counter()
    decoy_high = []
    confusion: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    misses = []
    for d in docs:
        pm = preds[d["id"]]
        for g in d["mentions"]:
            hit = next((m for m in pm if m.person == g["person"] and m.start < g["end"] and g["start"] < m.end), None)
            if hit is None:
                misses.append((g["variant"], d["id"], d["text"][g["start"] : g["end"]], g["person"]))
                continue
            if g["variant"] == "title_surname":
                tiers[hit.confidence] += 1
            confusion[g["category"]]["(any)"] += 1
            if set(hit.categories) != ({g["category"]} - {"neutral"}):
                misses.append(("category " + g["category"], d["id"], str(hit.categories), hit.matched))
            for c in hit.categories or ("none",):
                confusion[g["category"]][c] += 1
        for dec in d["decoys"]:
            for m in pm:
                if m.start < dec["end"] and dec["start"] < m.end and m.confidence == "high":
                    decoy_high.append((d["id"], dec["kind"], dec["text"], m.person, m.matched))
    print("title_surname tiers:", dict(tiers), "(target: possible >= 20, high 0)")
    print("high mentions on decoys:", len(decoy_high), "(target 0)", decoy_high[:10])
    cols = [*CATEGORIES, "none"]
    print("category confusion (rows: gold; columns: predicted; a mention may get several):")
    print(f"  {'gold':13s} {'n':>4s} " + " ".join(f"{c[:12]:>12s}" for c in cols))
    for g in [*CATEGORIES, "neutral"]:
        row = confusion[g]
        print(f"  {g:13s} {row['(any)']:4d} " + " ".join(f"{row[c]:12d}" for c in cols))
    neutral = confusion["neutral"]
    given = sum(neutral[c] for c in CATEGORIES)
    share = given / neutral["(any)"] if neutral["(any)"] else 0.0
    print(f"  categories given to neutral mentions: {given} of {neutral['(any)']}, {share:.1%} (target <= 2 %)")
    for c in CATEGORIES:
        tp = confusion[c][c]
        fp = sum(confusion[g][c] for g in confusion if g != c)
        fn = confusion[c]["(any)"] - tp
        p = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn) if tp + fn else 1.0
        print(f"  {c:13s} precision {p:.3f} recall {rc:.3f} (targets >= 0.9, >= 0.7)")
    # `vaern match` prints the assessment's reading: `mentions` (the names as written, scored
    # above) and beside them `context`. The corpus labels written names only, so a context
    # mention counts as a false positive here wherever the corpus does not label the reference.
    assessor = Assessor(index)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for d in docs:
            rows = assessor.rows(d["text"], assessor.read(d["text"]))
            f.write(json.dumps({"id": d["id"], "mentions": rows}, ensure_ascii=False) + "\n")
    c = score.score(str(gold_dir), f.name)
    print(f"vaern match's mentions and context together: precision {c['precision']}, recall {c['recall']} "
          f"({c['fp'] - r['fp']} more false positives: references the corpus does not label)")
    if "--misses" in sys.argv:
        for m in sorted(misses):
            print("MISS", m)


if __name__ == "__main__":
    main()
