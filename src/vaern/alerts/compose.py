"""Turn one outbox alert and its hits into an e-mail a leader can act on.

Each hit says who, where (site and URL), when it was first seen, what kind of post it is, an
excerpt with the name marked, a thumbnail of the evidence screenshot (inline, as a CID part),
a link to the hit in the review app (`{review_url}/hits/h-000123`), the next steps for its
categories and the police deadline (72 hours from the earliest time known for the post).
Plain text and HTML parts, in `language` (da default, en). Header values are stripped of
control characters, so a page title or a name holding CR/LF cannot add headers.

Controlled by `language`, `timezone`, `review_url`, `organisation`, `smtp.sender`,
`alerts.thumbnails` and `archive`/`evidence.store` (screenshots are read through the archive).
"""

from __future__ import annotations

import email
import email.policy
import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from vaern import ids
from vaern.alerts import mime
from vaern.alerts.postdate import Deadline, PostTime, find_posted_at, parse_post_time, police_deadline
from vaern.alerts.routing import DIGEST, NEW_HIT, routing_table, scope
from vaern.config import Config
from vaern.errors import ArchiveError
from vaern.matchers.assess.privatedata import mask
from vaern.matchers.assess.severity import police_fits, rank
from vaern.storage.archive import Archive, ArchivedFile
from vaern.storage.authors import AuthoredHit
from vaern.storage.tables import AlertRow, HitRow, PageRow, SnapshotRow
from vaern.storage.thumbnails import Thumbnails
from vaern.words import Words

log = logging.getLogger(__name__)

