"""The words of the e-mails, in Danish (the default) and English (`language: en`).

The recommended next steps per category follow the guidance Danish workplaces use for digital
harassment of employees: threats and accusations of crimes may be reported to the police
(within 72 hours of the incident, a condition for victim compensation); published private data
is a matter for Datatilsynet and a takedown request; gross insults call for a takedown request;
criticism is usually lawful and must be tolerated, so support the employee and keep watching.
"""

# ruff: noqa: E501  (sentences read better unbroken than split to the line limit)

from __future__ import annotations

from datetime import datetime

CATEGORY_ORDER = ("threat", "private_info", "accusation", "insult", "criticism")

_DA: dict[str, str] = {
    "greeting": "Kære {name}",
    "greeting_anonymous": "Hej",
    "intro.new_hit": "Værn har fundet {n_hits} nye omtaler af medarbejdere i din enhed på de sider, vi holder øje med. "
    "Ved hvert fund står, om beviset er sikret.",
    "intro.new_hit.one": "Værn har fundet en ny omtale af en medarbejder i din enhed på en side, vi holder øje med.",
    "intro.update": "Siden er ændret og nævner stadig medarbejderen. Her er den nye tekst.",
    "intro.removed": "Siden er væk eller nævner ikke længere medarbejderen. Det, Værn sikrede, er bevaret i Værn.",
    "intro.reminder": "Dette fund er endnu ikke behandlet (hverken bekræftet eller afvist) i Værn. "
    "Husk fristen for politianmeldelse.",
    "intro.digest": "Dagens oversigt over mulige fund, som en analytiker bør se på: {n_hits} fund.",
    "subject.new_hit.one": "Værn: {person} nævnt på {site}",
    "subject.new_hit.many": "Værn: {n_hits} nye fund om {people}",
    "subject.update": "Værn: siden om {person} på {site} er ændret",
    "subject.removed": "Værn: siden om {person} på {site} er fjernet",
    "subject.reminder": "Værn: påmindelse – fund om {person} er ikke behandlet",
    "subject.digest": "Værn: dagens oversigt – {n_hits} mulige fund",
    "and_more": "og {n} flere",
    "who": "Hvem",
    "where": "Hvor",
    "first_seen": "Først set",
    "removed_at": "Fjernet",
    "categories": "Art",
    "no_categories": "ikke klassificeret",
    "excerpt": "Uddrag",
    "confidence": "Sikkerhed",
    "confidence.high": "høj",
    "confidence.possible": "mulig – bør tjekkes",
    "open": "Åbn fundet i Værn",
    "screenshot": "Skærmbillede af siden",
    "evidence": "Bevis",
    "evidence.secured": "sikret i Værn: skærmbillede af hele siden, dens HTML og netværkstrafik, med hashværdier.",
    "evidence.incomplete": "KUNNE IKKE SIKRES HELT. Det gemte billede af siden viser ikke omtalen ({reason}). "
    "Sikr siden manuelt nu: tag et skærmbillede af hele opslaget, og notér adressen og tidspunktet.",
    "evidence.missing": "KUNNE IKKE SIKRES. Værn har ikke gemt et billede af siden, der viser omtalen. "
    "Sikr siden manuelt nu: tag et skærmbillede af hele opslaget, og notér adressen og tidspunktet.",
    "steps": "Det anbefalede næste skridt",
    "step.always": "Tal med medarbejderen og tilbyd støtte. Overvej at anmelde det som arbejdsskade.",
    "step.threat": "Trussel: overvej at anmelde opslaget til politiet.",
    "step.private_info": "Private oplysninger: klag til Datatilsynet, og bed forfatteren eller platformen "
    "om at fjerne opslaget.",
    "step.accusation": "Beskyldning om en forbrydelse: overvej en politianmeldelse for ærekrænkelse (injurier).",
    "step.insult": "Grov fornærmelse: bed forfatteren eller platformen om at fjerne opslaget.",
    "step.criticism": "Kritik er som regel lovlig og skal tåles: støt medarbejderen, og hold øje med siden.",
    "deadline": "Frist for politianmeldelse: {due}",
    "deadline.posted": "72 timer efter opslagets tidspunkt, som siden angiver: {since}.",
    "deadline.posted_day": "72 timer fra starten af den dag, siden angiver for opslaget: {since}.",
    "deadline.posted_relative": "72 timer efter opslagets tidspunkt, {since} (siden skrev »{source}«, da Værn hentede den).",
    "deadline.first_seen": "Siden viser ingen dato for opslaget, så fristen regnes fra det tidspunkt, Værn første "
    "gang så det ({since}). Opslaget kan være ældre.",
    "deadline.passed": "Fristen er overskredet.",
    "deadline.why": "En anmeldelse inden for 72 timer er en betingelse for offererstatning.",
    "category.threat": "trussel",
    "category.private_info": "private oplysninger",
    "category.accusation": "beskyldning om forbrydelse",
    "category.insult": "grov fornærmelse",
    "category.criticism": "kritik",
    "footer": "Sendt af Værn for {organisation}. Du får denne e-mail, fordi du er leder for eller "
    "skal underrettes om medarbejdere i {units}.",
    "footer.analyst": "Sendt af Værn for {organisation} til analytikerne.",
    "footer.fallback": "Sendt af Værn for {organisation}: fund om medarbejdere uden en enhed.",
    "unit_none": "ingen enhed",
    "score": "score",
    "list_capped": "Listen viser de første {shown} af {total}; resten er i Værn.",
}

_EN: dict[str, str] = {
    "greeting": "Dear {name}",
    "greeting_anonymous": "Hello",
    "intro.new_hit": "Værn has found {n_hits} new mentions of employees in your unit on the sites it watches. "
    "Each hit says whether its evidence has been secured.",
    "intro.new_hit.one": "Værn has found a new mention of an employee in your unit on a site it watches.",
    "intro.update": "The page has changed and still names the employee. Here is the new text.",
    "intro.removed": "The page is gone or no longer names the employee. What Værn secured is kept in Værn.",
    "intro.reminder": "This hit has not been handled yet (neither confirmed nor dismissed) in Værn. "
    "Mind the deadline for a police report.",
    "intro.digest": "Today's list of possible hits for an analyst to look at: {n_hits}.",
    "subject.new_hit.one": "Værn: {person} named on {site}",
    "subject.new_hit.many": "Værn: {n_hits} new hits about {people}",
    "subject.update": "Værn: the page about {person} on {site} has changed",
    "subject.removed": "Værn: the page about {person} on {site} has been removed",
    "subject.reminder": "Værn: reminder – hit about {person} not handled",
    "subject.digest": "Værn: daily digest – {n_hits} possible hits",
    "and_more": "and {n} more",
    "who": "Who",
    "where": "Where",
    "first_seen": "First seen",
    "removed_at": "Removed",
    "categories": "Kind",
    "no_categories": "not classified",
    "excerpt": "Excerpt",
    "confidence": "Confidence",
    "confidence.high": "high",
    "confidence.possible": "possible – needs checking",
    "open": "Open the hit in Værn",
    "screenshot": "Screenshot of the page",
    "evidence": "Evidence",
    "evidence.secured": "secured in Værn: a screenshot of the whole page, its HTML and network traffic, with hashes.",
    "evidence.incomplete": "COULD NOT BE SECURED IN FULL. The stored picture of the page does not show the mention "
    "({reason}). Secure the page by hand now: take a screenshot of the whole post and note its address and the time.",
    "evidence.missing": "COULD NOT BE SECURED. Værn has stored no picture of the page that shows the mention. "
    "Secure the page by hand now: take a screenshot of the whole post and note its address and the time.",
    "steps": "Recommended next steps",
    "step.always": "Talk to the employee and offer support. Consider registering it as a work injury.",
    "step.threat": "Threat: consider reporting the post to the police.",
    "step.private_info": "Private data: complain to Datatilsynet (the Danish Data Protection Agency) and ask "
    "the author or the platform to take the post down.",
    "step.accusation": "Accusation of a crime: consider a police report for defamation.",
    "step.insult": "Gross insult: ask the author or the platform to take the post down.",
    "step.criticism": "Criticism is usually lawful and must be tolerated: support the employee and keep watching.",
    "deadline": "Deadline for a police report: {due}",
    "deadline.posted": "72 hours from the time the page gives for the post: {since}.",
    "deadline.posted_day": "72 hours from the start of the day the page gives for the post: {since}.",
    "deadline.posted_relative": "72 hours from the time of the post, {since} (the page said “{source}” when Værn fetched it).",
    "deadline.first_seen": "The page shows no date for the post, so the deadline counts from when Værn first saw "
    "it ({since}). The post may be older.",
    "deadline.passed": "The deadline has passed.",
    "deadline.why": "A report within 72 hours is a condition for victim compensation.",
    "category.threat": "threat",
    "category.private_info": "private data",
    "category.accusation": "accusation of a crime",
    "category.insult": "gross insult",
    "category.criticism": "criticism",
    "footer": "Sent by Værn for {organisation}. You receive this e-mail because you lead, or are to be told "
    "about, employees in {units}.",
    "footer.analyst": "Sent by Værn for {organisation} to the analysts.",
    "footer.fallback": "Sent by Værn for {organisation}: hits about employees without a unit.",
    "unit_none": "no unit",
    "score": "score",
    "list_capped": "The list shows the first {shown} of {total}; the rest are in Værn.",
}

_DA_MONTHS = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)  # fmt: skip
_DA_DAYS = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Wording:
    """The texts of one language, with its way of writing dates."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._texts = _EN if language == "en" else _DA
        # The texts without placeholders, for the templates to look up directly.
        self.labels = {k: v for k, v in self._texts.items() if "{" not in v}

    def __call__(self, key: str, **values: object) -> str:
        return self._texts[key].format(**values)

    def category(self, name: str) -> str:
        return self._texts.get(f"category.{name}", name)

    def steps(self, categories: list[str]) -> list[str]:
        ordered = [c for c in CATEGORY_ORDER if c in categories]
        return [self._texts[f"step.{c}"] for c in ordered] + [self._texts["step.always"]]

    def when(self, local: datetime, *, weekday: bool = False, clock: bool = True) -> str:
        """'torsdag 12. november 2026 kl. 14:03' / 'Thursday 12 November 2026, 14:03'."""
        if self.language == "en":
            text = f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year}"
            text = f"{_EN_DAYS[local.weekday()]} {text}" if weekday else text
            return f"{text}, {local:%H:%M}" if clock else text
        text = f"{local.day}. {_DA_MONTHS[local.month - 1]} {local.year}"
        text = f"{_DA_DAYS[local.weekday()]} {text}" if weekday else text
        return f"{text} kl. {local:%H:%M}" if clock else text
