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

A hit is removed only when the page is gone (404 or 410, or a redirect to another page: the
crawler reports those as `gone`), or when a whole read of the page (`Page.ready`: content stable
and expanded to the end) no longer names the person and a second whole read, on a later crawl,
confirms it. A page read too early, cut short, an error page, a timeout or a failed render
never removes anything. A new, changed or removed hit owes evidence from its commit on
(`HitRow.evidence_owed`), until a complete snapshot settles it (app.py).

One hit per post: a listing page (front page, archive, tag, topic list) shows excerpts of posts
(`Page.excerpts`, found by the crawler). A mention inside an excerpt belongs to the post's own
page, which the crawl reads too. Such a listing page is held until the crawl has read everything
(`finish`); then each of its excerpt mentions whose post page has a hit for the person adds the
listing to that hit's `shown_on` ("also shown on") instead of making a hit, an alert and a
snapshot of its own. A mention whose post page does not name the person (not reached, not
readable) stays a hit on the listing, as before. A crawl that dies before `finish` has not
written those listing pages, so the next crawl reads them again.

A 404/410 for a URL never seen before is a dead link (counted as such), not a failure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, sessionmaker

from vaern import clock
from vaern.config import Config, Site
from vaern.domain import (
    Byline,
    CaptureRequest,
    FetchFailure,
    ImageText,
    MatchedName,
    Mention,
    Page,
    Post,
    byline_for,
    post_for,
)
from vaern.matchers import NameIndex
from vaern.matchers.assess import Assessor, PersonAssessment, merge, with_private
from vaern.matchers.assess.context import is_pronoun
from vaern.matchers.assess.dating import StatedDate, date_for, stated_dates
from vaern.matchers.assess.photos import photos_of_people
from vaern.storage.db import transaction
from vaern.storage.failures import record_failure
from vaern.storage.queries import hits_on_page, page_by_url
from vaern.storage.tables import CrawlRunRow, HitRow, PageRow

EXCERPT_CHARS = 90
_TITLE_MORE = 8  # characters a link's text must hold besides the name to be a title of its page
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


def _excerpt_target(page: Page, found: Found) -> str | None:
    """The post page a mention belongs to, when it is in an excerpt (or in the title of page 2 …)."""
    m = found.mention
    if found.field == "title":
        return next((e.target for e in page.excerpts if e.kind == "title"), None)
    for e in page.excerpts:
        if e.kind == "title":
            continue
        # A link whose text is just the name (a tag, a profile) is not a title of the linked page.
        if e.start <= m.start < e.end and (e.kind != "link" or (e.end - e.start) - (m.end - m.start) >= _TITLE_MORE):
            return e.target
    return None


def _words_around(page: Page, found: Found, reach: int = 30) -> str:
    """The name with the whole words around it, inside its excerpt, spaces collapsed."""
    m = found.mention
    text = found.text
    bounds = (0, len(text)) if found.field == "title" else next(
        ((e.start, e.end) for e in page.excerpts if e.kind != "title" and e.start <= m.start < e.end), (m.start, m.end)
    )
    lo, hi = max(bounds[0], m.start - reach), min(bounds[1], m.end + reach)
    words = text[lo:hi].split()
    if lo > bounds[0] and text[lo - 1 : lo].strip() and words:
        words = words[1:]  # cut inside a word
    if hi < bounds[1] and text[hi : hi + 1].strip() and words:
        words = words[:-1]
    return " ".join(w for w in words if w not in ("[…]", "…", "[...]"))


