"""The recipe of a one-off capture: any page a person pastes, secured now through the evidence path.

Used by `vaern capture URL [--person ID]`, the review app's "Sikr denne side" form and the
discovery inbox's "secure once". The steps of `capture_once`:

1. check the request: an http(s) URL, a watched person if one is named; the SSRF guard
   (`network.allow_private_hosts`) judges the URL before any browser opens it;
2. capture it as a crawl's evidence is captured (crawler/capture.py: the same guard on every
   connection, readiness, expansion, WARC, provenance), with the watched site's settings and
   login session when the URL is on a watched site's host (else the evidence defaults, no session);
3. read the captured page as a crawl reads one (pipeline.assess_page on the text shown, with the
   posts and bylines of the DOM the capture kept): mentions, categories, severity, the gravest
   passage, private data, the post's stated date and author;
4. in one transaction: the page row (the watched site's, else the site `_capture`), the snapshot in
   the archive (manifest, chain, timestamps), a hit for each watched person the page names and for
   the person asked for (named or not: an analyst's judgement that the page is about them), the
   alerts of the new hits, and the case record (`one_off_captures`: who asked, when, via what, and
   what was filed), with an audit row.

Who is told: a new hit is queued for e-mail exactly as a crawled hit is (`alerts.policy` and the
routing): a critical threat reaches the person's leader at once although someone already knows of
the page, because the leader is responsible for the employee and may not be the one who asked.
A hit the page does not name the person in (the analyst's judgement alone) has nothing read about
the person: severity `none`, which the default policy tells nobody. An existing hit is not told
again; it gets one more snapshot. `vaern capture` sends the queued e-mails at once (as `vaern crawl`
does) and says who they go to; the review app's form and the inbox leave them to `vaern run`.
A page that cannot be reached or captured raises `CaptureRefused` saying why, and the case
record keeps the attempt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from vaern import clock, ids
from vaern.config import Config, Site
from vaern.domain import Page
from vaern.errors import VaernError

if TYPE_CHECKING:
    from vaern.domain import Capture

log = logging.getLogger(__name__)

CAPTURE_SITE = "_capture"  # the site of pages secured on their own: no config id can take it (ids start alnum)


class CaptureRefused(VaernError):
    """A one-off capture that could not be made; the message says why (bad URL, refused, unreachable).
    `bad_input`: the request itself was wrong (not a URL, an unknown person), not the page."""

    def __init__(self, message: str, *, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


@dataclass(frozen=True)
class OneOff:
    """What a one-off capture secured."""

    record: int  # the case record's id
    url: str
    final_url: str
    site: str
    snapshot: str  # s-… id
    manifest: str
    manifest_sha256: str
    complete: bool
    incomplete_reason: str | None
    files: dict[str, Any] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)  # h-… ids
    people: list[str] = field(default_factory=list)  # the watched people the page names
    read: list[dict[str, Any]] = field(default_factory=list)  # per hit: severity, categories, passage, deadline
    told: list[str] = field(default_factory=list)  # who was queued an e-mail about a new hit

    def as_json(self) -> dict[str, Any]:
        return {"record": self.record, "url": self.url, "final_url": self.final_url, "site": self.site,
                "snapshot": self.snapshot, "manifest": self.manifest, "manifest_sha256": self.manifest_sha256,
                "complete": self.complete, "incomplete_reason": self.incomplete_reason, "files": self.files,
                "hits": self.hits, "people": self.people, "read": self.read, "told": self.told}


def site_for(config: Config, url: str) -> Site | None:
    """The watched site whose start URLs are on `url`'s host, if any."""
    host = (urlsplit(url).hostname or "").lower()
    return next((s for s in config.sites if any((urlsplit(u).hostname or "").lower() == host for u in s.start_urls)),
                None)


def check_url(config: Config, url: str) -> str:
    """The URL if it may be captured; CaptureRefused naming what is wrong."""
    from vaern.crawler.netguard import NetGuard
    from vaern.errors import BlockedAddress

    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CaptureRefused(f"{url!r} is not an http(s) URL (paste the page's whole address, https://…)",
                             bad_input=True)
    try:
        NetGuard(config.network.allow_private_hosts).check(url)
    except BlockedAddress as exc:
        raise CaptureRefused(f"refused by the SSRF guard: {exc} (network.allow_private_hosts)") from None
    except OSError as exc:
        raise CaptureRefused(f"unreachable: the host {parts.hostname} cannot be resolved ({exc})") from None
    return url


def capture_once(
    config: Config, url: str, *, person: str | None = None, requested_by: str = "cli", via: str = "cli",
    user_id: int | None = None,
) -> OneOff:
    """Secure one page now; see the module docstring for the steps."""
    from vaern.app import open_services

    # 1.
    if person is not None and config.person(person) is None:
        known = ", ".join(p.id for p in config.people[:10])
        raise CaptureRefused(f"unknown person {person!r} (watched people: {known or 'none'})", bad_input=True)
    url = check_url(config, url)
    services = open_services(config)
    try:
        return _capture(services, url, person, requested_by, via, user_id)
    finally:
        services.engine.dispose()


def _capture(services: Any, url: str, person: str | None, requested_by: str, via: str, user_id: int | None) -> OneOff:
    from vaern.alerts import enqueue
    from vaern.app import watched_people
    from vaern.crawler.capture import capture_pages
    from vaern.domain import CaptureFailure, CaptureRequest
    from vaern.matchers import build_index
    from vaern.matchers.assess import Assessor
    from vaern.matchers.assess.dating import stated_dates
    from vaern.pipeline import Found, assess_page, hit_fields
    from vaern.storage.archive import record_snapshot
    from vaern.storage.db import transaction
    from vaern.storage.stamping import archive_for
    from vaern.storage.tables import AuditRow, HitRow, OneOffCaptureRow, PageRow

    config: Config = services.config
    site = site_for(config, url)
    site_id = site.id if site is not None else CAPTURE_SITE
    # 2.
    request = CaptureRequest(url=url, site_id=site_id, detected_at=clock.now(), reason="capture",
                             site_settings=site.model_dump(mode="json") if site is not None else {})
    result = capture_pages(config, [request])[0]
    now = clock.utcnow()
    if isinstance(result, CaptureFailure):
        with transaction(services.sessions) as session:
            session.add(OneOffCaptureRow(url=url, at=now, requested_by=requested_by, via=via, person_id=person,
                                         complete=False, note=f"capture failed: {result.error}"))
            session.add(AuditRow(at=now, user_id=user_id, username=requested_by, action="capture_failed", hit_id=None,
                                 detail={"url": url, "via": via, "error": result.error}))
        raise CaptureRefused(f"unreachable or not capturable: {result.error}")
    # 3.
    page = _read(result, site, site_id)
    index = build_index(watched_people(config), config.matching)
    found, judged = assess_page(index, Assessor(index), page)
    named: dict[str, list[Found]] = {}
    for f in found:
        named.setdefault(f.mention.person, []).append(f)
    for_people = list(dict.fromkeys([*named, *([person] if person else [])]))
    # 4.
    archive = archive_for(config)
    dates = stated_dates(page.body, config.timezone)
    with transaction(services.sessions) as session:
        row = session.query(PageRow).filter_by(site_id=site_id, url=result.final_url).one_or_none()
        if row is None:
            row = PageRow(site_id=site_id, url=result.final_url, first_fetched_at=now, last_fetched_at=now)
            session.add(row)
        row.last_fetched_at, row.http_status, row.title = now, result.status, (result.title or None)
        session.flush()
        snapshot = record_snapshot(session, archive, result, row.id, config.evidence.tsa_retry_initial)
        hits: list[HitRow] = []
        new_hits: list[HitRow] = []
        for person_id in for_people:
            of_person = named.get(person_id, [])
            # Read as a crawl reads a hit (pipeline.hit_fields); a page the matcher does not see
            # the person on is an analyst's judgement, with nothing read about the person.
            fields = hit_fields(page, dates, of_person, judged.get(person_id)) if of_person else {
                "confidence": "high", "score": 100.0, "variant": "named_by_analyst", "matched_text": [],
                "why": [{"variant": "named_by_analyst", "by": requested_by, "via": via}],
                "excerpt": (result.title or "")[:300], "categories": [], "severity": "none", "passage": None,
                "private_data": [],
            }
            hit = session.query(HitRow).filter_by(page_id=row.id, person_id=person_id).one_or_none()
            if hit is None:
                watched = config.person(person_id)
                hit = HitRow(person_id=person_id, unit_id=watched.unit if watched else None, page_id=row.id,
                             site_id=site_id, url=row.url, status="new", first_seen=now, last_seen=now, **fields)
                session.add(hit)
                new_hits.append(hit)
            elif hit.severity is None and of_person:
                for key, value in fields.items():  # a hit never read yet gets this reading
                    setattr(hit, key, value)
            hit.last_seen = now
            hits.append(hit)
        session.flush()
        # A new hit is told as any hit is (alerts.policy, routing): the leader at once where its
        # severity says so, the analysts' digest, or nobody. The person who asked knows already.
        told = sorted({a.recipient for a in enqueue(session, config, new_hits, "new_hit", None)})
        read = [_reading(session, config, hit) for hit in hits]
        session.flush()
        record = OneOffCaptureRow(url=url, at=now, requested_by=requested_by, via=via, person_id=person,
                                  page_id=row.id, snapshot_id=snapshot.id, hit_id=hits[0].id if hits else None,
                                  complete=result.complete, note=result.incomplete_reason)
        session.add(record)
        session.flush()
        session.add(AuditRow(at=now, user_id=user_id, username=requested_by, action="capture", hit_id=record.hit_id,
                             detail={"url": url, "via": via, "snapshot": ids.snapshot(snapshot.id),
                                     "hits": [ids.hit(h.id) for h in hits], "record": record.id}))
        out = OneOff(record=record.id, url=url, final_url=result.final_url, site=site_id,
                     snapshot=ids.snapshot(snapshot.id), manifest=snapshot.manifest_path,
                     manifest_sha256=snapshot.manifest_sha256, complete=result.complete,
                     incomplete_reason=result.incomplete_reason, files=dict(snapshot.files),
                     hits=[ids.hit(h.id) for h in hits], people=list(named), read=read, told=told)
    log.info("one-off capture of %s filed as %s (%s)", url, out.snapshot, "complete" if out.complete else "incomplete")
    return out


def _read(result: Capture, site: Site | None, site_id: str) -> Page:
    """The captured page as the crawl's pipeline takes a page: the text shown, the title, and the
    posts and bylines found in the DOM the capture kept (the post's author, its stated date)."""
    from vaern.crawler.extract import extract_html
    from vaern.crawler.posts import bylines

    dom = result.file("dom")
    body: bytes = dom.data if dom is not None else b""
    posts, lines = bylines(body, result.final_url, result.text, lambda f: extract_html(f, result.final_url).text,
                           site.post_selector if site else None,
                           site.author_selector if site else None) if body else ((), ())
    return Page(site_id=site_id, url=result.final_url, status=result.status or 200, fetched_at=result.finished_at,
                body=body, text=result.text, title=result.title, rendered=True, posts=posts, bylines=lines)


def _reading(session: Any, config: Config, hit: Any) -> dict[str, Any]:
    """What a hit says, for the one who asked: its reading, the police deadline as the e-mails
    count it, and what alerts.policy does with it."""
    from vaern.alerts import deadline_of

    deadline = deadline_of(session, config, hit)
    action = config.alerts.action(hit.severity) if hit.confidence == "high" else "digest"
    return {"hit": ids.hit(hit.id), "person": hit.person_id, "severity": hit.severity,
            "categories": list(hit.categories or []), "passage": hit.passage, "author": hit.author,
            "police_deadline": deadline.due.isoformat() + "Z", "deadline_basis": deadline.basis, "policy": action}
