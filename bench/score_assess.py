"""Scores the assessment (matchers/assess) on its labelled dev set, beside the issue's targets.

    python bench/score_assess.py [--data bench/data/assess_dev.jsonl] [--ocr N] [--show-errors]

Prints, for the person each post is about:
- category macro-F1 over the six categories (per-post label sets), and per-category F1;
- severity exactly right;
- private-data precision and recall: every item the detector finds in the post against the
  labelled items (same kind, overlapping span);
- context-mention recall (a labelled later reference found as a mention of the person, found
  in context, with the labelled confidence), and the number of `high` mentions on posts about
  someone else (target 0);
- a photo beside the name, read from the page's structure (crawler/photos.py), on the labelled
  HTML pages of `bench/data/photo_dev.jsonl` (photo_devset.py): precision and recall per page;
- OCR name recall on generated images (Pillow, several fonts, noise, slight rotation) read
  with Tesseract (`--ocr N` images; 0 skips), with the time per image.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from assess_devset import PEOPLE

from vaern.domain import WatchedPerson
from vaern.matchers import build_index
from vaern.matchers.assess import Assessor
from vaern.matchers.assess.privatedata import find_private

CATEGORIES = ("threat", "private_info", "incitement", "insult", "accusation", "criticism")
TARGETS = {"macro_f1": 0.90, "severity": 0.90, "private_p": 0.95, "private_r": 0.95, "context_r": 0.95, "ocr_r": 0.9}


def f1(tp: int, fp: int, fn: int) -> float:
    if tp == 0:
        return 1.0 if fp == 0 and fn == 0 else 0.0
    p, r = tp / (tp + fp), tp / (tp + fn)
    return 2 * p * r / (p + r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data" / "assess_dev.jsonl")
    parser.add_argument("--ocr", type=int, default=40, help="generated images to read (0: skip OCR)")
    parser.add_argument("--photos", type=Path, default=Path(__file__).parent / "data" / "photo_dev.jsonl")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    people = [WatchedPerson(pid, name) for pid, name, _ in PEOPLE]
    index = build_index(people)
    assessor = Assessor(index)
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]

    counts = {c: [0, 0, 0] for c in CATEGORIES}
    severity_right = severity_total = 0
    p_tp = p_fp = p_fn = 0
    c_found = c_total = 0
    else_high = 0
    errors: list[str] = []
    started = time.process_time()
    for row in rows:
        text, pid = row["text"], row["person"]
        result = assessor.read(text)
        if row["someone_else"]:
            highs = [m for m in result.mentions if m.confidence == "high"]
            else_high += len(highs)
            if highs:
                errors.append(f"{row['id']} someone else, high: {[(m.person, m.matched) for m in highs]} | {text}")
            continue
        reading = result.of_person.get(pid)
        got = set(reading.categories) if reading else set()
        want = set(row["categories"])
        for c in CATEGORIES:
            counts[c][0] += c in got and c in want
            counts[c][1] += c in got and c not in want
            counts[c][2] += c not in got and c in want
        severity_total += 1
        sev = reading.severity if reading else "none"
        severity_right += sev == row["severity"]
        if got != want or sev != row["severity"]:
            errors.append(f"{row['id']} [{row['shape']}] want {sorted(want)} got {sorted(got)} | {text}")
        # Private data: every item found in the post against the labelled ones.
        found = find_private(text)
        labelled = row["private"]
        matched: set[int] = set()
        for item in found:
            hit = next(
                (
                    i for i, lab in enumerate(labelled)
                    if i not in matched and lab["kind"] == item.kind
                    and lab["start"] < item.end and item.start < lab["end"]
                ),
                None,
            )
            if hit is None:
                p_fp += 1
                errors.append(f"{row['id']} private FP {item.kind} {item.text!r}")
            else:
                matched.add(hit)
                p_tp += 1
        p_fn += len(labelled) - len(matched)
        for i, lab in enumerate(labelled):
            if i not in matched:
                errors.append(f"{row['id']} private FN {lab['kind']} {text[lab['start']:lab['end']]!r}")
        # Context mentions.
        for lab in row["context"]:
            c_total += 1
            ok = any(
                m.person == pid and m.found == "context" and m.start < lab["end"] and lab["start"] < m.end
                and m.confidence == lab["confidence"]
                for m in result.mentions
            )
            c_found += ok
            if not ok:
                said = text[lab["start"] : lab["end"]]
                errors.append(f"{row['id']} context FN {said!r} ({lab['confidence']}) | {text}")
    elapsed = time.process_time() - started

    per = {c: f1(*counts[c]) for c in CATEGORIES}
    macro = statistics.mean(per.values())
    precision = p_tp / (p_tp + p_fp) if p_tp + p_fp else 1.0
    recall = p_tp / (p_tp + p_fn) if p_tp + p_fn else 1.0
    print(f"posts: {len(rows)} ({severity_total} about a watched person), {elapsed:.2f} s CPU")
    print(f"category macro-F1: {macro:.3f}  (target >= {TARGETS['macro_f1']})")
    print("  " + "  ".join(f"{c} {v:.2f}" for c, v in per.items()))
    print(f"severity exactly right: {severity_right / severity_total:.3f}  (target >= {TARGETS['severity']})")
    print(f"private data: precision {precision:.3f}, recall {recall:.3f} ({p_tp} tp, {p_fp} fp, {p_fn} fn)"
          f"  (targets >= {TARGETS['private_p']}, >= {TARGETS['private_r']})")
    print(f"context mentions: recall {c_found / max(1, c_total):.3f} ({c_found}/{c_total})"
          f"  (target >= {TARGETS['context_r']}); high on a post about someone else: {else_high} (target 0)")
    photo_report(index, assessor, args.photos)
    if args.ocr:
        ocr_report(index, args.ocr)
    if args.show_errors:
        print("\n".join(errors))


def photo_report(index: Any, assessor: Assessor, path: Path) -> None:
    """Photo beside the name on labelled HTML pages: does the person get the `photo` item?"""
    from vaern.crawler.extract import extract_html  # noqa: PLC0415
    from vaern.crawler.photos import find_photos  # noqa: PLC0415
    from vaern.matchers.assess.photos import photos_of_people  # noqa: PLC0415

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    tp = fp = fn = 0
    wrong: list[str] = []
    url = "https://gruppe.example/opslag/1"
    for row in rows:
        text = extract_html(row["html"], url).text
        photos = find_photos(row["html"], url, text, lambda fragment: extract_html(fragment, url).text)
        got = row["person"] in photos_of_people(index, photos, assessor.read(text).mentions)
        tp += got and row["photo"]
        fp += got and not row["photo"]
        fn += row["photo"] and not got
        if got != row["photo"]:
            wrong.append(f"{row['id']} [{row['shape']}]")
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"photo beside the name: precision {precision:.3f}, recall {recall:.3f} on {len(rows)} pages "
          f"({tp} tp, {fp} fp, {fn} fn){'; wrong: ' + ', '.join(wrong) if wrong else ''}")


def ocr_report(index: object, n: int) -> None:
    from ocr_images import make_image  # noqa: PLC0415 — only with --ocr

    from vaern.crawler.ocr import OcrSettings, read_image  # noqa: PLC0415

    rnd = random.Random(7)
    settings = OcrSettings(seconds_per_image=20.0)
    found = 0
    times: list[float] = []
    for i in range(n):
        pid, name, _ = PEOPLE[i % len(PEOPLE)]
        image, _text = make_image(rnd, name)
        start = time.perf_counter()
        read = read_image(image, settings)
        times.append(time.perf_counter() - start)
        mentions = index.find(read or "")  # type: ignore[attr-defined]
        if any(m.person == pid for m in mentions):
            found += 1
    print(f"OCR name recall: {found / n:.3f} ({found}/{n})  (target >= {TARGETS['ocr_r']}); "
          f"time per image: median {statistics.median(times):.2f} s, max {max(times):.2f} s")


if __name__ == "__main__":
    main()
