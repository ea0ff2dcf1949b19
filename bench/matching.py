"""Matcher throughput against its baselines, and index cost at 50,000 names.

    python bench/matching.py [--mb 20] [--seed 1]

Generates Danish names (Faker's da_DK first-name and surname lists) and ~20 MB of Danish text
(words drawn by their wordfreq frequency, cut into sentences and pages of a few kB, as a crawler
hands them over) with watched names written in their usual variants here and there. Prints, in
one run and for 10,000 and for 100 watched names:

- vaern's matcher (`index.find(page)` per page), MB/s;
- an exact whole-word Aho-Corasick scan (pyahocorasick) of the lower-cased names over the same
  lower-cased pages, MB/s — the physical ceiling of exact multi-pattern search;
- the matcher with the assessment after it (`Assessor.read`: mentions in context, categories
  per post, severity, private data), at 10,000 names, as a share of the matcher alone, timed
  page by page beside it (see `assess_pass`);
- a naive rapidfuzz loop (`fuzz.partial_ratio` of every name against every page), measured on a
  sample of pages and extrapolated, MB/s;

then the 10,000-name throughput as a share of the 100-name one, three ways, and the index build
time and peak memory at 50,000 names.

The three shares. The filler words and the places where a name is written are the same in every
text (they come from one random stream; the names from another); the texts differ only in whom
they name.
- "same text, same mentions": both lists on a text naming only the 100 people both watch. Only
  the size of the index differs.
- "each list, its own people": each list on a text naming its own people. Both report about as
  many mentions.
- "one text naming the 10,000": both lists on the text naming people from the 10,000 list. Here
  the 100-name run finds about 1 % of the mentions the 10,000-name run verifies, classifies and
  reports, so the share measures mostly that work, not the index's size.

Times are CPU time of this process (the machine may be shared), best of --repeat passes.
Figures, not pass/fail: the issue's targets (>= 25 % of Aho-Corasick at 10,000 names; >= 70 %
of the 100-name throughput at 10,000; 50,000 names indexed in < 10 s within 500 MB) are
printed beside them.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import random
import time
import tracemalloc

import ahocorasick
import psutil
import wordfreq
from faker.providers.person.da_DK import Provider as DanishNames
from rapidfuzz import fuzz

from vaern.domain import WatchedPerson
from vaern.matchers import NameIndex, build_index
from vaern.matchers.assess import Assessor

NAME_RATE = 0.01  # share of sentences that name a watched person (one name per ~8 kB)
FIRST = sorted(set(DanishNames.first_names_male) | set(DanishNames.first_names_female))
LAST = sorted(set(DanishNames.last_names))


def make_people(n: int, rnd: random.Random) -> list[WatchedPerson]:
    """n distinct names: first + surname, some with a middle name or a hyphenated surname."""
    seen: set[str] = set()
    people: list[WatchedPerson] = []
    while len(people) < n:
        first = rnd.choice(FIRST)
        last = rnd.choice(LAST)
        roll = rnd.random()
        if roll < 0.25:
            name = f"{first} {rnd.choice(LAST)} {last}"
        elif roll < 0.35:
            name = f"{first} {last}-{rnd.choice(LAST)}"
        elif roll < 0.45:
            name = f"{first} {rnd.choice(FIRST)} {last}"
        else:
            name = f"{first} {last}"
        if name not in seen:
            seen.add(name)
            people.append(WatchedPerson(f"p{len(people):05d}", name))
    return people


def variant(name: str, rnd: random.Random) -> str:
    parts = name.split()
    roll = rnd.random()
    if roll < 0.3:
        return name
    if roll < 0.4:
        return name.upper()
    if roll < 0.5:
        return name + "s"
    if roll < 0.6:
        return f"{parts[0][0]}. {parts[-1]}"
    if roll < 0.7:
        return f"{parts[-1]}, {parts[0]}"
    if roll < 0.8:
        return f"{parts[0]} {parts[-1]}"
    if roll < 0.9:
        return name.replace("ø", "oe").replace("æ", "ae").replace("å", "aa")
    i = rnd.randrange(1, len(parts[-1]) - 1)
    last = parts[-1]
    return " ".join([*parts[:-1], last[:i] + last[i + 1] + last[i] + last[i + 2 :]])


@functools.cache
def filler_words() -> tuple[list[str], list[float]]:
    """The 30,000 commonest Danish words and their cumulative wordfreq weights (read once: every
    text is made from them)."""
    freq = wordfreq.get_frequency_dict("da")
    words = [w for w in freq if w.isalpha()][:30000]
    return words, list(itertools.accumulate(freq[w] for w in words))


def make_pages(mb: float, people: list[WatchedPerson], seed: int, page_kb: int = 4) -> list[str]:
    """Danish-looking pages: frequency-weighted words, sentences, now and then a watched name.

    The filler and where names go come from one random stream and the names from another, so
    texts made with one seed differ only in whom they name."""
    rnd, names = random.Random(seed), random.Random(seed + 1000)
    words, cum = filler_words()
    pages: list[str] = []
    size = 0
    while size < mb * 1_000_000:
        sentences: list[str] = []
        length = 0
        while length < page_kb * 1000:
            s = rnd.choices(words, cum_weights=cum, k=rnd.randint(5, 20))
            if rnd.random() < NAME_RATE:
                s.insert(rnd.randrange(len(s)), variant(names.choice(people).name, names))
            s[0] = s[0][:1].upper() + s[0][1:]
            sentence = " ".join(s) + rnd.choice((". ", ". ", "? ", "! ", ".\n", ".\n\n"))
            sentences.append(sentence)
            length += len(sentence)
        page = "".join(sentences)
        pages.append(page)
        size += len(page)
    return pages


def mb(pages: list[str]) -> float:
    return sum(len(p) for p in pages) / 1_000_000


def vaern_pass(index: NameIndex, pages: list[str]) -> tuple[float, int]:
    t0 = time.process_time()
    found = sum(len(index.find(page)) for page in pages)
    return time.process_time() - t0, found


def assess_pass(index: NameIndex, assessor: Assessor, pages: list[str]) -> tuple[float, float, int]:
    """The matcher alone and the matcher with the assessment after it (context mentions,
    categories per post, severity, private data, as the pipeline runs them), page by page, one
    right after the other, in turns which goes first: CPU seconds of each, and the mentions with
    those found in context. Timed side by side so that a machine whose speed drifts (shared, or
    throttled) slows both alike: whole passes one after the other gave shares 25 points apart
    on one machine from one minute to the next."""
    clock = time.process_time
    plain = assessed = 0.0
    found = 0
    for i, page in enumerate(pages):
        if i % 2:
            t0 = clock()
            index.find(page)
            t1 = clock()
            found += len(assessor.read(page).mentions)
            t2 = clock()
            plain, assessed = plain + t1 - t0, assessed + t2 - t1
        else:
            t0 = clock()
            found += len(assessor.read(page).mentions)
            t1 = clock()
            index.find(page)
            t2 = clock()
            assessed, plain = assessed + t1 - t0, plain + t2 - t1
    return plain, assessed, found


def aho_automaton(people: list[WatchedPerson]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for p in people:
        automaton.add_word(p.name.lower(), len(p.name))
    automaton.make_automaton()
    return automaton


def aho_pass(automaton: ahocorasick.Automaton, pages: list[str]) -> tuple[float, int]:
    found = 0
    t0 = time.process_time()
    for page in pages:
        low = page.lower()
        n = len(low)
        for end, length in automaton.iter(low):
            start = end - length + 1
            if (start == 0 or not low[start - 1].isalnum()) and (end + 1 == n or not low[end + 1].isalnum()):
                found += 1
    return time.process_time() - t0, found


def run_naive(people: list[WatchedPerson], pages: list[str], seconds: float = 8.0) -> tuple[float, int]:
    """partial_ratio of every name against every page, for as many pages as fit in `seconds`."""
    names = [p.name.lower() for p in people]
    done: list[str] = []
    t0 = time.process_time()
    for page in pages:
        low = page.lower()
        for name in names:
            fuzz.partial_ratio(name, low, score_cutoff=90)
        done.append(page)
        if time.process_time() - t0 > seconds:
            break
    t1 = time.process_time()
    return mb(done) / (t1 - t0), len(done)


def build_cost(people: list[WatchedPerson]) -> tuple[float, float, float]:
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    t0 = time.process_time()
    index = build_index(people)
    t1 = time.process_time()
    rss1 = psutil.Process().memory_info().rss
    del index
    gc.collect()
    tracemalloc.start()
    index = build_index(people)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    return t1 - t0, (rss1 - rss0) / 2**20, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per system; the best is shown")
    args = parser.parse_args()
    people10k = make_people(10_000, random.Random(args.seed))
    people100 = people10k[:100]
    t0 = time.process_time()
    texts = {"10,000": make_pages(args.mb, people10k, args.seed), "100": make_pages(args.mb, people100, args.seed)}
    pages = texts["10,000"]
    print(
        f"text: {mb(pages):.1f} MB in {len(pages)} pages, twice: naming people from the 10,000 list, "
        f"and only the 100 both lists watch (generated in {time.process_time() - t0:.1f} s)"
    )
    systems: dict[str, tuple[list[WatchedPerson], NameIndex, ahocorasick.Automaton, float]] = {}
    for label, people in (("10,000", people10k), ("100", people100)):
        t1 = time.process_time()
        index = build_index(people)
        systems[label] = (people, index, aho_automaton(people), time.process_time() - t1)
    # Timed passes: (system, watch list, text naming people from which list). The first round
    # also learns the text's words; later passes find them cached, as a long crawl does. Passes
    # take turns, so that a busy machine slows all alike.
    runs = [(system, lists, "10,000") for lists in systems for system in ("vaern", "aho")]
    runs += [("vaern", lists, "100") for lists in systems]
    assessor = Assessor(systems["10,000"][1])
    first: dict[str, float] = {}
    best: dict[tuple[str, str, str], float] = {}
    found: dict[tuple[str, str, str], int] = {}
    for round_ in range(args.repeat + 1):
        for key in runs:
            system, lists, text = key
            _, index, automaton, _ = systems[lists]
            pass_ = vaern_pass(index, texts[text]) if system == "vaern" else aho_pass(automaton, texts[text])
            seconds, found[key] = pass_
            if round_ == 0:
                if text == "10,000" and system == "vaern":
                    first[lists] = seconds
                continue
            best[key] = min(best.get(key, seconds), seconds)
    size = mb(pages)
    for lists, (people, _, _, build) in systems.items():
        warm, a = size / best[("vaern", lists, "10,000")], size / best[("aho", lists, "10,000")]
        r, rpages = run_naive(people, pages)
        print(f"\n{lists} names, on the text naming people from the 10,000 list:")
        print(
            f"  vaern matcher         {warm:8.2f} MB/s  (first pass {size / first[lists]:.2f} MB/s; "
            f"{found[('vaern', lists, '10,000')]} mentions; index built in {build:.2f} s)"
        )
        print(f"  Aho-Corasick (exact)  {a:8.2f} MB/s  ({found[('aho', lists, '10,000')]} exact whole-word hits)")
        print(f"  rapidfuzz naive loop  {r:8.4f} MB/s  (partial_ratio, {rpages} pages, extrapolated)")
        print(f"  vaern / Aho-Corasick  {100 * warm / a:7.1f} %   (target >= 25 % at 10,000 names)")

    def share(text10k: str, text100: str) -> str:
        k10, k100 = ("vaern", "10,000", text10k), ("vaern", "100", text100)
        mb10, mb100 = mb(texts[text10k]) / best[k10], mb(texts[text100]) / best[k100]
        return (
            f"{100 * mb10 / mb100:5.1f} %  ({mb10:.2f} vs {mb100:.2f} MB/s; "
            f"{found[k10]} and {found[k100]} mentions)"
        )

    index10k = systems["10,000"][1]
    assess_pass(index10k, assessor, pages)  # the assessment's own words learnt, as in the rounds above
    passes = sorted(
        (assess_pass(index10k, assessor, pages) for _ in range(max(3, args.repeat))), key=lambda p: p[0] / p[1]
    )
    plain, assessed, mentions = passes[len(passes) // 2]
    print(
        f"\nwith the assessment (matchers/assess), 10,000 names, on the text naming them, page by page "
        f"beside the matcher alone (median of {len(passes)} passes): "
        f"{size / assessed:.2f} MB/s vs {size / plain:.2f} MB/s for the matcher alone = "
        f"{100 * plain / assessed:.1f} % (passes {100 * passes[0][0] / passes[0][1]:.1f}-"
        f"{100 * passes[-1][0] / passes[-1][1]:.1f} %)  (target >= 70 %; {mentions} mentions with those "
        "found in context)"
    )

    print("\nthroughput at 10,000 names vs 100 names (target >= 70 %; see the module doc):")
    print(f"  same text, same mentions:    {share('100', '100')}")
    print(f"  each list, its own people:   {share('10,000', '100')}")
    print(f"  one text naming the 10,000:  {share('10,000', '10,000')}")
    people50k = make_people(50_000, random.Random(args.seed + 1))
    seconds, rss, peak = build_cost(people50k)
    print(
        f"\nindex for 50,000 names: built in {seconds:.2f} s (target < 10 s); "
        f"RSS grew {rss:.0f} MB, traced peak {peak:.0f} MB (target < 500 MB)"
    )


if __name__ == "__main__":
    main()
