"""One URL per page, and the links ordinary site software uses to trap a crawler.

Controlled by `sites[].normalise` (extra parameters to drop, regex rewrites) and
`sites[].follow.builtin_deny` / `follow.max_per_family`.

Normalisation (`UrlNormaliser`), applied to every link before it is followed, so the many
addresses blog and forum software give one page become one:
- the fragment goes;
- parameters that never change what a page says are dropped: `replytocom` (WordPress's reply
  link re-serves the post), campaign and click ids (`utm_*`, `fbclid`, `gclid`, …), session ids;
- a first-page parameter (`page=1`, `side=1`, `paged=1`, `pg=1`, `start=0`, `offset=0`) goes:
  django-spirit's `?page=1` is the bare topic URL;
- then the operator's `drop_params` and `rewrite` rules, in order.
Pages that still share their content under two URLs (WordPress's newest `comment-page-N/` is the
post itself) are caught by the spider, which reports a page's content once per crawl
(fingerprint.py) and honours `rel=canonical`.

Traps (`TrapGuard`): links nobody needs to read and that multiply without end —
- `BUILTIN_DENY`: login, logout, register, reply-to, print, share and feed links (a bare
  `/feed/` excepted: a social site's news feed is content), in Danish,
  English, Norwegian, Swedish and German, as whole path segments or as query parameters, so a
  post whose slug merely contains such a word is still read;
- self-nesting return chains: a URL whose `next=`/`redirect=`/`return…=` value itself carries
  such a parameter (`/user/login/?next=/user/login/%3Fnext%3D…`), a path that repeats a segment
  three times, or a URL longer than `MAX_URL_CHARS`;
- a per-crawl budget per URL family (the path with digit runs as wildcards, plus the names of
  the query parameters): past `follow.max_per_family` requests, the family is a suspected trap
  (an endless calendar, a counter in the path) and no more of it is fetched.
Each refusal is counted by reason; the first time a family runs out it is logged as
"trap suspected".
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from fnmatch import fnmatchcase
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from vaern.config import Site

log = logging.getLogger(__name__)

MAX_URL_CHARS = 600

# Parameters that never change what a page says (fnmatch patterns, compared in lower case).
DROP_PARAMS = (
    "replytocom", "utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_gl",
    "igshid", "yclid", "phpsessid", "sid", "jsessionid", "sessionid", "s_kwcid", "ref_src",
)  # fmt: skip
# A parameter naming the first page of a paged list: the page without it is the same.
FIRST_PAGE = {"page": "1", "side": "1", "paged": "1", "pg": "1", "cpage": "1", "start": "0", "offset": "0"}

_SEG = r"(?:^|/)(?:{words})(?:/|\.php|\.aspx?|\.html?|$)"
_PARAM = r"(?:^|&)(?:{names})="
_ACTION = r"(?:^|&)(?:action|do|mode|task|view|type)=(?:{words})(?:&|$)"

_LOGIN = (
    "wp-login|log-?in|login|log-?on|signin|sign-in|log-?ind|logind|logga-in|logg-inn|innlogging"
    "|anmelden|einloggen"
)
_LOGOUT = "log-?out|logout|signout|sign-out|log-?ud|logud|logga-ut|logg-ut|abmelden|ausloggen"
_REGISTER = (
    "register|registrer|registrering|registrera|registrieren|signup|sign-up|join|tilmeld|tilmelding"
    "|opret-?bruger|opret-?konto|opret-?profil|create-?account|new-?account|lostpassword|glemt-?kodeord"
    "|password-?reset|reset-?password"
)
_REPLY = (
    "reply|svar|besvar|quote|citer|citat|comment-reply|antwort|antworten|edit|rediger|report|anmeld|publish"
    "|new-?topic|newtopic|new-?reply|newreply|compose|skriv-?indlæg|opret-?emne|opret-?indlæg"
)
_PRINT = "print|udskriv|utskrift|drucken|printvenlig"
_SHARE = (
    "share|sharer|del-?side|deling|teilen|mail-?a-?friend|email-?friend|tip-?en-?ven|send-?til-?en-?ven"
)
# A bare "/feed/" may be a social site's news feed (content); a post's or the comments' feed, or
# one in a named format, is a feed (WordPress's front-page /feed/ costs one request: not HTML).
_FEED = "rss|rss2|atom|rdf|xmlrpc|wp-json|oembed|wp-admin|trackback|[^/]+/feed|feed/(?:rss2?|atom|rdf)"

BUILTIN_DENY: dict[str, tuple[str, ...]] = {
    "login": (_SEG.format(words=_LOGIN), _ACTION.format(words="login|signin|log-?ind")),
    "logout": (_SEG.format(words=_LOGOUT), _ACTION.format(words="logout|signout|log-?ud")),
    "register": (_SEG.format(words=_REGISTER), _ACTION.format(words="register|signup|lostpassword|rp|resetpass")),
    "reply": (
        _SEG.format(words=_REPLY),
        _PARAM.format(names="replytocom|reply|reply_to|replyto|quote|svar|citer"),
        _ACTION.format(words="reply|quote|edit|post|newreply|svar"),
    ),
    "print": (_SEG.format(words=_PRINT), _PARAM.format(names="print|printable|udskriv"), r"(?:^|&)format=print"),
    "share": (_SEG.format(words=_SHARE), _PARAM.format(names="share|del|sharer")),
    "feed": (_SEG.format(words=_FEED), _PARAM.format(names="feed|rss|atom"), r"\.(?:rss|atom|rdf)$"),
}
_DENY = {
    reason: [re.compile(p, re.IGNORECASE) for p in patterns] for reason, patterns in BUILTIN_DENY.items()
}
# Parameters that carry a return address; nested in their own value they grow without end.
_RETURN = re.compile(
    r"(?:^|[?&])(?:next|redirect|redirect_to|redirect_uri|return|returnurl|return_to|returnto|continue|goto|back"
    r"|target)=",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"-?\d+")
_PAGED_PATH = re.compile(r"/(?:page|side|comment-page)[-/]\d+/?$")


class UrlNormaliser:
    """Makes the URLs of one page one URL (see the module docstring)."""

    def __init__(self, site: Site) -> None:
        self.drop = (*DROP_PARAMS, *(p.lower() for p in site.normalise.drop_params))
        self.rewrites = [(re.compile(r.pattern), r.replace) for r in site.normalise.rewrite]

    def __call__(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError:
            return url
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            kept = [
                (k, v) for k, v in pairs
                if not any(fnmatchcase(k.lower(), p) for p in self.drop) and FIRST_PAGE.get(k.lower()) != v
            ]
            if len(kept) != len(pairs):  # otherwise the query stays as the site wrote it
                query = urlencode(kept)
        out = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))
        for pattern, replace in self.rewrites:
            out = pattern.sub(replace, out)
        return out

    def first_page(self, url: str) -> str | None:
        """For page 2, 3 … of a paged thread or list (`?page=N`, `/page/N/`, `/comment-page-N/`),
        the URL of its first page; else None. Forums repeat a topic's title on every page."""
        url = self(url)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        paged = [(k, v) for k, v in query if k.lower() in FIRST_PAGE and v.isdigit()]
        path = _PAGED_PATH.sub("/", parts.path)
        if not paged and path == parts.path:
            return None
        kept = [(k, v) for k, v in query if (k, v) not in paged]
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(kept) if paged else parts.query, ""))


