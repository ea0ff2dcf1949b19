"""The evidence report's words in Danish (the default) and English; `language` in the config chooses.

The report template calls `t("English text")`, as the review app's templates do; Danish has a
translation for every such text (a test checks the template against this table and the review
app's). Statuses, confidence, categories and snapshot reasons are the review app's own words
(`vaern.review.i18n`), so a hit reads the same in the app, the e-mails and the report.

What capture recorded in `provenance.json` and `manifest.json` (its limitations, notes and the
actions it took) is sealed evidence and stays in English there. The Danish report shows a Danish
rendering of the texts capture is known to write, matched exactly; anything else is shown as
recorded, marked as a quotation.
"""

# ruff: noqa: E501  (sentences read better unbroken than split to the line limit)

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from vaern.review import i18n

DA: dict[str, str] = {
    "Evidence report": "Bevisrapport",
    "Exported by": "Eksporteret af",
    "The post, as the page describes it": "Opslaget, som siden selv beskriver det",
    "author": "forfatter",
    "handle": "brugernavn",
    "date": "dato",
    "id": "id",
    "Clock of the capturing machine": "Uret på den maskine, der sikrede siden",
    "synchronised": "synkroniseret",
    "not synchronised": "ikke synkroniseret",
    "synchronisation not known": "synkronisering ukendt",
    "Place in the chain": "Plads i kæden",
    "entry": "nummer",
    "Timestamp authority": "Tidsstempeltjeneste",
    "signed by": "underskrevet af",
    "root": "rodcertifikat",
    "fingerprint": "fingeraftryk",
    "compare it with the one the authority publishes": "sammenlign det med det, tjenesten offentliggør",
    "root: not among the roots configured here; obtain it from the authority": "rodcertifikat: ikke blandt dem, der er sat op her; hent det hos tjenesten",
    "The archive's chain": "Arkivets kæde",
    "chain/ holds the chain's entries": "chain/ indeholder kædens numre",
    "and their manifests": "og deres manifester",
    "The chain's head at entry": "Kædens top ved nummer",
    "was timestamped; following each manifest's previous link from it leads to every snapshot above.": "fik et tidsstempel; følger man hvert manifests henvisning til det forrige derfra, når man til hvert øjebliksbillede ovenfor.",
    "over": "over",
    "No timestamped chain head covers these snapshots yet.": "Endnu intet tidsstempel på kædens top dækker disse øjebliksbilleder.",
    "generated": "udarbejdet",
    "times are shown in UTC and in local time": "tidspunkter er angivet i UTC og i lokal tid",
    "Summary": "Sammendrag",
    "Person named": "Nævnt person",
    "Where": "Hvor",
    "Matched text": "Navnet, som det stod på siden",
    "score": "score",
    "none": "ingen",
    "Removed (page gone or no longer names the person)": "Fjernet (siden er væk eller nævner ikke længere personen)",
    "Snapshots": "Øjebliksbilleder",
    "Excerpt": "Uddrag",
    "No snapshot of this page was stored (the capture may have failed).":
        "Der blev ikke gemt noget øjebliksbillede af siden (sikringen kan være mislykkedes).",
    "Requested URL": "Adresse, der blev åbnet",
    "Final URL": "Endelig adresse (efter omdirigeringer)",
    "Redirect": "Omdirigering",
    "HTTP status": "HTTP-status",
    "no answer": "intet svar",
    "Detected": "Opdaget",
    "Capture started": "Sikring startet",
    "Capture finished": "Sikring afsluttet",
    "Server address": "Serverens adresse",
    "port": "port",
    "not recorded": "ikke registreret",
    "not readable": "kan ikke læses",
    "TLS": "TLS (krypteret forbindelse)",
    "subject": "udstedt til",
    "issuer": "udstedt af",
    "valid": "gyldigt",
    "valid from": "gyldigt fra",
    "valid until": "gyldigt til",
    "none: plain HTTP, not encrypted": "ingen: almindelig HTTP uden kryptering",
    "Browser": "Browser",
    "viewport": "vinduesstørrelse",
    "Manifest SHA-256": "Manifestets SHA-256",
    "Previous manifest SHA-256": "Forrige manifests SHA-256",
    "none: first in the archive": "intet: det første i arkivet",
    "This snapshot has no provenance record (provenance.json), as with older or failed captures: redirects, server address, TLS, browser and the actions taken on the page are not known.":
        "Dette øjebliksbillede har ingen sikringsoplysninger (provenance.json), som det gælder for ældre eller mislykkede sikringer: omdirigeringer, serverens adresse, TLS, browser og handlinger på siden kendes ikke.",
    "This snapshot's provenance record (provenance.json) could not be read; what it would say is not shown here.":
        "Dette øjebliksbilledes sikringsoplysninger (provenance.json) kan ikke læses; det, de ville vise, er ikke med her.",
    "Note": "Bemærkning",
    "quoted from the capture record": "citeret fra sikringens registrering",
    "Where the name matched (on our copy of the text)": "Hvor navnet blev fundet (i vores kopi af teksten)",
    "Matched": "Fundet som",
    "Snippet": "Uddrag",
    "Screenshots": "Skærmbilleder",
    "of": "af",
    "Files": "Filer",
    "Size (bytes)": "Størrelse (bytes)",
    "Trusted timestamps (RFC 3161) over the manifest": "Betroede tidsstempler (RFC 3161) på manifestet",
    "Token": "Tidsstempel",
    "Time stated by the timestamp authority": "Tidspunkt ifølge tidsstempeltjenesten",
    "certificates": "certifikater",
    "unreadable": "kan ikke læses",
    "No trusted timestamp was obtained for this snapshot.": "Der blev ikke indhentet et betroet tidsstempel for dette øjebliksbillede.",
    "What the capture did to the page": "Hvad sikringen gjorde ved siden",
    "Text changes since the previous snapshot": "Ændringer i teksten siden forrige øjebliksbillede",
    "… (difference cut here)": "… (forskellen er afkortet her)",
    "How to verify this bundle without Værn": "Sådan kontrollerer du pakken uden Værn",
    "Limitations": "Begrænsninger",
    "As recorded by the capture (provenance.json):": "Forbehold, som sikringen selv registrerede i provenance.json (der står de på engelsk; her på dansk):",
    "Quoted as the capture recorded them (provenance.json):": "Øvrige forbehold, citeret på engelsk, som sikringen registrerede dem (provenance.json):",
}

