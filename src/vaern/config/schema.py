"""The one configuration schema: every section of `vaern.yaml`, its defaults and its rules.

Each field checks its own value here (types, e-mail addresses, URLs, regexes, schedules) so an
error names the field. Reading the file, the rules that span entries, and what `vaern check`
prints live in `loading.py` (`load_config`) and `summary.py`; reading YAML with line
numbers and `${VAR}` substitution in `sources.py`; the wording of errors in `messages.py`.

Every option has a default that works; `vaern/starter.yaml` (what `vaern init` writes) explains
each one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from vaern.config.messages import (
    quoted,
    suggest,
)
from vaern.config.schedules import Duration, check_schedule

_EMAIL = re.compile(r"^[^@\s<>,;\"()\[\]]+@(?:[^@\s<>,;\"()\[\]]+\.[^@\s<>,;\"()\[\].]+|localhost)$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


# ---------------------------------------------------------------------------------------------
# Value rules shared by several fields


def _check_clock(value: str) -> str:
    m = _CLOCK.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a time of day like 07:30")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def _check_email(value: str) -> str:
    value = value.strip()
    if _EMAIL.match(value):
        return value
    addr = parseaddr(value)[1]
    if addr and addr != value and _EMAIL.match(addr):
        raise ValueError(f"{value!r}: give only the address here ({addr!r}); the name has its own field")
    raise ValueError(f"{value!r} is not an e-mail address (like name@kommune.dk)")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def _one_header_line(value: str) -> str:
    """A value that goes into an e-mail header (From, To): a line break there would end the
    header and start another (a Bcc, a second From), so no control characters at all."""
    found = _CONTROL.search(value)
    if found:
        what = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\t": "a tab"}.get(
            found.group(), f"the control character U+{ord(found.group()):04X}"
        )
        raise ValueError(f"{value!r} holds {what}; it goes into an e-mail header, which must be one line")
    return value


def _check_http_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme in ("http", "https") and parts.hostname:
        return url.strip()
    if not parts.scheme and "." in url.split("/")[0]:
        raise ValueError(f"{url!r} is not an http(s) URL (start it with https://)")
    raise ValueError(f"{url!r} is not an http(s) URL")


def _check_search_url(url: str) -> str:
    url = _check_http_url(url)
    if "{query}" not in url:
        raise ValueError(f"{url!r} has no {{query}} placeholder")
    return url


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{quoted(pattern)} is not a valid regular expression: {exc}") from None
    return pattern


def _check_id(value: str) -> str:
    value = value.strip()
    if not _ID.match(value):
        if not value:
            raise ValueError("an id may not be empty")
        raise ValueError(f"{value!r}: an id may hold only letters, digits, '.', '_' and '-' (no spaces)")
    return value


# Item types: each item is checked on its own, so an error names the item's index and line.
Email = Annotated[str, AfterValidator(_check_email)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
SearchUrl = Annotated[str, AfterValidator(_check_search_url)]
Regex = Annotated[str, AfterValidator(_check_regex)]
Id = Annotated[str, AfterValidator(_check_id)]


def _accepts_none(annotation: Any) -> bool:
    return annotation is None or annotation is type(None) or type(None) in get_args(annotation)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # `notify:` with its items commented out reads as null; it means "the default", not
        # "not a list". Fields that accept None keep it.
        if isinstance(data, dict) and None in data.values():
            fields = cls.model_fields
            return {
                k: v
                for k, v in data.items()
                if not (
                    v is None
                    and k in fields
                    and not fields[k].is_required()
                    and not _accepts_none(fields[k].annotation)
                )
            }
        return data


# ---------------------------------------------------------------------------------------------
# Sections


class Contact(_Model):
    """Someone who gets e-mail: `{name: .., email: ..}`, or just "Name <address>"."""

    name: str = ""
    email: Email

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            name, addr = parseaddr(data)
            return {"name": name, "email": addr if addr and name else data}
        return data


class Unit(_Model):
    """A department whose leader (and `notify` list) is told of hits on its people."""

    id: Id
    name: str
    leader: Contact
    notify: list[Contact] = []


class Person(_Model):
    """Someone watched for, from `people` or a row of `people_csv`."""

    id: str
    name: str
    aliases: list[str] = []
    unit: str | None = None  # None: hits go to alerts.fallback
    title: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("an id may not be empty")
        if any(c.isspace() for c in v):
            raise ValueError(f"{v!r}: an id may not hold spaces")
        return v

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a name may not be empty")
        return " ".join(v.split())

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str]) -> list[str]:
        return [" ".join(a.split()) for a in v if a.strip()]


class Follow(_Model):
    """Which links a crawl follows from a site's start URLs."""

    allow: list[Regex] = []
    deny: list[Regex] = []
    max_depth: int = Field(default=3, ge=0)
    max_pages: int = Field(default=500, ge=1)
    recheck_after: Duration = Field(
        default=Duration("6h"),
        description="a known page no link led to this crawl is re-checked once its last check is this old"
        " (pages with an open hit: every crawl)",
    )
    builtin_deny: bool = Field(
        default=True,
        description="skip login, logout, register, reply, print, share and feed links and nested "
        "next=/redirect= chains (crawler/linkpolicy.py lists the patterns)",
    )
    max_per_family: int = Field(
        default=100,
        ge=1,
        description="requests per URL family (one path shape, digits as wildcards, and the same query "
        "parameter names) in one crawl; past it the family is a suspected trap",
    )


