"""The assessment's labelled dev set: Danish posts written for it, generated from varied templates.

    python bench/assess_devset.py [--seed 16] [--n 360] [-o bench/data/assess_dev.jsonl]

Each line is one post (a page without posts: the post is the page) and its labels, for the
person the post is about (`person`):

- `categories` (the set a careful reader gives the post for that person), `severity`;
- `private`: each item of private data as {"kind", "start", "end"} (offsets into `text`);
- `context`: each later reference to the person that counts as a mention found in context
  ({"start", "end", "confidence"}): surname, given name, capitals, pronoun after the full name,
  or a surname alone with no full name in the post;
- `someone_else`: the post is about another person with a watched person's surname, so no
  `high` mention of a watched person may come of it.

Posts are put together from a sentence naming the person (neutral, or itself the harmful
sentence), zero to two filler sentences, and one to three sentences of a kind (threat,
incitement, insult, accusation, criticism, praise, neutral, private data of each type, negated,
quoted, questions, irony), which refer to the person by pronoun, surname, given name or not at
all. Vocabularies (streets, towns, schools, children's names, fillers) are drawn at random.
The people are `PEOPLE` (also what the scorer watches).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

# (id, name, gender)
PEOPLE = [
    ("rr", "René Rosenkilde", "m"), ("tv", "Thomas Vestergaard", "m"), ("md", "Mette Dahl", "f"),
    ("ls", "Lise Søndergaard", "f"), ("kb", "Kasper Bech", "m"), ("ah", "Anne Holmgaard", "f"),
    ("pj", "Pia Juhl", "f"), ("mk", "Morten Kjærsgaard", "m"), ("sf", "Sanne Frederiksen", "f"),
    ("jl", "Jakob Lindholm", "m"), ("hn", "Helle Nørregaard", "f"), ("bt", "Bo Thygesen", "m"),
]  # fmt: skip

STREETS = ["Lærkevej", "Æblevej", "Søndergade", "Birkealle", "Skovbakken", "Granvænget", "Østerbrogade",
           "Rosenlunden", "Kirkestræde", "Møllevej", "Engtoften", "Havnegade", "Egeparken", "Bøgeløkken"]
TOWNS = [("8000", "Aarhus C"), ("2300", "København S"), ("5000", "Odense C"), ("9000", "Aalborg"),
         ("7100", "Vejle"), ("4000", "Roskilde"), ("6700", "Esbjerg"), ("8600", "Silkeborg")]
CHILDREN = ["Emma", "Oskar", "Freja", "William", "Ida", "Noah", "Alma", "Karl", "Ella", "Victor"]
SCHOOLS = ["Vestre", "Nørre", "Højvang", "Kildeskov", "Engdal", "Rosenhøj", "Strandby"]
DOMAINS = ["gmail.com", "hotmail.dk", "mail.dk", "outlook.com", "kommune.dk"]
OTHER_FIRST = ["Jens", "Peter", "Karen", "Hanne", "Lars", "Susanne", "Niels", "Birgitte"]
FILLERS = [
    "Jeg har været i kontakt med kommunen flere gange.", "Min sag har kørt siden januar.",
    "Det handler om min søns skolegang.", "Vi fik et brev i sidste uge.", "Jeg skriver det her efter mødet i går.",
    "Sagen drejer sig om hjemmehjælp til min mor.", "Der er gået tre måneder nu.",
    "Jeg ved ikke hvad jeg skal gøre.", "Mange andre har oplevet det samme.", "Vi var til møde på rådhuset.",
    "Afgørelsen kom med posten.", "Der var ingen andre til stede.", "Jeg har klaget til ankestyrelsen.",
]

# Sentences by label. Slots: {P} pronoun subject (Han/Hun at sentence start: {Pc}), {O} object
# pronoun, {G} possessive, {S} surname, {F} given name, {U} surname in capitals, {R} a reference
# by surname or pronoun (drawn), private items {addr} {phone} {cpr} {email} {plate} {kids}
# {school}. A label of several categories is a tuple.
KINDS: dict[str, list[str]] = {
    "threat": [
        "Vi skal nok finde {O}.", "{Pc} skal passe godt på fremover.", "Jeg kommer efter {O} en dag.",
        "{Pc} fortjener en kugle for panden.", "Næste gang jeg ser {O}, slår jeg {O} ihjel.",
        "Du skal ikke føle dig sikker, {S}.", "Hvis {P} ikke stopper, så sker der noget.",
        "{Gc} dage er talte.", "Jeg brænder {G} hus ned.", "{Pc} kommer til at fortryde det her.",
        "Vi holder øje med {O}.", "{Pc} skal have tæsk.", "{S} skal have en lærestreg, som {P} sent glemmer.",
        "Jeg smadrer {O}, næste gang jeg ser {O}.", "{Pc} burde kigge sig over skulderen.",
    ],
    "incitement": [
        "Del opslaget, så alle ved hvem {P} er.", "Alle skal ringe til {O} og sige hvad de mener.",
        "Lad os finde {O} og vise {O} hvad vi synes.", "Nogen burde sætte {O} på plads.",
        "Mød op hos {O} i morgen allesammen.", "Spred navnet, {P} skal hænges ud.",
        "Skriv til {O} alle sammen, så {P} kan lære det.", "Gør {G} liv til et helvede.",
    ],
    "insult": [
        "{Pc} er en klam idiot.", "Sikke et fjols {S} er.", "{Pc} er et kæmpe røvhul.",
        "Hvilken inkompetent kælling.", "{Pc} er dum som en dør.", "{S} er en klovn.",
        "{Pc} er et stykke afskum.", "{Pc} er fuldstændig hjernedød.", "Sikke en patetisk tåbe.",
        "{U} er en møgkælling." ,
    ],
    "accusation": [
        "{Pc} har stjålet penge fra borgerne.", "{Pc} forfalskede mine papirer.", "{Pc} tager imod bestikkelse.",
        "{Pc} har snydt min familie for 40.000 kr.", "{Pc} er korrupt til benet.", "{Pc} har pillet ved min journal.",
        "{S} har slettet beviser i sagen.", "{Pc} har begået underslæb i årevis.", "{Pc} er en svindler.",
        "{Pc} har løjet i retten om min datter.",
    ],
    "criticism": [
        "Sagsbehandlingen tager alt for lang tid.", "{Pc} svarer aldrig på mails.",
        "Det er en skandale, som {P} behandler folk.", "Jeg er dybt skuffet over afgørelsen.",
        "{Pc} virker fuldstændig ligeglad med os.", "Det er ikke i orden at vente tre måneder.",
        "Elendig service, igen.", "{S} burde skamme sig over den afgørelse.", "Det er uprofessionelt af {O}.",
        "Det er anden gang {P} glemmer vores aftale.",
    ],
    "none": [
        "{Pc} var faktisk rigtig sød og hjælpsom.", "Tak for hjælpen i sidste uge.",
        "{Pc} er en rigtig god fagchef.", "Mødet blev holdt på rådhuset.", "{Pc} forklarede reglerne godt.",
        "Jeg fik en god snak med {O}.", "{S} ringede tilbage samme dag, det var flot.",
        "Vi aftalte et nyt møde i næste måned.", "{Pc} har været sagsbehandler i mange år.",
    ],
    # Read right, these are not what their words alone say.
    "negated": ["Jeg siger ikke at {P} er en svindler.", "{Pc} har aldrig stjålet noget, det ved jeg godt.",
                "{Pc} er bestemt ikke korrupt."],
    "negated_criticism": ["{Pc} er ikke en idiot, men sagen tager alt for lang tid.",
                          "Ingen truer {O}, vi er bare trætte af ventetiden."],
    "quoted": [
        "En anden skrev: \"{Pc} er en svindler\", men det passer slet ikke.",
        "Nogen kaldte {O} \"en idiot\" i tråden, det er for langt ude.",
        "Han sagde: »Jeg slår {O} ihjel«, men det var jo for sjov.",
    ],
    "question": [
        "Er det rigtigt at {P} har snydt med tallene?", "Hvorfor svarer {P} aldrig?",
        "Har {P} virkelig stjålet fra kassen?", "Kan det passe at {P} har løjet om mødet?",
    ],
    "irony": [
        "Tak for ingenting, {S}.", "Flot arbejde, tre måneder uden et svar 🙄",
        "Virkelig professionelt at miste mine papirer igen.", "Bravo, endnu en uge uden svar.",
    ],
    "address": ["{Pc} bor på {addr}.", "{Gc} adresse er {addr}.", "Nu ved alle at {P} bor på {addr}."],
    "phone": ["Ring til {O} på {phone}.", "{Gc} private nummer er {phone}.", "Mobil: {phone}."],
    "cpr": ["{Gc} CPR er {cpr}.", "Personnummer: {cpr}."],
    "email": ["Skriv til {O} på {email}.", "{Gc} private mail er {email}."],
    "plate": ["{Pc} kører i en hvid Toyota med nummerplade {plate}.", "Bilen med nummerplade {plate} er {G}."],
    "whereabouts": ["{W}Vi ved hvor {P} bor.", "{W}Jeg ved godt hvor {P} bor.", "{W}Vi ved præcis hvor {P} bor.",
                    "{W}Vi har fundet ud af hvor {P} bor."],
    "family": ["{Gc} børn hedder {kids}.", "{Gc} datter går på {school}."],
}
# What each kind of sentence gives the post (categories), and the private item kind it holds.
LABEL = {
    "threat": ("threat",), "incitement": ("incitement",), "insult": ("insult",),
    "accusation": ("accusation",), "criticism": ("criticism",), "none": (), "negated": (),
    "negated_criticism": ("criticism",),
    "quoted": (), "question": ("criticism",), "irony": ("criticism",),
    "address": ("private_info",), "phone": ("private_info",), "cpr": ("private_info",),
    "email": ("private_info",), "plate": ("private_info",), "whereabouts": ("private_info", "threat"),
    "family": ("private_info",),
}  # fmt: skip
PRIVATE_KINDS = ("address", "phone", "cpr", "email", "plate", "whereabouts", "family")
# Sentences with numbers and names that are no private data (for precision).
NOT_PRIVATE = [
    "Sagen har journalnummer 2023-45123.", "Det kostede 12.500 kr. i alt.", "Mødet var den 12.11.2026 kl. 10:30.",
    "Jeg ventede 45 minutter i telefonkøen.", "Det står i paragraf 52 i serviceloven.",
    "Kommunens hovednummer står på hjemmesiden.", "Sagsnr. 24 55 18 90 står på brevet.",
    "Vi betalte 2.450,00 kr. for det.", "Brevet var dateret 311299.", "Side 14 i afgørelsen siger noget andet.",
]
SEVERITY = {"threat": "critical", "private_info": "critical", "accusation": "high", "incitement": "high",
            "insult": "medium", "criticism": "low"}  # fmt: skip


def severity(categories: set[str]) -> str:
    for level in ("critical", "high", "medium", "low"):
        if any(SEVERITY[c] == level for c in categories):
            return level
    return "none"


@dataclass
class Builder:
    rnd: random.Random
    name: str
    gender: str
    text: str = ""
    context: list[dict[str, object]] = field(default_factory=list)
    private: list[dict[str, object]] = field(default_factory=list)
    anchored: bool = False

    @property
    def given(self) -> str:
        return self.name.split()[0]

    @property
    def surname(self) -> str:
        return self.name.split()[-1]

    def add(self, template: str, refer: bool = True) -> None:
        """Append one sentence; slots that refer to the person are recorded as context mentions
        when a full name came before (`refer`: they are about this post's person)."""
        if self.text:
            self.text += " "
        pos = 0
        while pos < len(template):
            at = template.find("{", pos)
            if at < 0:
                self.text += template[pos:]
                break
            self.text += template[pos:at]
            end = template.index("}", at)
            slot = template[at + 1 : end]
            self._slot(slot, refer)
            pos = end + 1

    def _slot(self, slot: str, refer: bool) -> None:
        he = self.gender == "m"
        words = {
            "P": "han" if he else "hun", "Pc": "Han" if he else "Hun", "O": "ham" if he else "hende",
            "G": "hans" if he else "hendes", "Gc": "Hans" if he else "Hendes",
            "S": self.surname, "F": self.given, "U": self.surname.upper(), "N": self.name,
        }  # fmt: skip
        if slot in words:
            value = words[slot]
            start = len(self.text)
            self.text += value
            if slot == "N":
                self.anchored = True
            elif refer and self.anchored:
                self.context.append({"start": start, "end": len(self.text), "confidence": "high"})
            return
        if slot == "W":
            # The whole sentence that follows is the item: a phrase saying where the person lives.
            self.private.append({"kind": "whereabouts", "start": len(self.text), "end": len(self.text) + 12})
            return
        start = len(self.text)
        self.text += self._item(slot)
        kind = {"addr": "address", "kids": "family", "school": "family"}.get(slot, slot)
        self.private.append({"kind": kind, "start": start, "end": len(self.text)})

    def _item(self, slot: str) -> str:
        r = self.rnd
        if slot == "addr":
            postcode, town = r.choice(TOWNS)
            floor = r.choice(["", ", 2. th.", ", st. tv.", ", 1. sal", " B"])
            return f"{r.choice(STREETS)} {r.randint(1, 140)}{floor}, {postcode} {town}"
        if slot == "phone":
            digits = [str(r.randint(2, 9))] + [str(r.randint(0, 9)) for _ in range(7)]
            d = "".join(digits)
            return r.choice([f"{d[:2]} {d[2:4]} {d[4:6]} {d[6:]}", f"{d[:4]} {d[4:]}", f"+45 {d}", d])
        if slot == "cpr":
            day, month, year = r.randint(1, 28), r.randint(1, 12), r.randint(50, 99)
            return f"{day:02d}{month:02d}{year:02d}-{r.randint(1000, 3999)}"
        if slot == "email":
            return f"{self.given.lower().replace('é', 'e')}.{r.randint(10, 99)}@{r.choice(DOMAINS)}"
        if slot == "plate":
            letters = "".join(r.choice("ABCDEFHJKLMNPRSTUVXYZ") for _ in range(2))
            return f"{letters} {r.randint(10, 99)} {r.randint(100, 999)}"
        if slot == "kids":
            a, b = r.sample(CHILDREN, 2)
            return f"{a} og {b}"
        if slot == "school":
            return f"{r.choice(SCHOOLS)} Skole"
        raise KeyError(slot)


INTROS = [
    "{N} fra kommunen har min sag.", "Jeg har haft {N} som sagsbehandler i et år.",
    "Har andre haft med {N} at gøre?", "Opslag om {N} fra Familieafdelingen.",
    "{N} holdt mødet med os i tirsdags.", "Her er min historie om {N}.", "Sagsbehandler {N} ringede i dag.",
]


def make_post(rnd: random.Random, index: int) -> dict[str, object]:
    pid, name, gender = rnd.choice(PEOPLE)
    b = Builder(rnd, name, gender)
    shape = rnd.random()
    kinds = list(KINDS)
    chosen = rnd.sample(kinds, rnd.choice([1, 1, 2, 2, 3]))
    someone_else = False
    if shape < 0.08:
        # About someone else with a watched surname: a whole other name, then the surname alone.
        someone_else = True
        other = f"{rnd.choice(OTHER_FIRST)} {b.surname}"
        b.add(f"{other} fra nabokommunen er en idiot.", refer=False)
        b.add(rnd.choice([f"{b.surname} burde fyres.", f"{b.surname.upper()} er en klovn.", "Han er håbløs."]),
              refer=False)
        cats: set[str] = {"insult"}
        return _row(index, pid, b, cats, someone_else, shape="someone_else")
    if shape < 0.18:
        # No full name at all: the surname alone (often in capitals), then a harsh or mild sentence.
        harsh = rnd.random() < 0.7
        form = b.surname.upper() if rnd.random() < 0.5 else b.surname
        start = len(b.text)
        b.text += form + (" er et røvhul og en idiot." if harsh else " har min sag nu.")
        b.context.append({"start": start, "end": start + len(form), "confidence": "high" if harsh else "possible"})
        cats = {"insult"} if harsh else set()
        if rnd.random() < 0.5:
            kind = rnd.choice(["accusation", "threat", "criticism"])
            b.add(rnd.choice(KINDS[kind]).replace("{S}", "{Pc}"), refer=False)
            cats |= set(LABEL[kind])
        return _row(index, pid, b, cats, False, shape="surname_alone")
    cats = set()
    harmful_in_anchor = rnd.random() < 0.25 and chosen[0] not in ("quoted",)
    if harmful_in_anchor:
        # The anchor sentence is itself the harmful one: the name where the pronoun would be.
        template = rnd.choice(KINDS[chosen[0]])
        b.anchored = False
        replaced = template.replace("{Pc}", "{N}", 1)
        if "{N}" not in replaced:
            replaced = "{N}: " + template
        b.add(replaced)
        cats |= set(LABEL[chosen[0]])
        rest = chosen[1:]
    else:
        b.add(rnd.choice(INTROS))
        rest = chosen
    for _ in range(rnd.choice([0, 0, 1, 2])):
        b.add(rnd.choice(FILLERS))
    for kind in rest:
        template = rnd.choice(KINDS[kind])
        if "{Pc}" in template and rnd.random() < 0.25:
            template = template.replace("{Pc}", rnd.choice(["{S}", "{F}", "{U}"]), 1)
        b.add(template)
        cats |= set(LABEL[kind])
    if rnd.random() < 0.3:
        b.add(rnd.choice(NOT_PRIVATE))
    return _row(index, pid, b, cats, False, shape="+".join(chosen))


def _row(index: int, pid: str, b: Builder, cats: set[str], someone_else: bool, shape: str) -> dict[str, object]:
    if cats & {"threat", "insult", "accusation", "incitement"}:
        cats.discard("criticism")
    return {
        "id": f"p{index:04d}", "person": pid, "shape": shape, "text": b.text,
        "categories": sorted(cats), "severity": severity(cats), "private": b.private, "context": b.context,
        "someone_else": someone_else,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--n", type=int, default=360)
    parser.add_argument("-o", "--out", type=Path, default=Path(__file__).parent / "data" / "assess_dev.jsonl")
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for i in range(args.n):
            out.write(json.dumps(make_post(rnd, i), ensure_ascii=False) + "\n")
    print(f"{args.n} posts -> {args.out}")


if __name__ == "__main__":
    main()
