"""What a page says, as one hash that page noise does not move: the crawler's "unchanged" test.

A raw-byte hash sees every fresh CSRF token, nonce, random avatar host (WordPress picks one of
`0/1/2.gravatar.com` per request) and rendered timestamp as a change, so an unchanged site
would be matched again on every crawl. The fingerprint is taken from what the matcher reads and
what the crawl follows instead:

- the title and the extracted text (tokens in hidden inputs, `<meta>` and attributes are not in
  it to begin with), with the noise that text does carry replaced by placeholders: relative times
  ("for 5 minutter siden", "3 hours ago", "i går"), clock times and dates, view/read/like
  counters ("1.204 visninger") and token-like strings (long runs of letters and digits mixed);
- the page's links to its own host (other hosts are CDNs, avatars and ads) that are no traps
  (a login link carries the page's own address in `next=`; linkpolicy.py), normalised as the
  spider follows them, with token-like query values (8+ letters and digits mixed, or a parameter
  named like a nonce, token, signature, session or timestamp) blanked, as a sorted set.

A name cannot hide in what is left out: names are words, and no word is replaced. Used for
`Page.content_hash` (HTTP and rendered pages alike) and for spotting one page served under two
URLs within a crawl. No configuration.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vaern.crawler.linkpolicy import trap_reason

_UNITS_DA = r"sekund(?:er)?|minut(?:ter)?|min\.?|time(?:r)?|t\.|dag(?:e)?|uge(?:r)?|måned(?:er)?|år"
_UNITS_EN = r"seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|s|m|h|d|w"
_NOISE = [
    # Relative times.
    re.compile(rf"\b(?:for\s+)?(?:\d+|en|et|ét|få)\s+(?:{_UNITS_DA})\s+siden\b", re.IGNORECASE),
    re.compile(rf"\b(?:\d+|an?|a few)\s*(?:{_UNITS_EN})\s+ago\b", re.IGNORECASE),
    re.compile(r"\b(?:lige\s+nu|i\s+dag|i\s+går|i\s+forgårs|just\s+now|yesterday|today)\b", re.IGNORECASE),
    # Clock times and numeric dates.
    re.compile(r"\b\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:\s*[ap]\.?m\.?)?\b", re.IGNORECASE),
    re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
    # Counters: a number before or after a counted word.
    re.compile(
        r"\b\d[\d.,\s]*\s*(?:visninger|visning|læst|læsninger|views?|reads?|hits|likes?|synes\s+godt\s+om"
        r"|svar|replies|kommentarer|comments?|besøg|visits?)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?:visninger|views?|læst|reads?|hits|likes?)\s*:?\s*\d[\d.,]*", re.IGNORECASE),
    # Tokens: 16+ characters of letters and digits mixed (hex ids, base64 nonces, session ids).
    re.compile(r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}\b"),
]
_TOKEN_VALUE = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_\-+/=.]{8,}$")
_TOKEN_NAME = re.compile(r"nonce|token|csrf|xsrf|session|sid$|sig|hash|key|ts$|time|rand|cache|_$", re.IGNORECASE)


def quiet_text(text: str) -> str:
    """`text` with the noise described in the module docstring replaced by `#`."""
    for pattern in _NOISE:
        text = pattern.sub("#", text)
    return " ".join(text.split())


def _quiet_link(url: str) -> str:
    parts = urlsplit(url)
    query = [
        (k, "#" if _TOKEN_VALUE.match(v) or _TOKEN_NAME.search(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def fingerprint(
    title: str, text: str, links: Iterable[str], url: str, normalise: Callable[[str], str] | None = None
) -> str:
    """The SHA-256 of the page's quiet title, text and own-host links (see the module docstring)."""
    host = urlsplit(url).hostname
    own = sorted(
        {
            _quiet_link(normalise(link) if normalise else link)
            for link in links
            if urlsplit(link).hostname == host and trap_reason(link) is None
        }
    )
    digest = hashlib.sha256()
    digest.update(quiet_text(title).encode("utf-8"))
    digest.update(b"\x00")
    digest.update(quiet_text(text).encode("utf-8"))
    digest.update(b"\x00")
    digest.update("\n".join(own).encode("utf-8"))
    return digest.hexdigest()


__all__ = ["fingerprint", "quiet_text"]