def _check_css(selector: str) -> str:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"{selector!r} is not a valid CSS selector: {exc}") from None
    return selector


# Labels of "show more" controls clicked during expansion (crawler/expand.py), matched against a
# control's visible text, case-insensitively. Danish first: the sites we watch are mostly Danish.
SHOW_MORE_LABELS = (
    "Vis flere",
    "Se flere",
    "Indlæs flere",
    "Flere kommentarer",
    "Se mere",
    "Show more",
    "Load more",
    "See more",
)


class Expand(_Model):
    """How far a rendered page is expanded before it is read (crawler/expand.py)."""

    show_more: list[str] = Field(
        default_factory=lambda: list(SHOW_MORE_LABELS), description="control labels to click"
    )
    selectors: list[str] = Field(default_factory=list, description="extra CSS selectors of controls to click")
    # A feed of fifty posts, each with its comments behind a button, takes some 70 steps and
    # half a minute on a small machine: the defaults let it finish.
    max_steps: int = Field(default=200, ge=0, description="scrolls and clicks per page")
    max_seconds: float = Field(default=60.0, gt=0, description="seconds of expansion per page")
    max_height: int = Field(default=50_000, ge=1000, description="stop scrolling at this page height (px)")
    # Counted once no request is under way (expand.py waits for those first), so it only has to
    # cover a page's scripts rendering what arrived; raise it for a site that renders on timers.
    settle_ms: int = Field(
        default=150, ge=50, le=10_000, description="quiet time (ms) that counts as 'nothing more is coming'"
    )

    @field_validator("show_more")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        if any(not label.strip() for label in v):
            raise ValueError("a show_more label may not be empty")
        return v

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, v: list[str]) -> list[str]:
        for selector in v:
            _check_css(selector)
        return v


class Ready(_Model):
    """When a rendered page counts as read (crawler/readiness.py): its content stable, no request,
    timer or loading placeholder left. Waits start short and double while the page is not
    stable, up to `max_seconds`."""

    max_seconds: float = Field(default=10.0, gt=0, le=120, description="the longest one page is waited for")
    quiet_ms: int = Field(default=150, ge=30, le=5000, description="the first, shortest quiet window (ms)")
    placeholders: list[str] = Field(
        default_factory=list, description="more texts that mean 'still loading' (Indlæser, Henter, Loading built in)"
    )


class Rewrite(_Model):
    """One URL rewrite: `pattern` (a regex on the absolute URL) replaced by `replace` (re.sub)."""

    pattern: Regex
    replace: str = ""


class Normalise(_Model):
    """How links are made one URL per page before they are followed (crawler/linkpolicy.py)."""

    drop_params: list[str] = Field(
        default_factory=list,
        description="extra query parameters to drop (besides replytocom, utm_*, fbclid, a page=1 …)",
    )
    rewrite: list[Rewrite] = Field(default_factory=list, description="regex rewrites, applied in order")


