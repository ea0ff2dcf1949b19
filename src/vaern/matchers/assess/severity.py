"""How bad a post is, from its categories, and what a leader can do about it.

Severity (CONTRACT.md: `critical` | `high` | `medium` | `low` | `none`): a threat or published
private data is `critical`; an accusation of a crime or incitement against the person `high`; a
gross insult `medium`; criticism or opinion `low`; praise and neutral text `none`.

A report to the police fits a threat, incitement, an accusation (defamation) and private data
spread to harass (with a threat, insult, accusation or incitement beside it, or a phrase like
"vi ved hvor han bor"); private data published without that is a matter for Datatilsynet.
What each severity sets off is the config's `alerts.policy`. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

SEVERITIES = ("critical", "high", "medium", "low", "none")  # gravest first
_OF_CATEGORY = {
    "threat": "critical",
    "private_info": "critical",
    "accusation": "high",
    "incitement": "high",
    "insult": "medium",
    "criticism": "low",
}
# The order categories are ranked in, gravest first (the passage quoted is the gravest one's).
CATEGORY_RANK = ("threat", "private_info", "incitement", "accusation", "insult", "criticism")
_HARASSING = frozenset(("threat", "insult", "accusation", "incitement"))


def severity_of(categories: Iterable[str]) -> str:
    """The gravest severity of `categories`; `none` for none."""
    found = {_OF_CATEGORY[c] for c in categories if c in _OF_CATEGORY}
    return next((s for s in SEVERITIES if s in found), "none")


def rank(severity: str | None) -> int:
    """0 for `critical` … 4 for `none` (and for an unknown or missing severity)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES) - 1


def category_rank(category: str) -> int:
    return CATEGORY_RANK.index(category) if category in CATEGORY_RANK else len(CATEGORY_RANK)


def police_fits(categories: Iterable[str], private_kinds: Iterable[str] = ()) -> bool:
    """Does a report to the police fit a post with these categories (and private data kinds)?"""
    cats = set(categories)
    if cats & {"threat", "incitement", "accusation"}:
        return True
    if "private_info" in cats:
        return bool(cats & _HARASSING) or "whereabouts" in set(private_kinds)
    return False
