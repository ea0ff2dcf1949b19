"""The configuration: `vaern.yaml` (and its `people_csv`) read once into a frozen `Config`.

    schema.py     every section of the file, its defaults and the rules of each field

Everything else imports from here: `from vaern.config import Config, Site`.
"""

from vaern.config.schema import (
    CATEGORIES,
    SHOW_MORE_LABELS,
    Alerts,
    Browser,
    Config,
    Contact,
    Crawl,
    Evidence,
    Expand,
    Follow,
    Matching,
    Network,
    Person,
    Retention,
    Review,
    Site,
    Smtp,
    Unit,
    parse_interval,
    redact_url,
)

__all__ = [
    "CATEGORIES",
    "SHOW_MORE_LABELS",
    "Alerts",
    "Browser",
    "Config",
    "Contact",
    "Crawl",
    "Evidence",
    "Expand",
    "Follow",
    "Matching",
    "Network",
    "Person",
    "Retention",
    "Review",
    "Site",
    "Smtp",
    "Unit",
    "parse_interval",
    "redact_url",
]