# The limitations capture writes into every provenance.json (crawler/capture.py, LIMITATIONS),
# matched exactly; a test checks that each one there has its Danish here.
LIMITATIONS_DA: dict[str, str] = {
    "A hash proves that these bytes have not changed since they were captured; it does not prove "
    "what the server meant, nor that the server was not itself showing something false.":
        "En hashværdi beviser, at disse bytes ikke er ændret, siden de blev sikret; den beviser ikke, hvad der var "
        "ment med indholdet, og heller ikke, at serveren ikke selv viste noget forkert.",
    "Response bodies in the WARC are as Chromium delivered them: decoded from any content "
    "encoding (gzip, br); the original encoding header is kept as X-Archive-Orig-Content-Encoding. "
    "The HTTP version of each exchange is not known to the recorder and is written as HTTP/1.1.":
        "Svarenes indhold i WARC-filen er gemt, som Chromium leverede det: pakket ud af en eventuel komprimering "
        "(gzip, br); den oprindelige header er bevaret som X-Archive-Orig-Content-Encoding. Optageren kender ikke "
        "HTTP-versionen for den enkelte udveksling og skriver den som HTTP/1.1.",
    "The page was scrolled before the screenshot so that lazily loaded content would appear; "
    "those actions are listed. Content that needs a click, a login or a consent dialog may be missing.":
        "Siden blev rullet, før skærmbilledet blev taget, så indhold, der først hentes under rulning, kom frem; "
        "de handlinger er anført. Indhold, der kræver et klik, et login eller en samtykkedialog, kan mangle.",
    "Inner scrolling containers are captured by scrolling them and stitching the views; sticky "
    "elements inside them may repeat. Horizontal scrolling is not followed.":
        "Indre rulleområder sikres ved at rulle gennem dem og sætte billederne sammen; faste elementer i dem kan "
        "derfor gå igen. Vandret rulning følges ikke.",
}

