"""Settling candidate mentions: weak evidence shared by several people, and overlaps.

After every region of a text is verified (verify.py), the candidates are settled here:
`resolve` decides who a title + surname or an initial + surname shared by several watched
people names (`matching.max_shared`), and `prune` keeps one mention per person and place: of two
overlapping readings of one person's name the better, and of two people's names not the one
that sits inside the other's longer name.
"""

from __future__ import annotations

from vaern.matchers.verify import Cand


def resolve(cands: list[Cand], max_shared: int) -> list[Cand]:
    """Settle weak evidence shared by several watched people.

    A title + surname names a person only when one watched person has that surname, the text
    names one of them fully elsewhere, or one of them has that job title. An initial + surname
    shared by several people goes to those the text names elsewhere, else to all of them if
    they are at most `max_shared` ("J. Hansen" in a list of 50,000 names names nobody).
    """
    named = {c.form.person for c in cands if not c.weak}
    out = [c for c in cands if not c.weak]
    groups: dict[tuple[str, int, int], list[Cand]] = {}
    for c in cands:
        if c.weak:
            groups.setdefault((c.weak, c.start, c.end), []).append(c)
    for (weak, _, _), group in groups.items():
        people = {c.form.person for c in group}
        if len(people) == 1:
            out.extend(group)
            continue
        chosen = [c for c in group if c.form.person in named]
        if chosen:
            for c in chosen:
                c.why.append("shared by several watched people; this one is named elsewhere in the text")
        elif weak == "title":
            chosen = [c for c in group if c.form.title and c.form.title == c.title]
            for c in chosen:
                c.why.append("surname shared by several watched people; this one has that title")
        elif len(people) <= max_shared:
            chosen = group
        out.extend(chosen)
    return out


def prune(cands: list[Cand]) -> list[Cand]:
    """One mention per person and place; drop a name that sits inside another person's longer one."""
    best: dict[tuple[str, int, int], Cand] = {}
    for c in cands:
        key = (c.form.person, c.start, c.end)
        old = best.get(key)
        if old is None or (c.score, -c.form.id) > (old.score, -old.form.id):
            best[key] = c
    items = sorted(best.values(), key=lambda c: (c.start, -c.end, -c.score, c.form.person))
    kept: list[Cand] = []
    for i, c in enumerate(items):
        # Mentions are short, so only near neighbours in start order can overlap this one.
        lo = i
        while lo > 0 and items[lo - 1].start > c.start - 400:
            lo -= 1
        hi = i
        while hi + 1 < len(items) and items[hi + 1].start < c.end:
            hi += 1
        for o in items[lo : hi + 1]:
            if o is c or o.end <= c.start or c.end <= o.start:
                continue
            if o.form.person == c.form.person:
                # Two readings of one person's name: the better one stays. Only the score and
                # length decide, so one of them always does: "Karin [Sofie] Kjær" (the name with
                # an inserted middle name) must not cover the alias "Sofie Kjær" while that,
                # scoring higher, drops it.
                if (o.score, o.end - o.start) > (c.score, c.end - c.start):
                    break
            elif o.start <= c.start and c.end <= o.end and (o.end - o.start) > (c.end - c.start) and not o.weak:
                # "Kirstin Marie Steffensen" names Kirstin (with a middle name), not Marie Steffensen.
                break
        else:
            kept.append(c)
    return kept