class Feeds(_Model):
    """A site's feeds and sitemaps (crawler/feeds.py): polled on their own short interval with
    conditional GET, each new entry crawled at once through the normal pipeline. Written as a
    list of URLs, or as this section."""

    urls: list[HttpUrl] = Field(
        default_factory=list, description="RSS/Atom feeds and sitemaps; empty: detected on the site"
    )
    every: Duration = Field(Duration("2m"), description="how often the feeds are polled")
    detect: bool = Field(
        default=True,
        description="find feeds on the site (<link rel=alternate>, /feed/, /comments/feed/, robots.txt "
        "Sitemap: lines, /sitemap.xml) when `urls` is empty",
    )
    enabled: bool = True
    max_new: int = Field(default=50, ge=1, le=1000, description="new entries crawled per poll at most")

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, v: Duration) -> Duration:
        if v.total_seconds() < 1:
            raise ValueError("must be at least 1s")
        return v


class Site(_Model):
    """A public site to watch, crawled on its own schedule."""

    id: Id
    name: str | None = None
    start_urls: list[HttpUrl] = Field(min_length=1)
    schedule: Annotated[str, AfterValidator(check_schedule)] = "1h"
    render: Literal["http", "browser", "auto"] = "http"
    follow: Follow = Follow()
    normalise: Normalise = Normalise()
    search_urls: list[SearchUrl] = []
    search_budget: int = Field(default=200, ge=0, description="searches per crawl with a long watch list")
    robots: Literal["obey", "ignore"] = "obey"
    concurrency: int = Field(default=2, ge=1, le=32, description="parallel requests to one domain")
    delay: float = Field(
        default=1.0, ge=0, description="seconds between requests to one domain (AutoThrottle start)"
    )
    autothrottle: bool = True
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    max_response_mb: float = Field(default=5.0, gt=0)
    retries: int = Field(
        default=1, ge=0, le=10, description="extra attempts after a timeout, dropped connection or 5xx"
    )
    user_agent: str | None = None
    expand: Expand = Expand()
    ready: Ready = Ready()
    post_selector: str | None = Field(
        default=None, description="CSS selector of one post/comment on this site; default: found by structure"
    )
    feeds: Feeds = Feeds()
    author_selector: str | None = Field(
        default=None,
        description="CSS selector of a post's author or handle, inside the post, where the page has no author "
        "markup (JSON-LD, microdata, h-entry, rel=author)",
    )
    # A logged-in source (crawler/sitelogin.py): the dedicated account's cookies, sent to this
    # site's hosts only, redacted from every record; read and checked by load_config.
    session: Path | None = Field(
        default=None, description="a Playwright storage-state file (JSON) of the account that sees the posts"
    )

    @field_validator("post_selector", "author_selector")
    @classmethod
    def _post_selector(cls, v: str | None) -> str | None:
        if v is not None:
            _check_css(v)
        return v

    @field_validator("feeds", mode="before")
    @classmethod
    def _feeds_as_list(cls, v: Any) -> Any:
        return {"urls": v} if isinstance(v, list) else v

    @property
    def label(self) -> str:
        return self.name or self.id


class Smtp(_Model):
    """The mail relay alerts go out through."""

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "Værn <vaern@localhost>"
    timeout: float = Field(default=30.0, gt=0)

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        _one_header_line(v)
        name, addr = parseaddr(v)
        if not (addr and _EMAIL.match(addr)):
            raise ValueError(f'{v!r} is not an e-mail address (like "Værn <vaern@kommune.dk>")')
        return v.strip()


class Network(_Model):
    """Exceptions to the SSRF guard (crawler/netguard.py)."""

    allow_private_hosts: list[str] = []


CATEGORIES = ("threat", "private_info", "incitement", "insult", "accusation", "criticism")