# The notes capture writes into manifest.json (crawler/capture.py), as patterns over the whole note.
NOTES_DA: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"navigation failed: (?P<error>.+)", re.S), "siden kunne ikke åbnes: {error}"),
    (re.compile(r"the load event did not fire within (?P<s>[\d.]+) s; captured as it was"),
     "siden blev ikke færdig med at indlæse inden for {s} sekunder; den blev sikret, som den var"),
    (re.compile(r"page is (?P<h>\d+) px tall; screenshot capped at (?P<cap>\d+) px"),
     "siden er {h} px høj; skærmbilledet er afkortet ved {cap} px"),
    (re.compile(r"(?P<n>\d+) request\(s\) the page made were refused by the SSRF guard \(network\.blocked\)"),
     "{n} forespørgsel(er) fra siden blev afvist af beskyttelsen mod forespørgsler til interne adresser (SSRF; "
     "network.blocked i provenance.json)"),
    (re.compile(r"the browser kept no body for the main document; html is what the crawler received"),
     "browseren gemte ikke selve dokumentet; page.html er det, crawleren modtog"),
)

ACTIONS_DA: dict[str, str] = {
    "load": "åbnede siden",
    "scroll to the end until the height stops growing": "rullede til bunden, indtil siden ikke blev længere",
    "print to PDF (screen media)": "udskrev siden som PDF (skærmvisning)",
    "scroll inner container": "rullede gennem et indre rulleområde",
    "scrolled back to the top": "rullede tilbage til toppen",
}

KINDS_DA: dict[str, str] = {
    "screenshot": "skærmbillede af hele siden",
    "html": "HTML, som serveren sendte den",
    "dom": "DOM, som browseren viste den",
    "text": "sidens tekst",
    "warc": "WARC: alle forespørgsler og svar",
    "provenance": "sikringsoplysninger",
    "pdf": "PDF af siden",
    "crawler_html": "HTML, som crawleren modtog",
    "tls_chain": "serverens TLS-certifikatkæde (PEM)",
}

_SCROLLER = re.compile(r"scroller-(\d+)")


class ReportWords:
    """The report's texts in one language; `words("English")` is the template's `t`."""

    def __init__(self, language: str) -> None:
        self.language = "en" if language == "en" else "da"
        self.danish = self.language == "da"
        self._codes: Callable[[str], str] = i18n.translator(self.language)

    def __call__(self, text: str) -> str:
        if self.danish and text in DA:
            return DA[text]
        return self._codes(text)

    def code(self, prefix: str, value: str | None) -> str:
        """A status, reason, category or confidence in words (the review app's); unknown ones as they are."""
        if not value:
            return ""
        key = f"{prefix}{value}"
        words = self._codes(key)
        return value if words == key else words

    def number(self, value: float) -> str:
        text = f"{value:g}"
        return text.replace(".", ",") if self.danish else text

    def kind(self, kind: str) -> str:
        """What a file of the manifest is (its kind is the manifest's key, shown as it is in English)."""
        if not self.danish:
            return kind
        scroller = _SCROLLER.fullmatch(kind)
        if scroller:
            return f"indre rulleområde {scroller.group(1)}"
        return KINDS_DA.get(kind, kind)

    def limitation(self, text: str) -> tuple[str, bool]:
        """A limitation capture recorded, in this language; False when it can only be quoted as recorded."""
        if not self.danish:
            return text, True
        return (LIMITATIONS_DA[text], True) if text in LIMITATIONS_DA else (text, False)

    def note(self, text: str) -> tuple[str, bool]:
        """A note of the manifest, in this language; False when it can only be quoted as recorded."""
        if not self.danish:
            return text, True
        for pattern, danish in NOTES_DA:
            m = pattern.fullmatch(text)
            if m:
                return danish.format(**m.groupdict()), True
        return text, False

    def action(self, action: dict[str, Any]) -> tuple[str, bool]:
        """One entry of the capture's actions log, in a sentence; False when it can only be quoted as recorded."""
        what = str(action.get("action", "?"))
        known = not self.danish or what in ACTIONS_DA
        if self.danish:
            what = ACTIONS_DA.get(what, what)
        details: list[str] = []
        if "steps" in action:
            then = str(action.get("then", ""))
            if self.danish:
                then = ACTIONS_DA.get(then, then)
                details.append(f"{action['steps']} trin, endelig højde {action.get('final_height', '?')} px, {then}")
            else:
                details.append(f"{action['steps']} steps, final height {action.get('final_height', '?')} px, {then}")
        text = f"{what} ({details[0]})" if details else what
        if "container" in action:
            positions = ", ".join(str(p) for p in action.get("positions") or [])
            if self.danish:
                text += (f": {action['container']}, positioner {positions}, "
                         f"sat tilbage til {action.get('restored_to', '?')}")
            else:
                text += f": {action['container']}, positions {positions}, restored to {action.get('restored_to', '?')}"
        return text, known