def assess_page(index: NameIndex, assessor: Assessor, page: Page) -> tuple[list[Found], dict[str, PersonAssessment]]:
    """The page's mentions (those found by context included) and, per person, what the page
    says about them: each field read on its own, the gravest reading of the two kept."""
    found: list[Found] = []
    judged: dict[str, PersonAssessment] = {}
    for name, text in (("title", page.title), ("text", page.text)):
        if not text:
            continue
        posts = page.posts if name == "text" else ()
        result = assessor.read(text, posts)
        found += [Found(name, text, m, post_for(posts, m.start) if posts else None) for m in result.mentions]
        for person, reading in result.of_person.items():
            judged[person] = merge(judged[person], reading) if person in judged else reading
        if name == "text" and page.photos:
            # A picture beside the name (crawler/photos.py) publishes the person's likeness.
            for person, items in photos_of_people(index, page.photos, result.mentions).items():
                if person in judged:
                    judged[person] = with_private(judged[person], items)
    # Text read in the page's images (crawler/ocr.py): matched like the page's text, each
    # mention marked as found in an image and holding the image's address.
    for image in page.images:
        result = assessor.read(image.text)
        found += [
            Found("image", image.text, dataclasses.replace(m, found="image"), None, image.url)
            for m in result.mentions
        ]
        for person, reading in result.of_person.items():
            judged[person] = merge(judged[person], reading) if person in judged else reading
    return found, judged


def _named_images(page: Page, found: Sequence[Found]) -> tuple[ImageText, ...]:
    """The page's images whose text names someone: their bytes go into the evidence."""
    named = {f.image for f in found if f.image is not None}
    return tuple(i for i in page.images if i.url in named)


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


def _authored(
    bylines: Sequence[Byline], of_person: Sequence[Found], reading: PersonAssessment | None
) -> dict[str, Any]:
    """Who wrote the post with the gravest passage about the person (else the post that first
    names them), as the page marks it up (crawler/posts.py); None where it does not say."""
    in_text = sorted(f.mention.start for f in of_person if f.field == "text")
    # The mention in the gravest passage (a passage may begin before the post that names them).
    after = [m for m in in_text if reading is not None and reading.passage_at is not None and m >= reading.passage_at]
    at = after[0] if after else (in_text[0] if in_text else None)
    line = byline_for(bylines, at) if at is not None else None
    if line is None and bylines and not in_text:  # named only in the title or an image: the page's author
        line = max(bylines, key=lambda b: b.end - b.start)
    return {"author": line.author if line else None, "author_source": line.source if line else None}


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


