"""Held-out check: people the matcher was never tuned on (drawn from Faker's Danish names),
each written in every variant, in sentences of their own, next to decoys with their surname."""

from __future__ import annotations

import random
from collections import Counter

from faker.providers.person.da_DK import Provider as DanishNames

from vaern.domain import WatchedPerson
from vaern.matchers import build_index

FIRST = sorted(set(DanishNames.first_names_male) | set(DanishNames.first_names_female)) + [
    "Hélène", "Zoë", "José", "Inès", "Chloé", "Øjvind", "Åse",
]  # fmt: skip
LAST = sorted(set(DanishNames.last_names))
SENTENCES = [
    "Jeg ved hvor {} bor.",
    "{} lyver i sine notater.",
    "Mødet med {} blev flyttet.",
    "Hvorfor svarer {} ikke på min mail?",
    "Sikke et fjols {} er.",
]
DANISH = str.maketrans({"ø": "oe", "æ": "ae", "å": "aa", "Ø": "Oe", "Æ": "Ae", "Å": "Aa"})


def _people(rnd: random.Random, n: int) -> list[WatchedPerson]:
    seen: set[str] = set()
    people: list[WatchedPerson] = []
    while len(people) < n:
        first, last, roll = rnd.choice(FIRST), rnd.choice(LAST), rnd.random()
        if roll < 0.3:
            name = f"{first} {rnd.choice(LAST)} {last}"
        elif roll < 0.4:
            name = f"{first} {last}-{rnd.choice(LAST)}"
        else:
            name = f"{first} {last}"
        if name not in seen and last not in name.split()[1:-1]:
            seen.add(name)
            people.append(WatchedPerson(f"p{len(people)}", name))
    return people


def _typo(word: str, rnd: random.Random) -> str | None:
    if len(word) < 6:
        return None
    i = rnd.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # a transposition


def _variants(person: WatchedPerson, rnd: random.Random) -> dict[str, str]:
    parts = person.name.split()
    given, rest = parts[0], parts[1:]
    out = {
        "exact": person.name,
        "upper": person.name.upper(),
        "lower": person.name.lower(),
        "possessive": person.name + "s",
        "initial": f"{given[0]}. {' '.join(rest)}",
        "surname_first": f"{' '.join(rest)}, {given}",
        "line_break": given + "\n" + " ".join(rest),
        "middle_inserted": f"{given} {rnd.choice(['Bo', 'Juul', 'Kirk'])} {' '.join(rest)}",
        "danish_fold": person.name.translate(DANISH),
    }
    if len(parts) > 2:
        out["middle_dropped"] = f"{given} {parts[-1]}"
    if "-" in parts[-1]:
        out["hyphen_space"] = " ".join([given, *parts[1:-1], parts[-1].replace("-", " ")])
    if (typo := _typo(given, rnd)) is not None:
        out["typo_first"] = " ".join([typo, *rest])
    return out


def test_people_never_seen() -> None:
    rnd = random.Random(20261121)
    people = _people(rnd, 80)
    index = build_index(people)
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong = []
    for person in people:
        for variant, written in _variants(person, rnd).items():
            text = "Opdatering følger. " + rnd.choice(SENTENCES).format(written) + " Tak for i dag."
            mentions = index.find(text)
            total[variant] += 1
            found[variant] += any(m.person == person.id for m in mentions)
            wrong += [(text, m.person) for m in mentions if m.person != person.id and m.confidence == "high"]
        # Decoy: the same surname with another given name names nobody.
        other = rnd.choice([f for f in FIRST if f != person.name.split()[0]])
        decoy = f"Opdatering følger. {other} {' '.join(person.name.split()[1:])} var her."
        assert [m for m in index.find(decoy) if m.person == person.id] == [], decoy
    recall = sum(found.values()) / sum(total.values())
    assert recall >= 0.97, {v: f"{found[v]}/{total[v]}" for v in total}
    for variant in total:
        assert found[variant] >= 0.9 * total[variant], (variant, found[variant], total[variant])
    assert wrong == []