DIGEST_MAX_HITS = 200
_MAY_HOLD_DATE = re.compile(r"\d|går|gårs|dag|siden|ago|yesterday|today", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def header_safe(value: str, limit: int = 200) -> str:
    """One line of text fit for a header: control characters (CR, LF, …) become spaces."""
    text = " ".join(_CONTROL.sub(" ", value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Evidence:
    """What compose needs to know about a hit's page besides the hit row."""

    title: str | None = None
    screenshot: ArchivedFile | None = None
    text: ArchivedFile | None = None
    captured_at: datetime | None = None
    # The newest snapshot that should show the mention (not a removal's): complete or not, and
    # why not. None: there is none.
    complete: bool | None = None
    incomplete_reason: str | None = None


def load_evidence(session: Session, config: Config, hits: Sequence[HitRow],
                  archive: Archive | None = None) -> dict[int, Evidence]:
    """page id -> the newest snapshot's screenshot and text (read through the archive when
    needed), and the page title."""
    page_ids = sorted({h.page_id for h in hits})
    if not page_ids:
        return {}
    if archive is None:
        from vaern.storage.stamping import archive_for

        archive = archive_for(config)
    titles = {
        page_id: title
        for page_id, title in session.execute(select(PageRow.id, PageRow.title).where(PageRow.id.in_(page_ids)))
    }
    newest: dict[int, SnapshotRow] = {}
    showing: dict[int, SnapshotRow] = {}  # the newest that should show the mention (not a removal's)
    for snap in session.scalars(
        select(SnapshotRow).where(SnapshotRow.page_id.in_(page_ids)).order_by(SnapshotRow.captured_at, SnapshotRow.id)
    ):
        newest[snap.page_id] = snap
        if snap.reason != "removed":
            showing[snap.page_id] = snap
    out: dict[int, Evidence] = {}
    for page_id in page_ids:
        found = newest.get(page_id)
        files = found.files if found is not None else {}
        shows = showing.get(page_id)
        out[page_id] = Evidence(
            title=titles.get(page_id),
            screenshot=ArchivedFile.of(archive, files.get("screenshot")),
            text=ArchivedFile.of(archive, files.get("text")),
            captured_at=found.captured_at if found is not None else None,
            complete=bool(shows.complete) if shows is not None else None,
            incomplete_reason=shows.incomplete_reason if shows is not None else None,
        )
    return out


def evidence_state(hit: HitRow, evidence: Evidence | None) -> tuple[str, str | None]:
    """Whether the hit's evidence is "secured", "incomplete" (with the reason) or "missing".

    Secured only when the newest snapshot that should show the mention is complete and the hit
    owes nothing more (a change since, not yet secured, is missing); never otherwise."""
    if evidence is None or evidence.complete is None:
        return "missing", None
    if not evidence.complete:
        return "incomplete", evidence.incomplete_reason
    if hit.evidence_owed and hit.evidence_reason != "removed":
        return "missing", None
    return "secured", None


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("vaern.alerts", "templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # packaged templates do not change while running; no stat per e-mail
    )


@dataclass(frozen=True)
class HitView:
    """One hit as the templates show it."""

    ref: str
    link: str
    person: str
    person_title: str | None
    unit: str
    site: str
    url: str
    page_title: str | None
    first_seen: str
    removed_at: str | None
    categories: list[str]
    excerpt: list[tuple[str, bool]]  # (text, is the name)
    confidence: str
    score: float
    steps: list[str]
    deadline: str
    deadline_basis: str
    deadline_passed: bool
    thumbnail_cid: str | None
    evidence_state: str = "missing"  # secured | incomplete | missing (never said to be secured unless it is)
    evidence: str = ""  # the sentence about it
    severity: str = ""  # in words ("KRITISK"); empty for a hit from before assessments
    severity_code: str = ""
    passage: str | None = None  # the gravest passage about the person, private data masked
    passage_category: str | None = None
    private_data: tuple[str, ...] = ()  # "adresse: L••••••• ••"
    found_by: tuple[str, ...] = ()  # how mentions other than the written name were found
    police: bool = True  # does a report to the police (and so the deadline) fit?
    author: str | None = None  # who wrote the post, where the page says
    author_history: str | None = None  # how often they named the staff before, as the recipient may know


def mark_names(excerpt: str, matched: Sequence[str]) -> list[tuple[str, bool]]:
    """Split `excerpt` into (text, is-a-name) runs, marking each matched form of the name."""
    forms = sorted({m for m in matched if m and m.strip()}, key=len, reverse=True)
    if not forms or not excerpt:
        return [(excerpt, False)] if excerpt else []
    lowered = excerpt.lower()
    if len(lowered) != len(excerpt):  # a character whose lower case is longer: let re handle it
        return _mark_with_re(excerpt, forms)
    needles = [f.lower() for f in forms]
    parts: list[tuple[str, bool]] = []
    pos = 0
    while True:
        found = [(at, -len(n)) for n in needles if (at := lowered.find(n, pos)) >= 0]
        if not found:
            break
        at, minus = min(found)
        if at > pos:
            parts.append((excerpt[pos:at], False))
        parts.append((excerpt[at : at - minus], True))
        pos = at - minus
    if pos < len(excerpt):
        parts.append((excerpt[pos:], False))
    return parts


def _mark_with_re(excerpt: str, forms: list[str]) -> list[tuple[str, bool]]:
    pattern = re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(excerpt):
        if m.start() > pos:
            parts.append((excerpt[pos : m.start()], False))
        parts.append((m.group(0), True))
        pos = m.end()
    if pos < len(excerpt):
        parts.append((excerpt[pos:], False))
    return parts


def posted_time(config: Config, hit: HitRow, evidence: Evidence | None) -> PostTime | None:
    """The date the page gives for the post: from the snapshot's text near the gravest passage
    (the incident), else near the name, else from the excerpt."""
    if evidence is not None and evidence.text is not None and evidence.captured_at is not None:
        try:
            text = evidence.text.read().decode("utf-8", errors="replace")
        except (OSError, ArchiveError):
            text = ""
        lowered = text.lower()
        for form, is_passage in _passage_forms(hit):
            if is_passage:
                # The passage's white space was made single spaces; the page's text has line breaks.
                spaced = re.search(r"\s+".join(re.escape(w) for w in form.split()), text, re.IGNORECASE)
                at, end = (spaced.start(), spaced.end()) if spaced else (-1, -1)
            else:
                at = lowered.find(form.lower()) if form else -1
                end = at + len(form)
            if at >= 0:
                # A passage may open with its post's header ("x skrev 19/11/2026 13:01: …"):
                # a date inside the passage's start is its post's own.
                begin = end if is_passage else at
                found = find_posted_at(text, begin, end, evidence.captured_at, config.timezone)
                if found is not None:
                    return found
    excerpt = hit.excerpt or ""
    if not _MAY_HOLD_DATE.search(excerpt):
        return None  # most excerpts name no time at all: skip the date patterns
    return parse_post_time(excerpt, hit.first_seen, config.timezone)


def _passage_forms(hit: HitRow) -> list[tuple[str, bool]]:
    """What to look for in the page's text to find the post, each with whether it is the
    passage: the start of the gravest passage (up to its first masked item), then each written
    form of the name."""
    forms: list[tuple[str, bool]] = []
    passage = hit.passage if isinstance(hit.passage, dict) else None
    if passage and isinstance(passage.get("text"), str):
        start = passage["text"].split("•", 1)[0].rstrip("…").strip()
        if len(start) >= 12:
            forms.append((start[:80], True))
    return forms + [(str(f), False) for f in hit.matched_text or []]


# The order the recommended next steps are given in, most urgent first.
CATEGORY_ORDER = ("threat", "private_info", "incitement", "accusation", "insult", "criticism")


def next_steps(words: Words, categories: Sequence[str]) -> list[str]:
    """The recommended next steps for a hit's categories, then what is always recommended.

    They follow the guidance Danish workplaces use for digital harassment of employees: threats
    and accusations of crimes may be reported to the police (within 72 hours of the incident, a
    condition for victim compensation); published private data is a matter for Datatilsynet and a
    takedown request; gross insults call for a takedown request; criticism is usually lawful and
    must be tolerated, so support the employee and keep watching.
    """
    return [words(f"step.{c}") for c in CATEGORY_ORDER if c in categories] + [words("step.always")]


def deadline_of(session: Session, config: Config, hit: HitRow) -> Deadline:
    """A hit's police deadline as its e-mails count it: 72 hours from the date the page gives the
    post, else from when Værn first saw it (the review app shows the same)."""
    evidence = load_evidence(session, config, [hit]).get(hit.page_id)
    return police_deadline(hit.first_seen, posted_time(config, hit, evidence), hit.posted_at, hit.posted_source)


def police_fits_hit(hit: HitRow) -> bool:
    """Does a report to the police fit this hit? A hit from before assessments is given the
    deadline as it always was."""
    if hit.severity is None:
        return True
    kinds = [str(item.get("kind")) for item in hit.private_data or [] if isinstance(item, dict)]
    return police_fits([str(c) for c in hit.categories or []], kinds)


class Composer:
    """Builds the e-mails of one dispatch pass (shares thumbnails between recipients)."""

    def __init__(self, config: Config, thumbnails: Thumbnails | None = None) -> None:
        self.config = config
        self.words = Words(config.language).section("mail")
        self.tz = ZoneInfo(config.timezone)
        self.thumbnails = thumbnails if thumbnails is not None else Thumbnails(blur=config.review.safe_view)
        self._views: dict[tuple[int, datetime, datetime, bool], HitView] = {}
        sender = parseaddr(header_safe(config.smtp.sender))
        self.sender_name = sender[0] or "Værn"
        self.sender_address = sender[1]
        # What is the same in every e-mail of the pass, or of one recipient, is made once.
        self._from: bytes | None = None
        self._date: tuple[datetime, bytes] | None = None
        self._recipients: dict[tuple[str, str | None, str], tuple[bytes, str, str]] = {}
        self._earlier: dict[int, list[AuthoredHit]] = {}
        env = _templates()
        self._text = env.get_template("alert.txt.j2")
        self._html = env.get_template("alert.html.j2")

    def _local(self, utc_naive: datetime) -> datetime:
        return utc_naive.replace(tzinfo=UTC).astimezone(self.tz).replace(tzinfo=None)

    def _when(self, utc_naive: datetime, **kw: bool) -> str:
        return self.words.when(self._local(utc_naive), **kw)

    def _deadline_text(self, deadline: Deadline) -> str:
        w = self.words
        if deadline.basis == "stated":
            source_key = f"deadline.source.{deadline.source}"
            source = w(source_key) if source_key in w else (deadline.source or "")
            return w("deadline.stated", since=self._when(deadline.since), source=source)
        if deadline.basis == "posted":
            local = self._local(deadline.since)
            day_only = local.hour == 0 and local.minute == 0 and ":" not in (deadline.source_text or "")
            key = "deadline.posted_day" if day_only else "deadline.posted"
            key = "deadline.posted_relative" if deadline.relative else key
            since = self._when(deadline.since, clock=not day_only)
            return w(key, since=since, source=header_safe(deadline.source_text or "", 80))
        return w("deadline.first_seen", since=self._when(deadline.since))

    def view(self, hit: HitRow, evidence: Evidence | None, now: datetime, with_thumbnail: bool) -> HitView:
        """A hit as the templates show it (made once per pass: a hit often goes to several people)."""
        key = (hit.id, hit.last_seen, now, with_thumbnail)
        found = self._views.get(key)
        if found is None:
            found = self._views[key] = self._view(hit, evidence, now, with_thumbnail)
        return found

    def _view(self, hit: HitRow, evidence: Evidence | None, now: datetime, with_thumbnail: bool) -> HitView:
        config, w = self.config, self.words
        index = routing_table(config)
        person = index.people.get(hit.person_id)
        unit = index.units.get(person.unit) if person is not None and person.unit else None
        site = index.sites.get(hit.site_id)
        site_label = site.label if site is not None else hit.site_id
        deadline = police_deadline(hit.first_seen, posted_time(config, hit, evidence), hit.posted_at, hit.posted_source)
        passage = hit.passage if isinstance(hit.passage, dict) else None
        passage_category = str(passage.get("category")) if passage and passage.get("category") else None
        cid = None
        if with_thumbnail and evidence is not None and evidence.screenshot is not None:
            if self.thumbnails.get(evidence.screenshot.read, evidence.screenshot.sha256) is not None:
                cid = f"thumb.{ids.hit(hit.id)}@vaern"
        categories = [str(c) for c in hit.categories or []]
        state, why = evidence_state(hit, evidence)
        why_short = header_safe(why.split(": ", 1)[-1], 300) if why else ""
        return HitView(
            ref=ids.hit(hit.id),
            link=f"{config.review_url}/hits/{ids.hit(hit.id)}",
            person=person.name if person is not None else hit.person_id,
            person_title=person.title if person is not None else None,
            unit=unit.name if unit is not None else w("unit_none"),
            site=site_label,
            url=hit.url,
            page_title=header_safe(evidence.title, 300) if evidence and evidence.title else None,
            first_seen=self._when(hit.first_seen),
            removed_at=self._when(hit.removed_at) if hit.removed_at else None,
            categories=[w(f"category.{c}") if f"category.{c}" in w else c for c in categories],
            # Private data is never repeated in an e-mail: the excerpt is masked like the passage.
            excerpt=mark_names(mask(hit.excerpt or ""), [str(m) for m in hit.matched_text or []]),
            confidence=w(f"confidence.{hit.confidence}") if hit.confidence in ("high", "possible") else hit.confidence,
            score=round(float(hit.score), 1),
            steps=next_steps(w, categories),
            deadline=w("deadline", due=self._when(deadline.due, weekday=True)),
            deadline_basis=self._deadline_text(deadline),
            deadline_passed=deadline.due <= now,
            thumbnail_cid=cid,
            evidence_state=state,
            evidence=w(f"evidence.{state}", reason=why_short),
            severity=w(f"severity.{hit.severity}") if hit.severity else "",
            severity_code=hit.severity or "",
            passage=str(passage["text"]) if passage and passage.get("text") else None,
            passage_category=w(f"category.{passage_category}") if passage_category else None,
            private_data=tuple(
                f"{w('private.' + str(item.get('kind')))}: {item.get('masked')}"
                if item.get("masked") != item.get("kind") and item.get("kind") not in ("whereabouts", "family", "photo")
                else w("private." + str(item.get("kind")))
                for item in hit.private_data or []
                if isinstance(item, dict) and f"private.{item.get('kind')}" in w
            ),
            found_by=tuple(w(f"found.{f}") for f in hit.found or [] if f != "text" and f"found.{f}" in w),
            police=police_fits_hit(hit),
            author=header_safe(hit.author, 200) if hit.author else None,
        )

    def remember_authors(self, earlier: dict[int, list[AuthoredHit]]) -> None:
        """What each hit's author wrote before it (storage/authors.py `earlier_hits`), for the
        e-mails of this pass; each recipient is told only of hits in units they may hear about."""
        self._earlier.update(earlier)

    def _author_history(self, hit: HitRow, view: HitView, recipient: str) -> str | None:
        if view.author is None:
            return None
        units = scope(self.config, recipient)
        seen = [h for h in self._earlier.get(hit.id, []) if h.unit_id in units]
        if not seen:
            return None
        last = self._when(max(h.first_seen for h in seen))
        key = "author_history.one" if len(seen) == 1 else "author_history.many"
        return self.words(key, author=view.author, n=len(seen), people=len({h.person_id for h in seen}), last=last)

    def subject(self, alert: AlertRow, views: list[HitView]) -> str:
        """The subject line: for a leader's alert it starts with the gravest severity in words."""
        subject = self._subject(alert, views)
        graded = [v for v in views if v.severity_code]
        if alert.kind == DIGEST or not graded:
            return subject
        gravest = min(graded, key=lambda v: rank(v.severity_code))
        return f"{gravest.severity}: {subject}"

    def _subject(self, alert: AlertRow, views: list[HitView]) -> str:
        w = self.words
        first = views[0]
        if alert.kind == DIGEST:
            return w("subject.digest", n_hits=len(views))
        if alert.kind == NEW_HIT:
            if len(views) == 1:
                cats = f" ({', '.join(first.categories)})" if first.categories else ""
                return w("subject.new_hit.one", person=first.person, site=first.site) + cats
            names = list(dict.fromkeys(v.person for v in views))
            shown = ", ".join(names[:3]) + (f" {w('and_more', n=len(names) - 3)}" if len(names) > 3 else "")
            return w("subject.new_hit.many", n_hits=len(views), people=shown)
        return w(f"subject.{alert.kind}", person=first.person, site=first.site)

    def _from_header(self) -> bytes:
        if self._from is None:
            self._from = mime.address_header("From", header_safe(self.sender_name), self.sender_address)
        return self._from

    def _date_header(self, now: datetime) -> bytes:
        if self._date is None or self._date[0] != now:
            self._date = (now, mime.raw_header("Date", format_datetime(now.replace(tzinfo=UTC))))
        return self._date[1]

    def _recipient(self, alert: AlertRow) -> tuple[bytes, str, str]:
        """The To header, the greeting and the footer (which names the units the recipient hears
        about), made once per recipient and kind."""
        key = (alert.recipient, alert.recipient_name, alert.kind)
        found = self._recipients.get(key)
        if found is not None:
            return found
        config, w = self.config, self.words
        to = mime.address_header("To", header_safe(alert.recipient_name or ""), header_safe(alert.recipient))
        greeting = w("greeting", name=alert.recipient_name) if alert.recipient_name else w("greeting_anonymous")
        units = sorted(u for u in scope(config, alert.recipient) if u is not None)
        named = routing_table(config).units
        unit_names = ", ".join(named[u].name if u in named else u for u in units)
        if alert.kind == DIGEST:
            footer = w("footer.analyst", organisation=config.organisation)
        elif not units:
            footer = w("footer.fallback", organisation=config.organisation)
        else:
            footer = w("footer", organisation=config.organisation, units=unit_names)
        found = self._recipients[key] = (to, greeting, footer)
        return found

    def message_bytes(
        self, alert: AlertRow, hits: Sequence[HitRow], evidence: dict[int, Evidence], now: datetime
    ) -> bytes:
        """The e-mail for `alert` as it goes on the wire; `hits` are its hits, `evidence` by page id."""
        if not hits:
            raise ValueError(f"alert {ids.alert(alert.id)} has no hits")
        config, w = self.config, self.words
        total = len(hits)
        shown_hits = list(hits)[:DIGEST_MAX_HITS] if alert.kind == DIGEST else list(hits)
        thumbs = config.alerts.thumbnails and alert.kind != DIGEST
        views = [self.view(h, evidence.get(h.page_id), now, thumbs) for h in shown_hits]
        views = [replace(v, author_history=self._author_history(h, v, alert.recipient))
                 for v, h in zip(views, shown_hits, strict=True)]

        to, greeting, footer = self._recipient(alert)
        intro_key = f"intro.{alert.kind}" + (".one" if alert.kind == NEW_HIT and total == 1 else "")
        context = {
            "t": w.labels,
            "kind": alert.kind,
            "greeting": greeting,
            "intro": w(intro_key, n_hits=total),
            "hits": views,
            "capped": w("list_capped", shown=len(views), total=total) if len(views) < total else None,
            "footer": footer,
            "organisation": config.organisation,
            "review_url": config.review_url,
            "lang": config.language,
        }
        text = self._text.render(context)
        html = self._html.render(context)

        images = []
        for view, hit in zip(views, shown_hits, strict=True):
            ev = evidence.get(hit.page_id)
            if view.thumbnail_cid and ev is not None and ev.screenshot is not None:
                data = self.thumbnails.get(ev.screenshot.read, ev.screenshot.sha256)
                if data is not None:
                    images.append(mime.InlineImage(view.thumbnail_cid, data, f"{view.ref}.jpg"))
        headers = [
            mime.text_header("Subject", header_safe(self.subject(alert, views))),
            self._from_header(),
            to,
            self._date_header(now),
        ]
        if alert.message_id:
            headers.append(mime.raw_header("Message-ID", header_safe(alert.message_id)))
        headers += [
            mime.raw_header("Auto-Submitted", "auto-generated"),
            mime.raw_header("X-Vaern-Alert", ids.alert(alert.id)),
            mime.raw_header("X-Vaern-Kind", alert.kind),
        ]
        return mime.build(headers, text, html, images)

    def compose(
        self, alert: AlertRow, hits: Sequence[HitRow], evidence: dict[int, Evidence], now: datetime
    ) -> EmailMessage:
        """The same e-mail, parsed back into an EmailMessage (to read it; sending uses the bytes)."""
        parsed = email.message_from_bytes(self.message_bytes(alert, hits, evidence, now), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed
