"""The database tables (SQLAlchemy 2 mappings). Schema changes go through Alembic migrations.

Units, people and sites mirror the config (synced at start); pages, hits, snapshots, alerts and
crawl runs are what Værn learns. Times are stored as naive UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Unicode,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class UnitRow(Base):
    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    leader_name: Mapped[str] = mapped_column(String(300))
    leader_email: Mapped[str] = mapped_column(String(300))
    notify: Mapped[list[Any]] = mapped_column(default=list)  # [{"name", "email"}]


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    unit_id: Mapped[str | None] = mapped_column(String(100), index=True)
    title: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SiteRow(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where the rotation of name searches stopped last crawl (search_urls with long watch lists).
    search_cursor: Mapped[int] = mapped_column(Integer, default=0)
    # render: auto remembers what the site needed ("http" or "browser").
    render_decision: Mapped[str | None] = mapped_column(String(20))
    # A logged-in source whose session stopped working (crawler/sitelogin.py): why, since when,
    # and when the admins were told (once per lapse; cleared when a crawl gets in again).
    needs_login: Mapped[str | None] = mapped_column(Text)
    needs_login_since: Mapped[datetime | None] = mapped_column(DateTime)
    needs_login_told_at: Mapped[datetime | None] = mapped_column(DateTime)


class CrawlRunRow(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # queued|running|ok|stopped|failed|killed|abandoned (its queue worker stopped; the job ran again)
    status: Mapped[str] = mapped_column(String(20), default="running")
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    pages_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    pages_failed: Mapped[int] = mapped_column(Integer, default=0)
    dead_links: Mapped[int] = mapped_column(Integer, default=0)  # first-seen 404/410: a dead link, not a failure
    notes: Mapped[str | None] = mapped_column(Text)  # what the crawl noticed, e.g. "trap suspected: …"
    hits_new: Mapped[int] = mapped_column(Integer, default=0)
    hits_seen: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # With `queue: postgres`: the queue's job this run is an attempt of (a retried job's runs share
    # it), and the worker that ran it. Both null for a crawl run on this machine.
    job_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    worker: Mapped[str | None] = mapped_column(String(200))
    # "full": the site's scheduled crawl; "feed": a poll of its feeds, crawling only new entries.
    kind: Mapped[str] = mapped_column(String(10), default="full", server_default="full")


class CrawlFailureRow(Base):
    """Why a URL could not be fetched in one crawl run: one row per (run, URL), bounded per run
    (storage/failures.py), so an operator sees the reasons and not only a count."""

    __tablename__ = "crawl_failures"
    __table_args__ = (UniqueConstraint("run_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    site_id: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    start_url: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    times: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime] = mapped_column(DateTime)


class PageRow(Base):
    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("site_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    first_fetched_at: Mapped[datetime] = mapped_column(DateTime)
    last_fetched_at: Mapped[datetime] = mapped_column(DateTime)
    http_status: Mapped[int | None] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="ok")  # ok | gone | error
    title: Mapped[str | None] = mapped_column(Text)


class HitRow(Base):
    """One hit per (person, page): created once, then updated each time the page names them."""

    __tablename__ = "hits"
    __table_args__ = (
        UniqueConstraint("person_id", "page_id"),
        # The review list, newest first: one status (a tab of the list), or a leader's units (with
        # the status, so that their counts per status read the index alone).
        Index("ix_hits_status_first_seen", "status", "first_seen"),
        Index("ix_hits_unit_id_first_seen_status", "unit_id", "first_seen", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(100), index=True)
    unit_id: Mapped[str | None] = mapped_column(String(100), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    site_id: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    confidence: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column()
    variant: Mapped[str] = mapped_column(String(50))
    matched_text: Mapped[list[Any]] = mapped_column(default=list)
    why: Mapped[list[Any]] = mapped_column(default=list)  # per mention: variant, compared strings, score
    excerpt: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[Any]] = mapped_column(default=list)
    first_seen: Mapped[datetime] = mapped_column(DateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)
    first_run_id: Mapped[int | None] = mapped_column(Integer)
    # Hash of the sentences that name the person: a change there is an `update`, elsewhere is not.
    context_hash: Mapped[str | None] = mapped_column(String(64))
    # Evidence owed: set with the hit's change (new, update, removed) in its page's transaction,
    # cleared only when a complete snapshot of the page is filed; survives crashes and full disks.
    evidence_owed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    evidence_reason: Mapped[str | None] = mapped_column(String(20))  # hit | update | removed
    evidence_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    evidence_error: Mapped[str | None] = mapped_column(Text)  # why the last attempt did not settle it
    # A page read whole no longer names the person: when, and in which crawl. Removed only when a
    # later crawl's whole read confirms it (pipeline.py).
    absent_since: Mapped[datetime | None] = mapped_column(DateTime)
    absent_run_id: Mapped[int | None] = mapped_column(Integer)
    # Listing pages (front page, archives, topic lists) that showed an excerpt of this post
    # naming the person: provenance, not hits of their own (pipeline.py).
    shown_on: Mapped[list[Any]] = mapped_column(default=list)
    # The assessment (matchers/assess): how bad the post is for the person, the passage that
    # says so, the private data it publishes (kinds only, never the items), the mentions found by
    # context or in images, and the post's own date where the page states one. Null severity:
    # a hit from before assessments, alerted as it always was.
    severity: Mapped[str | None] = mapped_column(String(20), index=True)
    passage: Mapped[dict[str, Any] | None] = mapped_column()  # {"text", "category"}
    private_data: Mapped[list[Any]] = mapped_column(default=list)  # [{"kind", "masked"}]
    found: Mapped[list[Any]] = mapped_column(default=list)  # how mentions were found: text | context | image
    posted_at: Mapped[datetime | None] = mapped_column(DateTime)
    posted_source: Mapped[str | None] = mapped_column(String(40))  # json-ld | time | meta | header
    # Who wrote the post that names the person, as the page marks it up (crawler/posts.py), and
    # where that was read (json-ld | microdata | h-entry | rel-author | selector | meta). An author
    # is known per site; the same name on two sites is one person only where an analyst linked them.
    author: Mapped[str | None] = mapped_column(String(200), index=True)
    author_source: Mapped[str | None] = mapped_column(String(20))

    page: Mapped[PageRow] = relationship()


class HitMoveRow(Base):
    """A hit whose person moved to another unit: the unit it belonged to keeps what it was told
    up to the move (these fields, as they were then); from the move on the hit is the new unit's.
    See storage/queries.py `sync_reference_data` and review/access.py."""

    __tablename__ = "hit_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hit_id: Mapped[int] = mapped_column(Integer, index=True)
    from_unit: Mapped[str | None] = mapped_column(String(100), index=True)
    to_unit: Mapped[str | None] = mapped_column(String(100))
    moved_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))
    excerpt: Mapped[str] = mapped_column(Text, default="")
    matched_text: Mapped[list[Any]] = mapped_column(default=list)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class SnapshotRow(Base):
    """One evidence capture of a page; its files and manifest live in the archive."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    captured_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(20), default="hit")  # hit | update | removed
    manifest_path: Mapped[str] = mapped_column(String(500))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)  # kind -> {"path", "sha256"}
    # Whether the capture shows every mention the matcher reported; if not, why not.
    complete: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    incomplete_reason: Mapped[str | None] = mapped_column(Text)


class AlertRow(Base):
    """The outbox: one e-mail to one recipient, written in the same transaction as its hits."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(300), index=True)
    recipient_name: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))  # new_hit | update | removed | digest | reminder
    run_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    # "host:pid" of the dispatcher sending it right now (a lease until next_attempt_at); lets a
    # restarted service take over at once from a dispatcher that died mid-send.
    claimed_by: Mapped[str | None] = mapped_column(String(300))


class AlertHitRow(Base):
    __tablename__ = "alert_hits"
    __table_args__ = (
        UniqueConstraint("alert_id", "hit_id"),
        UniqueConstraint("hit_id", "recipient", "kind", "round", name="uq_alert_hits_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id"), index=True)
    # Dedup key: never the same hit twice to the same recipient in the same kind.
    recipient: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    # 0 for kinds a hit gets at most once per recipient (new_hit, removed, reminder, digest);
    # the crawl run id for `update`, which a page can earn again each time it changes.
    round: Mapped[int] = mapped_column(Integer, default=0)


class SilenceRow(Base):
    """No more alerts about this person on this URL (or this whole site): e.g. a namesake."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str | None] = mapped_column(String(2000))
    site_id: Mapped[str | None] = mapped_column(String(100))
    hit_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)


class SchedulerJobRow(Base):
    """APScheduler's job store (`vaern run`), declared here so migrations own the schema.

    The columns are exactly those `apscheduler.jobstores.sqlalchemy.SQLAlchemyJobStore` creates.
    """

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


# ---------------------------------------------------------------------------------------------
# Review app: accounts, sign-in sessions, throttling, the audit log and the case of each hit.


class UserRow(Base):
    """A review-app account. `units` only matters for leaders: the units whose people they may see."""

    __tablename__ = "review_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))  # admin | analyst | leader
    units: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginSessionRow(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "review_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("review_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class LoginFailureRow(Base):
    """One failed sign-in; recent ones throttle further attempts for that name and address."""

    __tablename__ = "review_login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)


class LoginCounterRow(Base):
    """Sign-in attempts per key ("name:<user>" or "address:<ip>") in the current window, counted
    with one atomic UPDATE before the password is checked, so parallel attempts cannot all slip
    under the limit (review/auth.py)."""

    __tablename__ = "review_login_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class AuditRow(Base):
    """Who saw, exported or changed what, and when. Written in the same transaction as the action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))  # view_hit | export | confirm | dismiss | login | ...
    hit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    address: Mapped[str | None] = mapped_column(String(100))


class DecisionRow(Base):
    """A status change of a hit made in the review app, with its reason and any silence asked for."""

    __tablename__ = "hit_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    username: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # confirmed | dismissed | new (reopened)
    reason: Mapped[str | None] = mapped_column(String(50))  # not_this_person | lawful | duplicate | other
    comment: Mapped[str] = mapped_column(Text, default="")
    silence: Mapped[str | None] = mapped_column(String(10))  # url | site (for not_this_person)


class CaseStepRow(Base):
    """One step of the guidance done for a hit: what, on which date, recorded by whom."""

    __tablename__ = "case_steps"
    __table_args__ = (UniqueConstraint("hit_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id"), index=True)
    step: Mapped[str] = mapped_column(String(50))
    done_on: Mapped[date] = mapped_column(Date)
    username: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class NoteRow(Base):
    """A free-text note on a hit's case."""

    __tablename__ = "hit_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    username: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)


class TimestampRow(Base):
    """One RFC 3161 token owed or obtained: over a snapshot's manifest, the chain's head, or an
    export's SHA256SUMS. `pending` rows are the retry queue (storage/stamping.py)."""

    __tablename__ = "timestamps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(20))  # manifest | head | export
    snapshot_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str] = mapped_column(String(500))  # the manifest's path, or the bundle's name
    digest: Mapped[str] = mapped_column(String(64))  # the SHA-256 the token covers
    tsa_url: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), index=True)  # ok | pending
    token_path: Mapped[str | None] = mapped_column(String(500))
    token_sha256: Mapped[str | None] = mapped_column(String(64))
    gen_time: Mapped[datetime | None] = mapped_column(DateTime)  # the TSA's time
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class FeedRow(Base):
    """A feed or sitemap of a site (crawler/feeds.py): where it came from and what the last poll
    learned, so the next poll asks conditionally (If-None-Match / If-Modified-Since)."""

    __tablename__ = "feeds"
    __table_args__ = (UniqueConstraint("site_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    origin: Mapped[str] = mapped_column(String(20))  # config | detected
    kind: Mapped[str | None] = mapped_column(String(20))  # rss | atom | rdf | sitemap | sitemapindex, once read
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    polled_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[int | None] = mapped_column(Integer)  # the last answer's HTTP status
    error: Mapped[str | None] = mapped_column(Text)  # why the last poll failed; null when it did not
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # in a row


class FeedEntryRow(Base):
    """An entry of a site's feeds already seen (its id, or link and date): never crawled twice."""

    __tablename__ = "feed_entries"
    __table_args__ = (UniqueConstraint("site_id", "key_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(100), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    seen_at: Mapped[datetime] = mapped_column(DateTime)
    run_id: Mapped[int | None] = mapped_column(Integer)  # the feed run that crawled it; null: a baseline


class AuthorLinkRow(Base):
    """Authors an analyst confirmed to be one person across sites: rows sharing `group_key` are
    one person. Never made automatically (review/authors.py; the audit log says who and when)."""

    __tablename__ = "author_links"
    __table_args__ = (UniqueConstraint("site_id", "author"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_key: Mapped[str] = mapped_column(String(40), index=True)
    site_id: Mapped[str] = mapped_column(String(100))
    author: Mapped[str] = mapped_column(String(200))
    linked_by: Mapped[str] = mapped_column(String(100))
    linked_at: Mapped[datetime] = mapped_column(DateTime)


class OneOffCaptureRow(Base):
    """A page secured on request (`vaern capture`, the review app's "Sikr denne side"): the case
    record that says who asked for which page, when, and what was filed (its snapshot, and the
    hit when a watched person was named)."""

    __tablename__ = "one_off_captures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    requested_by: Mapped[str] = mapped_column(String(100))  # a review-app user, or "cli"
    via: Mapped[str] = mapped_column(String(20))  # cli | review | discovery
    person_id: Mapped[str | None] = mapped_column(String(100))
    page_id: Mapped[int | None] = mapped_column(Integer, index=True)
    snapshot_id: Mapped[int | None] = mapped_column(Integer)
    hit_id: Mapped[int | None] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)  # why it is incomplete, or what failed


class DiscoverySearchRow(Base):
    """One query sent to a discovery provider, and how it went (the day's budget counts these)."""

    __tablename__ = "discovery_searches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    provider: Mapped[str] = mapped_column(String(50))
    person_id: Mapped[str] = mapped_column(String(100), index=True)
    query: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # ok | error
    error: Mapped[str | None] = mapped_column(Text)
    results: Mapped[int] = mapped_column(Integer, default=0)


class DiscoveredRow(Base):
    """A page a provider found naming a watched person on a site nobody watches: one row per URL,
    waiting in "Fundet andre steder" until an analyst watches its site, secures it or ignores it."""

    __tablename__ = "discovered"
    __table_args__ = (UniqueConstraint("url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    host: Mapped[str] = mapped_column(String(300), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    snippet: Mapped[str] = mapped_column(Text, default="")
    provider: Mapped[str] = mapped_column(String(50))
    person_id: Mapped[str] = mapped_column(String(100))
    first_found: Mapped[datetime] = mapped_column(DateTime)
    last_found: Mapped[datetime] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(20), default="new", index=True)  # new | watched | secured | ignored
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)


class IgnoredHostRow(Base):
    """A host an analyst ignored in "Fundet andre steder": its results are kept out from then on."""

    __tablename__ = "discovery_ignored_hosts"

    host: Mapped[str] = mapped_column(String(300), primary_key=True)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)
