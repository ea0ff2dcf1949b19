"""Private data published in a post: what kind of item, where, and how an e-mail shows it masked.

Kinds: `address` (a Danish street address: street, number, optional floor and side, optional
postcode and town), `phone` (eight digits in the usual groupings, optionally +45), `cpr` (a CPR
number whose first six digits are a real date), `email`, `plate` (a Danish licence plate, two
letters and five digits), `whereabouts` ("vi ved hvor han bor"), `family` (the employee's
children or family named, or their school or institution), `photo` (a picture of the person
announced in the text). The text items are found by pattern; the phrases by regular
expressions over the folded text. Precision matters: a phone pattern needs the digits to stand
alone (not inside a longer number, an amount or a case number), and a bare street word needs a
house number.

Pure: patterns are compiled at import; `find_private` does no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

KINDS = ("address", "phone", "cpr", "email", "plate", "whereabouts", "family", "photo")

_STREET_WORDS = (
    "vej|vejen|gade|gaden|allé|alle|stræde|sti|stien|vænget|vænge|plads|torv|parken|park|bakken|bakke|toften|"
    "haven|have|boulevard|kvarter|engen|løkken|højen|marken|vangen|stykket|leddet|lund|lunden|holm|skov|"
    "skoven|hegn|hegnet|bjerg|dal|dalen|ager|agre|agervej|kær|mose|mosen|strand|strandvej|gård|gårde|"
    "have|bro|broen|hus|huse|tofte|banke|brink|slette|sletten|ringen|ring|kilde|kilden"
)
_ADDRESS = re.compile(
    r"\b(?:[A-ZÆØÅ][a-zæøåéü]+[ -])?[A-ZÆØÅ][a-zæøåéü]*(?:" + _STREET_WORDS + r")"
    r"\s+\d{1,4}(?:\s?[A-Z]|[a-z])?\b"
    r"(?:,?\s*(?:st\.?|kl\.?|\d{1,2}\.)(?:\s*(?:sal\.?|th\.?|tv\.?|mf\.?|\d{1,3}))?)?"
    r"(?:,?\s*(?:DK-)?[1-9]\d{3}\s+[A-ZÆØÅ][a-zæøå]+(?:\s+[A-ZÆØÅ]\w*)?)?"
)
# "Søndergade 12" is an address; "Side 12", "Afsnit 4" are not: the street words above are the
# last part of the word. A town name alone ("bor i 8000 Aarhus C") is found as well.
_POSTCODE_TOWN = re.compile(r"\b(?:bor|adresse|adressen|bopæl)\b[^.!?\n]{0,30}?\b[1-9]\d{3}\s+[A-ZÆØÅ][a-zæøå]+")
_PHONE = re.compile(
    r"(?<![\w+,.:/-])(?:(?:\+|00)45[ \-]?)?"
    r"(?:\d{2}[ \-.]?\d{2}[ \-.]?\d{2}[ \-.]?\d{2}|\d{4}[ \-]\d{4}|\d{3}[ \-]\d{2}[ \-]\d{3})"
    r"(?![\w/-]|[.,:]\d)"
)
_PHONE_CUE = re.compile(r"(?:tlf|telefon|mobil|nummer|ring|sms|ringe|nr)\w*\.?\s*:?\s*$", re.IGNORECASE)
_CPR = re.compile(r"(?<![\w-])([0-3]\d)([01]\d)(\d{2})[ \-]?(\d{4})(?![\w-])")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b")
_DIGIT = re.compile(r"\d")
_PLATE = re.compile(r"(?<![\w-])[A-Z]{2}[ \-]?\d{2}[ \-]?\d{3}(?![\w-])")
# A number that is an amount, a year, a time or a case: not a phone.
_NOT_PHONE_BEFORE = re.compile(
    r"(?:kr\.?|dkk|sag|sagsnr\.?|journalnr\.?|j\.nr\.?|cvr|konto|reg\.?)\s*:?\s*$", re.IGNORECASE
)
_NOT_PHONE_AFTER = re.compile(r"^\s*(?:kr\b|dkk\b|kroner\b|,-)", re.IGNORECASE)

_PRONOUN = r"(?:hun|han|navn|den|de|kællingen|svinet|\w+en)"
# Words in either case; what must be a capital (a street name) stays case-sensitive.
_WHEREABOUTS = re.compile(
    r"\b(?i:(?:vi|jeg|alle|folk|man) (?:\w+ )?(?:ved|kender|har|fandt|fundet|finder)"
    r"(?: godt| præcis| nu| jo| også| da)* (?:hvor|adressen på hvor|ud af hvor) (?:\w+ )?"
    + _PRONOUN
    + r" (?:bor|holder til|sover|parkerer|handler))"
    r"|\b(?i:hun|han|navn) bor (?:lige |på |i |ved |over for |ovre )(?:på |ved )?(?:[A-ZÆØÅ]\w*|nummer|nr\.?|\d)"
    r"|\b(?i:(?:vi|jeg) (?:har )?(?:set|fulgt) (?:hende|ham) (?:hjemme|ved hendes|ved hans|uden for))",
)
_NAME = r"[A-ZÆØÅ][a-zæøå]+"
_INSTITUTION = r"(?:[Ss]kole|[Bb]ørnehave|[Vv]uggestue|SFO|[Ii]nstitution|[Ff]ritidsklub|[Gg]ymnasium|[Ee]fterskole)"
_FAMILY = re.compile(
    r"\b(?:[Hh]endes|[Hh]ans|navns|[Dd]eres) (?:\w+ )?(?:børn|barn|datter|døtre|søn|sønner|unger|mand|kone|kæreste)"
    r"(?:,)? (?:hedder |er )?" + _NAME + r"(?:(?:,| og) " + _NAME + r")*"
    r"|\b(?:[Hh]endes|[Hh]ans|navns|[Dd]eres) (?:\w+ )?(?:børn|barn|datter|døtre|søn|sønner|unger)"
    r" (?:går|gå) (?:på|i) (?:" + _NAME + r" )+" + _INSTITUTION + r"\w*"
    r"|\b(?:[Bb]ørnene|[Uu]ngerne|[Dd]atteren|[Ss]ønnen) (?:går på|går i|hedder) " + _NAME + r"(?: \w+)?"
)
_PHOTO = re.compile(
    r"\b(?:(?:her|se) (?:er )?(?:et )?(?:billede|billedet|foto|fotoet|billeder) (?:af|fra)"
    r" (?:hende|ham|navn|hendes|hans)"
    r"|(?:billede|billedet|foto|fotoet|billeder|video|videoen) (?:af|med)"
    r" (?:hende|ham|navn|hendes hus|hans hus|hendes bil|hans bil)"
    r"|(?:jeg|vi) (?:har )?(?:fotograferet|filmet|taget billeder af) (?:hende|ham|navn))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Gate:
    """Where in a lower-cased text a phrase pattern may match: at an occurrence of one of
    `starts` where `shape`, which every match holds from there on, matches. Most texts hold
    none, and the phrase's regex, which is tried at every word of the text, is not run at all;
    the occurrences are found at C speed, and `shape` is tried only there."""

    starts: tuple[str, ...]
    shape: re.Pattern[str]
    # Strings one of which every match holds further on, rarer than the starts ("hans" is
    # everywhere, "datter" is not): looked for first, each with one search.
    needs: tuple[str, ...] = ()

    def may_hold(self, lowered: str) -> bool:
        for need in self.needs:
            if need in lowered:
                break
        else:
            if self.needs:
                return False
        for start in self.starts:
            at = lowered.find(start)
            while at >= 0:
                if self.shape.match(lowered, at):
                    return True
                at = lowered.find(start, at + 1)
        return False


_MAY_SAY_WHEREABOUTS = _Gate(
    ("hvor ", "hun bor ", "han bor ", "navn bor ", "set hende ", "set ham ", "fulgt hende ", "fulgt ham "),
    re.compile(
        r"hvor (?:\w+ ){1,2}(?:bor|holder til|sover|parkerer|handler)"
        r"|(?:hun|han|navn) bor |(?:set|fulgt) (?:hende|ham) "
    ),
    ("bor", "holder til", "sover", "parkerer", "handler", "set h", "fulgt h"),
)
_MAY_NAME_FAMILY = _Gate(
    ("hendes ", "hans ", "navns ", "deres ", "børnene ", "ungerne ", "datteren ", "sønnen "),
    re.compile(
        r"(?:hendes|hans|navns|deres) (?:\w+ )?(?:børn|barn|datter|døtre|søn|unger|mand|kone|kæreste)"
        r"|(?:børnene|ungerne|datteren|sønnen) (?:går|hedder) "
    ),
    ("børn", "barn", "datter", "døtre", "søn", "unger", "mand", "kone", "kæreste"),
)
_MAY_ANNOUNCE_PHOTO = _Gate(
    ("billede", "foto", "video", "filmet "),
    re.compile(
        r"(?:(?:billede|foto|video)\w* (?:af|fra|med) |fotograferet |filmet |billeder af )(?:hende|ham|navn|hans)"
    ),
)


_PHRASES = (
    ("whereabouts", _WHEREABOUTS, _MAY_SAY_WHEREABOUTS),
    ("family", _FAMILY, _MAY_NAME_FAMILY),
    ("photo", _PHOTO, _MAY_ANNOUNCE_PHOTO),
)


@dataclass(frozen=True)
class PrivateItem:
    """One item of private data in a text: its kind, its offsets, and the text itself."""

    kind: str
    start: int
    end: int
    text: str

    def masked(self) -> str:
        """The item as an e-mail shows it: its kind's shape, never the item ("Æ•••vej ••", "•• •• •• 89")."""
        return mask_item(self.kind, self.text)