def family(url: str) -> str:
    """A URL's family: host, path with digit runs as `#`, and the sorted query parameter names."""
    parts = urlsplit(url)
    names = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return f"{parts.hostname}{_DIGITS.sub('#', parts.path)}?{'&'.join(names)}"


def trap_reason(url: str, builtin: bool = True) -> str | None:
    """Why `url` is a link not to follow (a `BUILTIN_DENY` reason, "nested", "repeating",
    "too long"), or None. With `builtin=False` only the shape checks apply."""
    if len(url) > MAX_URL_CHARS:
        return "too long"
    parts = urlsplit(url)
    if builtin:
        path = unquote(parts.path)
        query = parts.query
        for reason, patterns in _DENY.items():
            if any(p.search(path) or p.search(query) for p in patterns):
                return reason
    # A return address inside a return address: the chain nests one level deeper on every page.
    for _key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _RETURN.search(value) or _RETURN.search(unquote(value)):
            return "nested"
    segments = [s for s in parts.path.split("/") if s]
    if segments and max(Counter(segments).values()) >= 3:
        return "repeating"
    return None


class TrapGuard:
    """Per crawl: which links to refuse as traps, with counts per reason (see the module docstring)."""

    def __init__(self, site: Site) -> None:
        self.site_id = site.id
        self.builtin = site.follow.builtin_deny
        self.budget = site.follow.max_per_family
        self.families: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.suspected: list[str] = []  # families that ran out of budget, in order

    def refuses(self, url: str) -> str | None:
        """The reason to refuse `url`, or None (and the URL is counted against its family)."""
        reason = trap_reason(url, self.builtin)
        if reason is None:
            key = family(url)
            if self.families[key] >= self.budget:
                reason = "family budget"
                if key not in self.suspected:
                    self.suspected.append(key)
                    log.warning(
                        "site %s: trap suspected: more than %d links of the family %s; no more of it this crawl",
                        self.site_id, self.budget, key,
                    )
            else:
                self.families[key] += 1
        if reason is not None:
            self.refused[reason] += 1
        return reason


__all__ = ["BUILTIN_DENY", "DROP_PARAMS", "TrapGuard", "UrlNormaliser", "family", "trap_reason"]