class Matching(_Model):
    """Thresholds for the name matcher (vaern.matchers) and words for the category classifier."""

    high_score: float = Field(
        default=90.0, ge=0, le=100, description="a mention scoring this much alerts at once"
    )
    possible_score: float = Field(
        default=75.0, ge=0, le=100, description="below this a candidate is dropped"
    )
    categories: dict[str, list[str]] = Field(
        default_factory=dict,
        description="extra words or phrases per category (threat, private_info, insult, accusation, "
        "criticism); whole words, case-insensitive, a trailing * matches any ending",
    )
    titles: list[str] = Field(default_factory=list, description="extra job titles for 'title + surname'")
    typos: bool = Field(default=True, description="accept a misspelt name part next to an exact one")
    max_inserted: int = Field(
        default=2, ge=0, le=4, description="unregistered middle names allowed inside a name"
    )
    common_word_zipf: float = Field(
        default=4.5, ge=0, le=8, description="a name part this common as a Danish word (Zipf) is word-like"
    )
    common_surname_zipf: float = Field(
        default=4.0, ge=0, le=8, description="an initial with a surname this common is only 'possible'"
    )
    typo_max_zipf: float = Field(
        default=3.0, ge=0, le=8, description="a text word this common is a real word or name, not a typo"
    )
    max_shared: int = Field(
        default=3, ge=1, description="an initial + surname shared by more watched people than this is "
        "reported only for one the text names in full elsewhere"
    )

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, entries in v.items():
            if key not in CATEGORIES:
                raise ValueError(f"unknown category {key!r} (categories: {', '.join(CATEGORIES)})")
            for entry in entries:
                if entry.strip().endswith("*") and " " not in entry.strip() and len(entry.strip()) < 4:
                    raise ValueError(f"{entry!r}: a word beginning needs at least 3 letters before the *")
        return v


Severity = Literal["critical", "high", "medium", "low", "none"]
PolicyAction = Literal["immediate", "digest", "none"]
DEFAULT_POLICY: dict[Severity, PolicyAction] = {
    "critical": "immediate", "high": "immediate", "medium": "immediate", "low": "digest", "none": "none",
}


class Alerts(_Model):
    """Who is told, when, and how hard delivery tries (alerts/ and the dispatcher in `vaern run`)."""

    fallback: Email | None = Field(default=None, description="address told of hits about people without a unit")
    analysts: list[Email] = Field(default=[], description="addresses that receive the daily digest of possible hits")
    admins: list[Email] = Field(
        default=[], description="addresses told when a logged-in site needs a new session (default: fallback)"
    )
    remind_after: Duration = Field(Duration("24h"), description="remind the leader once of a high hit still unhandled")
    digest_at: str = Field(default="07:30", description="local time (HH:MM) of the daily digest")
    group_wait: Duration = Field(Duration("5m"), description="send a running crawl's alerts after this anyway")
    dispatch_every: Duration = Field(Duration("15s"), description="how often `vaern run` looks for alerts to send")
    retry_initial: Duration = Field(Duration("30s"), description="first wait after a failed delivery; then doubles")
    retry_max: Duration = Field(Duration("30m"), description="longest wait between two tries")
    max_attempts: int = Field(default=3, ge=1, description="tries before a permanent (5xx) refusal is given up")
    give_up_after: Duration = Field(Duration("3d"), description="a temporary failure is retried until this old")
    thumbnails: bool = Field(default=True, description="attach a small picture of the screenshot to each hit")
    connections: int = Field(default=1, ge=1, le=10, description="SMTP connections sending at once (remote relays)")
    policy: dict[Severity, PolicyAction] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY),
        description="what each severity of a high hit sets off: immediate (the leader at once), digest (the "
        "analysts' daily digest) or none; severities not named keep their default",
    )

    @field_validator("policy")
    @classmethod
    def _policy(cls, v: dict[Severity, PolicyAction]) -> dict[Severity, PolicyAction]:
        return {**DEFAULT_POLICY, **v}  # the severities not named keep their default

    def action(self, severity: str | None) -> str:
        """What a high hit of `severity` sets off; a hit never assessed (None) is told at once."""
        if severity is None:
            return "immediate"
        return next((action for named, action in self.policy.items() if named == severity), "immediate")

    @field_validator("digest_at")
    @classmethod
    def _clock(cls, v: str) -> str:
        return _check_clock(v)


class Retention(_Model):
    """What the daily retention job in `vaern run` deletes, and when it runs."""

    dismissed_days: int = Field(default=90, ge=1, description="delete dismissed hits' evidence after this")
    crawl_runs_days: int = Field(default=365, ge=1, description="keep the crawl history this long")
    alerts_days: int = Field(default=365, ge=1, description="keep sent and failed e-mails this long")
    at: str = Field(default="03:30", description="local time (HH:MM) of the daily retention job")

    @field_validator("at")
    @classmethod
    def _clock(cls, v: str) -> str:
        return _check_clock(v)


class Browser(_Model):
    """The Chromium that renders `render: browser` pages and captures evidence (crawler/browser.py)."""

    executable: str | None = None
    timeout: float = Field(default=30.0, gt=0, description="seconds per browser step")
    load_timeout: float = Field(
        default=15.0, gt=0, description="seconds to wait for a page's load event, then read it as it is"
    )
    page_timeout: float = Field(default=90.0, gt=0, description="seconds for one page, all steps together")
    width: int = Field(default=1280, ge=320, le=4096, description="viewport width (px)")
    height: int = Field(default=900, ge=320, le=4096, description="viewport height (px)")
    locale: str = Field(default="da-DK", description="the browser's language (Accept-Language, date formats)")
    max_memory_mb: float = Field(
        default=1024.0, ge=128, description="a page whose Chromium grows past this (all its processes) fails"
    )


class ObjectLock(_Model):
    """S3 Object Lock (WORM): every evidence object is written with a retention the bucket enforces.
    The bucket must have been created with Object Lock enabled."""

    mode: Literal["governance", "compliance"] = Field(
        description="compliance: no one, not even the bucket's root account, can delete or overwrite an object "
        "before its retention ends; governance: only users with a special permission can")
    retain_days: int = Field(ge=1, le=36500, description="how long each object is held after it is written")


class EvidenceStore(_Model):
    """Where evidence files are kept (storage/blobstore.py): the `archive` folder, or an
    S3-compatible bucket (MinIO, Ceph, AWS S3) when workers on several machines capture evidence."""

    kind: Literal["local", "s3"] = "local"
    endpoint_url: str | None = Field(None, description="the S3 service, e.g. https://minio.kommune.example:9000")
    bucket: str | None = None
    prefix: str = Field("", description="keys start with this (a folder in the bucket)")
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    object_lock: ObjectLock | None = None

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        return _check_http_url(v) if v is not None else None

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", v):
            raise ValueError(f"{v!r} is not an S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/") or "\\" in v:
            raise ValueError(f"{v!r} is not a folder in the bucket (no leading '/', no '..')")
        return v

    @model_validator(mode="after")
    def _complete(self) -> EvidenceStore:
        s3_only = [name for name in ("endpoint_url", "bucket", "region", "access_key_id", "secret_access_key",
                                     "object_lock") if getattr(self, name) is not None]
        if self.prefix:
            s3_only.append("prefix")
        if self.kind == "local" and s3_only:
            raise ValueError(f"{', '.join(s3_only)}: only for kind: s3 (kind: local keeps evidence in `archive`)")
        if self.kind == "s3" and self.bucket is None:
            raise ValueError("kind: s3 needs a bucket")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither (then boto3 finds "
                             "credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or its config files)")
        return self


class Evidence(_Model):
    """How evidence is captured (crawler/capture.py) and sealed (storage/archive.py)."""

    store: EvidenceStore = Field(EvidenceStore(), description="where evidence files are kept: the archive folder or S3")

    capture: bool = True
    pdf: bool = Field(default=False, description="also print each captured page to PDF")
    max_height: int = Field(default=60000, ge=1000, description="cap on the full-page screenshot's height (px)")
    tsa_urls: list[str] = Field(default_factory=list, description="RFC 3161 timestamp authorities")
    tsa_timeout: float = Field(default=10.0, gt=0, description="seconds per timestamp request")
    tsa_ca_files: list[Path] = Field(
        default_factory=list, description="PEM files of the TSAs' roots: the trust anchors verify checks tokens against"
    )
    tsa_retry_initial: Duration = Field(Duration("1m"), description="first wait before a timestamp is asked again")
    tsa_retry_max: Duration = Field(Duration("1h"), description="longest wait between two timestamp requests")
    tsa_alert_after: Duration = Field(Duration("6h"), description="e-mail the admins when no TSA answered this long")
    tsa_alert_to: list[Email] = Field(default=[], description="who is told (default: alerts.fallback)")
    anchor_every: Duration = Field(Duration("1h"), description="timestamp the chain's head this often while it grows")
    viewport_width: int = Field(default=1280, ge=320, le=3840)
    viewport_height: int = Field(default=900, ge=320, le=4000)
    page_timeout: float = Field(default=30.0, gt=0, description="seconds to load one page for capture")
    settle_seconds: float = Field(default=2.0, ge=0, description="wait for the network to go quiet after load")
    expand_steps: int = Field(default=30, ge=0, description="scroll steps before the screenshot (lazy content)")
    expand_seconds: float = Field(default=15.0, ge=0, description="time budget for those scroll steps")
    max_scrollers: int = Field(default=5, ge=0, description="inner scrolling containers captured separately")
    max_response_mb: float = Field(default=25.0, gt=0, description="bodies larger than this are cut in the WARC")

    @field_validator("tsa_urls")
    @classmethod
    def _http_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL")
        return v


class Crawl(_Model):
    max_parallel_sites: int = Field(default=2, ge=1)
    timeout: Duration = Duration("1h")


class Review(_Model):
    """The review web app (`vaern serve`): sign-in sessions and throttling."""

    session_hours: float = Field(12.0, gt=0, description="a sign-in lasts this long")
    login_max_failures: int = Field(5, ge=1, description="failed sign-ins per user name ...")
    login_max_failures_per_address: int = Field(
        50, ge=1, description="failed sign-ins from one address, after which it is refused the names that failed there"
    )
    login_window: Duration = Field(Duration("15m"), description="... within this interval before sign-in is refused")
    page_size: int = Field(50, ge=5, le=500, description="hits per page in the list")
    safe_view: bool = Field(
        True, description="screenshots blurred until asked for: the list's thumbnails, the detail page, the e-mails"
    )


class Ocr(_Model):
    """Reading text in a page's images (crawler/ocr.py): Tesseract, bounded per page."""

    enabled: bool | None = Field(
        default=None,
        description="fetch and read a page's images: null (default) where tesseract is installed, true always "
        "(vaern check warns when tesseract or its language data is missing), false never",
    )
    languages: str = Field(default="dan", description="Tesseract language data, e.g. dan or dan+eng")
    max_images: int = Field(default=5, ge=0, le=50, description="images read per page at most")
    seconds_per_image: float = Field(default=10.0, gt=0, description="time one image may take")
    seconds_per_page: float = Field(default=30.0, gt=0, description="time a page's images may take in all")


class DiscoveryProvider(_Model):
    """One search service discovery asks (vaern/discovery/providers.py)."""

    kind: Literal["brave", "searxng"]
    base_url: HttpUrl | None = Field(
        default=None, description="brave: https://api.search.brave.com (default); searxng: your instance's address"
    )
    api_key: SecretStr | None = Field(default=None, description="brave: the subscription token, as ${VAR}")
    timeout: float = Field(default=15.0, gt=0, description="seconds per query")
    count: int = Field(default=20, ge=1, le=50, description="results asked for per query")

    @model_validator(mode="after")
    def _needs(self) -> DiscoveryProvider:
        if self.kind == "brave" and self.api_key is None:
            raise ValueError("the brave provider needs api_key (e.g. api_key: ${BRAVE_SEARCH_KEY})")
        if self.kind == "searxng" and self.base_url is None:
            raise ValueError("the searxng provider needs base_url (your instance, e.g. http://searx.internal:8080)")
        return self


class Discovery(_Model):
    """Finding pages that name watched people on sites nobody listed (vaern/discovery/): each
    watched name is searched on each provider once per `every`, within `budget_per_day` queries
    in all; results on sites not watched wait in the review app's "Fundet andre steder"."""

    providers: list[DiscoveryProvider] = []
    budget_per_day: int = Field(default=100, ge=0, description="queries per day, all providers together")
    every: Duration = Field(Duration("1d"), description="how often one name is searched again on one provider")
    check_every: Duration = Field(Duration("15m"), description="how often `vaern run` looks for searches that are due")
    query: str = Field(default='"{name}"', description="the query; {name} becomes each watched name")

    @field_validator("query")
    @classmethod
    def _query(cls, v: str) -> str:
        if "{name}" not in v:
            raise ValueError(f"{v!r} has no {{name}} placeholder")
        return v


class Config(_Model):
    """The whole of `vaern.yaml`; build it with `load_config`, which also checks across sections."""

    organisation: str
    timezone: str = "Europe/Copenhagen"
    language: Literal["da", "en"] = "da"
    database: str = "sqlite:///var/vaern.db"
    # Where crawls run: `local`, child processes of `vaern crawl`/`vaern run` on this machine; or
    # `postgres`, jobs in a queue in the PostgreSQL database that `vaern worker`s on any number of
    # machines take (crawlqueue.py).
    queue: Literal["local", "postgres"] = "local"
    archive: Path = Path("var/archive")
    review_url: str = "http://127.0.0.1:8000"
    smtp: Smtp = Smtp()
    network: Network = Network()
    units: list[Unit] = []
    people: list[Person] = []
    people_csv: Path | None = None
    sites: list[Site] = []
    # Sites added from the review app ("Fundet andre steder" -> watch the site): a YAML list of
    # site entries in a file of its own, merged into `sites` at load (loading.py), never edited
    # into vaern.yaml by a program. Absent file: no added sites.
    sites_file: Path = Path("added-sites.yaml")
    discovery: Discovery = Discovery()
    matching: Matching = Matching()
    alerts: Alerts = Alerts()
    retention: Retention = Retention()
    browser: Browser = Browser()
    evidence: Evidence = Evidence()
    crawl: Crawl = Crawl()
    review: Review = Review()
    ocr: Ocr = Ocr()
    # Where the config was read from; set by load_config, not by the user.
    source: Path | None = Field(None, exclude=True)

    @field_validator("organisation")
    @classmethod
    def _organisation(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("may not be empty")
        return v.strip()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            hint = _zone_hint(v)
            raise ValueError(f"{v!r} is not a known time zone{hint}") from None
        return v

    @field_validator("database")
    @classmethod
    def _database(cls, v: str) -> str:
        # The URL may carry a password: name only its scheme in the message.
        scheme = v.split("://", 1)[0] if "://" in v else ""
        if scheme == "sqlite" or scheme in ("postgresql", "postgresql+psycopg", "postgres"):
            return v
        shown = f"a {scheme!r} URL" if scheme else "not a database URL"
        raise ValueError(f"{shown}; use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE")

    @field_validator("queue")
    @classmethod
    def _queue(cls, v: str, info: ValidationInfo) -> str:
        database = info.data.get("database")
        if v == "postgres" and isinstance(database, str) and not database.startswith("postgres"):
            raise ValueError(
                "the postgres queue keeps its jobs in the database, which must then be PostgreSQL "
                "(database: postgresql+psycopg://USER:PASSWORD@HOST/DATABASE), not SQLite"
            )
        return v

    @field_serializer("database", when_used="json")
    def _database_json(self, v: str) -> str:
        # As SecretStr does for smtp.password: JSON goes to logs and files, so no password in it.
        return redact_url(v)

    @field_validator("review_url")
    @classmethod
    def _review_url(cls, v: str) -> str:
        return _check_http_url(v).rstrip("/")

    def unit(self, unit_id: str | None) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    def site(self, site_id: str) -> Site:
        return next(s for s in self.sites if s.id == site_id)

    def person(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        # A PostgreSQL URL may hold a password; SecretStr covers smtp.password.
        for name, value in super().__repr_args__():
            yield name, (redact_url(value) if name == "database" and isinstance(value, str) else value)


# ---------------------------------------------------------------------------------------------
# Helpers of the schema's own validators


def _zone_hint(text: str) -> str:
    folded = text.lower().replace("ø", "o").replace("oe", "o").replace("æ", "ae").replace("å", "aa")
    if any(w in folded for w in ("kobenhavn", "copenhagen", "danmark", "denmark", "cest")):
        return " (did you mean 'Europe/Copenhagen'?)"
    return suggest(text, available_timezones()) or " (like Europe/Copenhagen)"


def redact_url(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]+@", r"\1***@", url)