def mask_item(kind: str, text: str) -> str:
    if kind in ("whereabouts", "family", "photo"):
        return text  # a phrase, not an item: the words themselves say what was published
    if kind == "email":
        local, _, domain = text.partition("@")
        return f"{local[:1]}•••@{domain}"
    if kind == "address":
        return re.sub(r"\d", "•", text[:1] + re.sub(r"\w", "•", text[1:]))
    keep = 2 if kind in ("phone", "plate") else 0
    digits = [i for i, c in enumerate(text) if c.isalnum()]
    shown = set(digits[-keep:]) if keep else set()
    return "".join(c if (not c.isalnum() or i in shown) else "•" for i, c in enumerate(text))


def valid_cpr_date(day: int, month: int, year2: int, serial: str) -> bool:
    """Is DDMMYY a real day? The century follows the seventh digit as the CPR rules set it."""
    seventh = int(serial[0])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if year2 <= 36 else 1900
    else:
        century = 2000 if year2 <= 57 else 1800
    try:
        date(century + year2, month, day)
    except ValueError:
        return False
    return True


def find_private(text: str) -> list[PrivateItem]:
    """Every item of private data in `text`, in text order; items never overlap."""
    found: list[PrivateItem] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        if any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        found.append(PrivateItem(kind, start, end, text[start:end]))

    if "@" in text:
        for m in _EMAIL.finditer(text):
            add("email", m.start(), m.end())
    if _has_digit(text):
        for m in _CPR.finditer(text):
            if valid_cpr_date(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)):
                add("cpr", m.start(), m.end())
        for m in _ADDRESS.finditer(text):
            add("address", m.start(), m.end())
        for m in _POSTCODE_TOWN.finditer(text):
            add("address", m.start(), m.end())
        for m in _PLATE.finditer(text):
            add("plate", m.start(), m.end())
        for m in _PHONE.finditer(text):
            if _is_phone(text, m):
                add("phone", m.start(), m.end())
    lowered = text.lower()
    aligned = len(lowered) == len(text)
    for kind, pattern, gate in _PHRASES:
        # Lower-casing keeps the words where the patterns read them if it keeps every character one.
        if not aligned or gate.may_hold(lowered):
            for m in pattern.finditer(text):
                add(kind, m.start(), m.end())
    return sorted(found, key=lambda item: item.start)


