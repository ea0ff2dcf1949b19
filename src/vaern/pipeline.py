"""What happens to each fetched page: match, store hits, decide what needs evidence, queue alerts.

`PagePipeline` is the crawler's `PageSink`. Each page is one database transaction: the page row,
its hits and their alert rows commit together or not at all, so a crash mid-crawl loses at most
the page in hand and never leaves a hit without its alert.

A page's title, its text and the text read in its images are matched as fields of their own
(`assess_page`); each mention records its field, and its offsets, excerpt and sentence are taken
from that field. The assessment (matchers/assess) adds the mentions found in context and gives
each person's hit its categories, severity, gravest passage and private data; the post's date,
where the page's markup states one, is kept on the hit for the police deadline. A mention in the text
of a rendered page also records the post or comment it is in (`Page.posts`): its permalink and
its place among the page's posts, in the hit's `why` and in the evidence's `matches`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session, sessionmaker

from vaern import clock
from vaern.config import Config, Site
from vaern.domain import CaptureRequest, FetchFailure, MatchedName, Mention, Page, Post, post_for
from vaern.matchers import NameIndex
from vaern.matchers.assess import Assessor, PersonAssessment, merge
from vaern.matchers.assess.context import is_pronoun
from vaern.matchers.assess.dating import StatedDate, date_for, stated_dates
from vaern.storage.db import transaction
from vaern.storage.failures import record_failure
from vaern.storage.queries import hits_on_page, page_by_url
from vaern.storage.tables import CrawlRunRow, HitRow, PageRow

EXCERPT_CHARS = 90
# `_count`'s names for the run row's page counters (other counters are named as their columns).
_PAGE_COUNTERS = {"fetched": "pages_fetched", "unchanged": "pages_unchanged", "failed": "pages_failed"}

# Called with the hits that changed in a transaction, inside it: (session, hits, kind, run_id).
AlertQueue = Callable[[Session, Sequence[HitRow], str, int], None]


class Found(NamedTuple):
    """A mention and the field of the page it is in: `field` is "title" or "text", and the
    mention's offsets are into that field's `text`; `post` is the post of the text it is in."""

    field: str
    text: str
    mention: Mention
    post: Post | None = None
    image: str | None = None  # the image's address, for a mention in text read from an image

    def where(self) -> dict[str, object]:
        """The field and the offsets of the mention, how it was found, and its post where it has
        one (for `why` and the evidence's `matches`)."""
        out: dict[str, object] = {
            "field": self.field, "start": self.mention.start, "end": self.mention.end, "found": self.mention.found,
        }
        if self.mention.why:
            out["reason"] = list(self.mention.why)
        if self.image is not None:
            out["image"] = self.image
        if self.post is not None:
            out["post"] = self.post.permalink
            out["post_index"] = self.post.index
        return out


def find_mentions(index: NameIndex, page: Page) -> list[Found]:
    """The mentions in the page's title and in its text, each field matched on its own.

    A title is not the first line of the text: glued together, a title ending in a name part
    ("Sandheden om René") and a text starting with the name ("René Rosenkilde er …") read as
    one run of names. Title mentions come first, as the title comes first on the page.
    """
    return [
        Found(name, text, m, post_for(page.posts, m.start) if name == "text" else None)
        for name, text in (("title", page.title), ("text", page.text))
        if text
        for m in index.find(text)
    ]


def assess_page(index: NameIndex, assessor: Assessor, page: Page) -> tuple[list[Found], dict[str, PersonAssessment]]:
    """The page's mentions (those found by context included) and, per person, what the page
    says about them: each field read on its own, the gravest reading of the two kept."""
    found: list[Found] = []
    judged: dict[str, PersonAssessment] = {}
    for name, text in (("title", page.title), ("text", page.text)):
        if not text:
            continue
        posts = page.posts if name == "text" else ()
        result = assessor.assess(text, posts, index.find(text))
        found += [Found(name, text, m, post_for(posts, m.start) if posts else None) for m in result.mentions]
        for person, reading in result.of_person.items():
            judged[person] = merge(judged[person], reading) if person in judged else reading
    # Text read in the page's images (crawler/ocr.py): matched like the page's text, each
    # mention marked as found in an image and holding the image's address.
    for image in page.images:
        result = assessor.assess(image.text, (), index.find(image.text))
        found += [
            Found("image", image.text, dataclasses.replace(m, found="image"), None, image.url)
            for m in result.mentions
        ]
        for person, reading in result.of_person.items():
            judged[person] = merge(judged[person], reading) if person in judged else reading
    return found, judged


def excerpt(text: str, mention: Mention, width: int = EXCERPT_CHARS) -> str:
    """The words around a mention, on one line, cut at word boundaries, with … where cut."""
    start = max(0, mention.start - width)
    end = min(len(text), mention.end + width)
    if start > 0:
        space = text.find(" ", start, mention.start)
        start = space + 1 if space != -1 else start
    if end < len(text):
        space = text.rfind(" ", mention.end, end)
        end = space if space != -1 else end
    body = " ".join(text[start:end].split())
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")


def _assessed(reading: PersonAssessment | None) -> dict[str, Any]:
    """A hit's fields from the page's reading of its person."""
    if reading is None:
        return {"categories": [], "severity": "none", "passage": None, "private_data": []}
    passage = (
        {"text": reading.passage, "category": reading.passage_category} if reading.passage is not None else None
    )
    return {
        "categories": list(reading.categories), "severity": reading.severity, "passage": passage,
        "private_data": reading.private_rows(),
    }


def _dated(
    dates: Sequence[StatedDate], text: str, of_person: Sequence[Found], reading: PersonAssessment | None
) -> dict[str, Any]:
    """The date the page's markup states for the post with the gravest passage about the person
    (else the post that first names them), and its source."""
    in_text = [f.mention.start for f in of_person if f.field == "text"]
    at = reading.passage_at if reading is not None and reading.passage_at is not None else min(in_text, default=None)
    stated = date_for(list(dates), text, at) if at is not None and dates else None
    if stated is None:
        return {"posted_at": None, "posted_source": None}
    return {"posted_at": stated.when, "posted_source": stated.source}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_SENTENCE_END = re.compile(r"[.!?\n]")


def sentence(text: str, mention: Mention) -> str:
    """The sentence holding a mention (whitespace-normalised), to tell a real change from page noise."""
    starts = [m.end() for m in _SENTENCE_END.finditer(text, 0, mention.start)]
    start = starts[-1] if starts else 0
    end_match = _SENTENCE_END.search(text, mention.end)
    end = end_match.end() if end_match else len(text)
    return " ".join(text[start:end].split())


class PagePipeline:
    """Receives pages from one site's crawl and records what they mean."""

    def __init__(
        self,
        config: Config,
        site: Site,
        sessions: sessionmaker[Session],
        index: NameIndex,
        run_id: int,
        queue_alerts: AlertQueue | None = None,
    ) -> None:
        self.config = config
        self.site = site
        self.sessions = sessions
        self.index = index
        self.run_id = run_id
        self.queue_alerts = queue_alerts
        self.units = {p.id: p.unit for p in config.people}
        self.names = {p.id: p.name for p in config.people}
        self.assessor = Assessor(index)
        # The pages to secure as evidence once the crawl is done (app.secure_evidence).
        self.evidence: list[CaptureRequest] = []

    # -- PageSink -------------------------------------------------------------------------

    def page(self, page: Page) -> None:
        found, judged = assess_page(self.index, self.assessor, page)
        dates = stated_dates(page.body, self.config.timezone)
        by_person: dict[str, list[Found]] = defaultdict(list)
        for f in found:
            by_person[f.mention.person].append(f)
        now = clock.utcnow()
        with transaction(self.sessions) as session:
            row = self._page_row(session, page, status="ok")
            existing = {h.person_id: h for h in hits_on_page(session, row.id)}
            new_hits: list[HitRow] = []
            updated: list[HitRow] = []
            for person_id, of_person in by_person.items():
                hit = existing.get(person_id)
                mentions = [f.mention for f in of_person]
                best = max(of_person, key=lambda f: (f.mention.confidence == "high", f.mention.score))
                fields = {
                    "confidence": "high" if any(m.confidence == "high" for m in mentions) else "possible",
                    "score": best.mention.score,
                    "variant": best.mention.variant,
                    # The forms of the name itself; pronouns found in context are in `why` only.
                    "matched_text": sorted({m.matched for m in mentions if not is_pronoun(m)}),
                    "why": [
                        {"variant": f.mention.variant, "compared": list(f.mention.compared), "score": f.mention.score,
                         "confidence": f.mention.confidence, **f.where()}
                        for f in of_person
                    ],
                    "excerpt": excerpt(best.text, best.mention),
                    "context_hash": text_hash("\n".join(sorted({sentence(f.text, f.mention) for f in of_person}))),
                    "found": sorted({m.found for m in mentions}),
                    **_assessed(judged.get(person_id)),
                    **_dated(dates, page.text, of_person, judged.get(person_id)),
                }
                if hit is None:
                    hit = HitRow(
                        person_id=person_id, unit_id=self.units.get(person_id), page_id=row.id,
                        site_id=self.site.id, url=row.url, status="new", first_seen=now, last_seen=now,
                        first_run_id=self.run_id, **fields,
                    )
                    session.add(hit)
                    new_hits.append(hit)
                else:
                    renamed = hit.context_hash != fields["context_hash"] or hit.status == "removed"
                    for key, value in fields.items():
                        setattr(hit, key, value)
                    hit.last_seen = now
                    if hit.status == "removed":
                        hit.status, hit.removed_at = "new", None
                    if renamed:
                        updated.append(hit)
            # A changed page that no longer names someone it named before: that hit is removed.
            removed = [h for pid, h in existing.items() if pid not in by_person and h.status != "removed"]
            for hit in removed:
                hit.status, hit.removed_at = "removed", now
            session.flush()
            self._count(session, hits_new=len(new_hits), hits_seen=len(existing) - len(removed))
            self._queue(session, new_hits, "new_hit")
            self._queue(session, updated, "update")
            self._queue(session, removed, "removed")
            reason = "hit" if new_hits else "update" if updated else "removed" if removed else None
            if reason:
                matches = tuple(self._matched(f) for f in found)
                self._owe_evidence(page.url, reason, page.body, page.status, matches, row.id)

    def unchanged(self, url: str) -> None:
        # Plain UPDATE statements, no objects loaded: on a second crawl nearly every page comes
        # here, and the ORM's load-modify-flush was most of what such a crawl cost.
        now = clock.utcnow()
        with transaction(self.sessions) as session:
            page_id = session.execute(
                update(PageRow)
                .where(PageRow.site_id == self.site.id, PageRow.url == url)
                .values(last_fetched_at=now)
                .returning(PageRow.id)
                .execution_options(synchronize_session=False)
            ).scalar()
            seen = 0
            if page_id is not None:
                touched = session.execute(
                    update(HitRow)
                    .where(HitRow.page_id == page_id, HitRow.status != "removed")
                    .values(last_seen=now)
                    .execution_options(synchronize_session=False)
                )
                seen = cast(CursorResult[Any], touched).rowcount
            self._count(session, unchanged=1, hits_seen=seen)

    def gone(self, url: str, status: int) -> None:
        now = clock.utcnow()
        with transaction(self.sessions) as session:
            row = page_by_url(session, self.site.id, url)
            if row is None:
                self._count(session, failed=1)
                return
            row.status, row.http_status, row.last_fetched_at = "gone", status, now
            removed = [h for h in hits_on_page(session, row.id) if h.status != "removed"]
            for hit in removed:
                hit.status, hit.removed_at = "removed", now
            session.flush()
            self._queue(session, removed, "removed")
            self._count(session, fetched=1)
            if removed:
                self._owe_evidence(url, "removed", None, status, (), row.id)

    def failed(self, failure: FetchFailure) -> None:
        with transaction(self.sessions) as session:
            self._count(session, failed=1)
            record_failure(session, self.run_id, failure, start_url=failure.url in self.site.start_urls)

    # -- helpers ---------------------------------------------------------------------------

    def _matched(self, found: Found) -> MatchedName:
        m = found.mention
        matched = MatchedName(
            person=m.person, name=self.names.get(m.person, m.person), matched=m.matched, field=found.field,
            start=m.start, end=m.end, variant=m.variant, snippet=excerpt(found.text, m),
        )
        if found.post is not None:
            matched["post"], matched["post_index"] = found.post.permalink, found.post.index
        if found.image is not None:
            matched["image"] = found.image
        return matched

    def _owe_evidence(
        self, url: str, reason: str, raw_html: bytes | None, raw_status: int | None,
        matches: tuple[MatchedName, ...], page_id: int,
    ) -> None:
        self.evidence.append(
            CaptureRequest(
                url=url, site_id=self.site.id, detected_at=clock.now(), reason=reason, raw_html=raw_html,
                raw_status=raw_status, matches=matches, site_settings=self.site.model_dump(mode="json"),
                page_id=page_id,
            )
        )

    def _page_row(self, session: Session, page: Page, status: str) -> PageRow:
        now = clock.utcnow()
        row = page_by_url(session, self.site.id, page.url)
        if row is None:
            row = PageRow(site_id=self.site.id, url=page.url, first_fetched_at=now, last_fetched_at=now)
            session.add(row)
        row.last_fetched_at = now
        row.http_status = page.status
        row.etag = page.etag
        row.last_modified = page.last_modified
        row.content_hash = page.content_hash or text_hash(page.text)
        row.status = status
        row.title = page.title[:2000] if page.title else None
        session.flush()
        self._count(session, fetched=1)
        return row

    def _queue(self, session: Session, hits: Sequence[HitRow], kind: str) -> None:
        if hits and self.queue_alerts is not None:
            self.queue_alerts(session, hits, kind, self.run_id)

    def _count(self, session: Session, **increments: int) -> None:
        """Progress lives on the run row, so `vaern crawl`, `vaern status` and the app can all read it."""
        values = {}
        for name, value in increments.items():
            column = getattr(CrawlRunRow, _PAGE_COUNTERS.get(name, name))
            values[column] = column + value
        session.execute(
            update(CrawlRunRow)
            .where(CrawlRunRow.id == self.run_id)
            .values(values)
            .execution_options(synchronize_session=False)
        )