def hit_fields(
    page: Page, dates: Sequence[StatedDate], of_person: Sequence[Found], reading: PersonAssessment | None
) -> dict[str, Any]:
    """A hit's fields from what the page says of its person: the mentions (`of_person`, at least
    one), the assessment (`reading`), the post's stated date (`dates`: `stated_dates` of the
    page's markup) and its author. The crawl and a one-off capture (oneoff.py) both read a hit so."""
    mentions = [f.mention for f in of_person]
    best = max(of_person, key=lambda f: (f.mention.confidence == "high", f.mention.score))
    return {
        "confidence": "high" if any(m.confidence == "high" for m in mentions) else "possible",
        "score": best.mention.score,
        "variant": best.mention.variant,
        # The forms of the name itself; pronouns found in context are in `why` only.
        "matched_text": sorted({m.matched for m in mentions if not is_pronoun(m)}),
        "why": [
            {"variant": f.mention.variant, "compared": list(f.mention.compared), "score": f.mention.score,
             "confidence": f.mention.confidence, **f.where(), "matched": f.mention.matched}
            for f in of_person
        ],
        "excerpt": excerpt(best.text, best.mention),
        "context_hash": text_hash("\n".join(sorted({sentence(f.text, f.mention) for f in of_person}))),
        "found": sorted({m.found for m in mentions}),
        **_assessed(reading),
        **_dated(dates, page.text, of_person, reading),
        **_authored(page.bylines, of_person, reading),
    }


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
        # The pages whose evidence is owed, each handed on (`on_evidence`, app.py: the evidence
        # desk) right after its page's transaction commits, so the capture starts at once.
        self.evidence: list[CaptureRequest] = []
        self.on_evidence: Callable[[CaptureRequest], None] | None = None
        # Pages where a whole read found a name missing: seen unchanged, that is confirmed.
        with sessions() as session:
            self._pending_absence: set[str] = set(session.scalars(
                select(PageRow.url).join(HitRow, HitRow.page_id == PageRow.id)
                .where(HitRow.site_id == site.id, HitRow.absent_since.is_not(None), HitRow.status != "removed")
                .distinct()
            ))
        # Listing pages held until finish(), with what they say about each person.
        self._listings: list[tuple[Page, list[Found], dict[str, PersonAssessment]]] = []
        self._texts: dict[str, str] = {}  # URL -> text (spaces collapsed) of pages that named someone, this crawl

    # -- PageSink -------------------------------------------------------------------------

    def page(self, page: Page) -> None:
        found, judged = assess_page(self.index, self.assessor, page)
        if page.excerpts and any(_excerpt_target(page, f) for f in found):
            self._listings.append((page, found, judged))  # decided in finish(), once the posts are read
            return
        if found:
            self._texts[page.url] = " ".join(f"{page.title}\n{page.text}".split())
        self._record(page, found, judged)

    def finish(self) -> None:
        """After the crawl: the held listing pages (see the module docstring), one transaction each."""
        listings, self._listings = self._listings, []
        # A held page whose excerpt leads to another held page waits for that one to be decided
        # (a post linking its name to a tag page that shows the post); a cycle is broken by
        # deciding the rest as they are.
        waiting = {page.url: (page, found, judged) for page, found, judged in listings}
        while waiting:
            ready = [
                url for url, (page, found, _judged) in waiting.items()
                if not any((t := _excerpt_target(page, f)) and t in waiting and t != url for f in found)
            ]
            for url in ready or list(waiting):
                page, found, judged = waiting.pop(url)
                self._settle_listing(page, found, judged)

    def _settle_listing(self, page: Page, found: list[Found], judged: dict[str, PersonAssessment]) -> None:
        keep: list[Found] = []
        shown: set[str] = set()
        with transaction(self.sessions) as session:
            for f in found:
                target = _excerpt_target(page, f)
                hit = self._open_hit(session, target, f.mention.person) if target else None
                # Read this crawl, the post must say what the excerpt says around the name (a
                # comment on an older comment page may link to the post and name the same person).
                said = self._texts.get(target) if target else None
                shown_there = target is not None and (said is None or _words_around(page, f) in said)
                if hit is None or not shown_there:
                    keep.append(f)
                    continue
                shown.add(f.mention.person)
                if page.url not in hit.shown_on:
                    hit.shown_on = [*hit.shown_on, page.url]
        self._record(page, keep, judged, shown_elsewhere=shown - {f.mention.person for f in keep})

    def _open_hit(self, session: Session, url: str, person: str) -> HitRow | None:
        row = page_by_url(session, self.site.id, url)
        if row is None:
            return None
        return next((h for h in hits_on_page(session, row.id) if h.person_id == person and h.status != "removed"), None)

    def _record(
        self, page: Page, found: list[Found], judged: dict[str, PersonAssessment],
        shown_elsewhere: AbstractSet[str] = frozenset(),
    ) -> None:
        """Store the page, its hits and their alert rows in one transaction. `shown_elsewhere`:
        people this listing names only in excerpts whose posts have the hit; an earlier hit of
        theirs here is left as it is, not reported removed. `judged`: what the page says about
        each person (the assessment)."""
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
                fields = hit_fields(page, dates, of_person, judged.get(person_id))
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
                    hit.absent_since = hit.absent_run_id = None  # named again: no absence pending
                    if hit.status == "removed":
                        hit.status, hit.removed_at = "new", None
                    if renamed:
                        updated.append(hit)
            # A page that no longer names someone it named before. Only a whole read (ready, and
            # expanded until nothing more came) counts, and only a second one, on a later crawl,
            # removes the hit: a loading shell, a page read too early or cut short removes nothing.
            absent = [
                h for pid, h in existing.items()
                if pid not in by_person and pid not in shown_elsewhere and h.status != "removed"
            ]
            removed = []
            if page.ready:
                for hit in absent:
                    if hit.absent_since is None:
                        hit.absent_since, hit.absent_run_id = now, self.run_id
                    elif hit.absent_run_id != self.run_id:
                        removed.append(hit)
            for hit in removed:
                hit.status, hit.removed_at = "removed", now
            # Evidence is owed from this commit on, until a complete snapshot settles it.
            self._owes(new_hits, "hit")
            self._owes(updated, "update")
            self._owes(removed, "removed")
            session.flush()
            self._count(session, hits_new=len(new_hits), hits_seen=len(existing) - len(removed))
            self._queue(session, new_hits, "new_hit")
            self._queue(session, updated, "update")
            self._queue(session, removed, "removed")
            reason = "hit" if new_hits else "update" if updated else "removed" if removed else None
            need = self._need(page.url, reason, page.body, page.status, tuple(self._matched(f) for f in found),
                              row.id, _named_images(page, found)) if reason else None
        if need is not None:
            self._owe(need)

    def unchanged(self, url: str) -> None:
        if url in self._pending_absence:
            self._confirm_absence(url)
            return
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

    def _confirm_absence(self, url: str) -> None:
        """The page is as it was when a whole read found a name missing (its stored hash is only
        ever a whole read's): on a later crawl that confirms the absence, and the hit is removed."""
        now = clock.utcnow()
        with transaction(self.sessions) as session:
            row = page_by_url(session, self.site.id, url)
            if row is None:
                self._count(session, unchanged=1)
                return
            row.last_fetched_at = now
            hits = [h for h in hits_on_page(session, row.id) if h.status != "removed"]
            removed = [h for h in hits if h.absent_since is not None and h.absent_run_id != self.run_id]
            for hit in hits:
                if hit not in removed:
                    hit.last_seen = now
            for hit in removed:
                hit.status, hit.removed_at = "removed", now
            self._owes(removed, "removed")
            session.flush()
            self._queue(session, removed, "removed")
            self._count(session, unchanged=1, hits_seen=len(hits) - len(removed))
            need = self._need(url, "removed", None, row.http_status, (), row.id) if removed else None
        if need is not None:
            self._owe(need)

    def gone(self, url: str, status: int) -> None:
        now = clock.utcnow()
        with transaction(self.sessions) as session:
            row = page_by_url(session, self.site.id, url)
            if row is None:
                self._count(session, dead_links=1)  # a link to a page that never was: not our failure
                return
            row.status, row.http_status, row.last_fetched_at = "gone", status, now
            removed = [h for h in hits_on_page(session, row.id) if h.status != "removed"]
            for hit in removed:
                hit.status, hit.removed_at = "removed", now
            self._owes(removed, "removed")
            session.flush()
            self._queue(session, removed, "removed")
            self._count(session, fetched=1)
            need = self._need(url, "removed", None, status, (), row.id) if removed else None
        if need is not None:
            self._owe(need)

    def failed(self, failure: FetchFailure) -> None:
        with transaction(self.sessions) as session:
            self._count(session, failed=1)
            record_failure(session, self.run_id, failure, start_url=failure.url in self.site.start_urls)

    # -- helpers ---------------------------------------------------------------------------

    def _owes(self, hits: Sequence[HitRow], reason: str) -> None:
        """These hits owe evidence (when evidence is captured at all): persisted with the hit."""
        if not self.config.evidence.capture:
            return
        for hit in hits:
            hit.evidence_owed, hit.evidence_reason, hit.evidence_error = True, reason, None

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

    def _need(
        self, url: str, reason: str, raw_html: bytes | None, raw_status: int | None,
        matches: tuple[MatchedName, ...], page_id: int, images: tuple[ImageText, ...] = (),
    ) -> CaptureRequest:
        return CaptureRequest(
            url=url, site_id=self.site.id, detected_at=clock.now(), reason=reason, raw_html=raw_html,
            raw_status=raw_status, matches=matches, site_settings=self.site.model_dump(mode="json"),
            page_id=page_id, images=images,
        )

    def _owe(self, need: CaptureRequest) -> None:
        """Its transaction has committed: the evidence is owed from now on."""
        self.evidence.append(need)
        if self.on_evidence is not None:
            self.on_evidence(need)

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
        if page.ready:
            # Only a whole read's hash is kept: a page read too early is read again next time,
            # and "unchanged" always means "as a whole read found it".
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