def _has_digit(text: str) -> bool:
    """Does `text` hold a digit (`\\d`: any decimal digit)? Every kind but e-mail has one, and
    most stretches have none. A search for each ASCII digit runs at memchr speed, several times
    faster than `\\d` tried at every character; no other decimal digit is in Latin-1 or
    Windows-1252, so a text that encodes in either (Danish does, curly quotes and dashes too)
    holds no other. Latin-1 is tried first: it encodes at copying speed."""
    for digit in "0123456789":
        if digit in text:
            return True
    for encoding in ("latin-1", "cp1252"):
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            continue
        return False
    return _DIGIT.search(text) is not None


def _is_phone(text: str, m: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", m.group())
    if digits.startswith(("45", "0045")) and len(digits) > 8:
        digits = digits[-8:]
    before = text[max(0, m.start() - 20) : m.start()]
    after = text[m.end() : m.end() + 10]
    if _NOT_PHONE_BEFORE.search(before) or _NOT_PHONE_AFTER.search(after):
        return False
    if digits[0] in "01" and not _PHONE_CUE.search(before):
        return False  # Danish numbers start 2-9; a leading 0 or 1 is a date or a code
    # Eight digits with no grouping at all ("20231115") read as a date or an id unless the text
    # says it is a number.
    if m.group().isdigit() and not _PHONE_CUE.search(before):
        return int(digits[:2]) >= 20 and not (digits.startswith(("19", "20")) and int(digits[4:6] or 0) <= 12)
    return True


def mask(text: str, items: list[PrivateItem] | None = None) -> str:
    """`text` with every item of private data (addresses, numbers, e-mails, plates) masked."""
    items = find_private(text) if items is None else items
    out: list[str] = []
    pos = 0
    for item in items:
        if item.start < pos:
            continue
        out.append(text[pos : item.start])
        out.append(item.masked())
        pos = item.end
    out.append(text[pos:])
    return "".join(out)
