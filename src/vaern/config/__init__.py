"""The configuration: `vaern.yaml` (and its `people_csv`) read once into a frozen `Config`.

    schema.py     every section of the file, its defaults and the rules of each field
    loading.py    `load_config(path)`: read, substitute, validate, check across sections
    sources.py    reading YAML and CSV so that every value remembers its file and line
    messages.py   pydantic's errors and the config's locations in words an HR officer can act on
    schedules.py  a site's `schedule` (an interval or a cron line) and APScheduler triggers for it
    summary.py    what `vaern check` prints for a valid config

Everything else imports from here: `from vaern.config import Config, Site, load_config`.
"""

from vaern.config.loading import load_config
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
    Ocr,
    Person,
    Retention,
    Review,
    Site,
    Smtp,
    Unit,
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
    "Ocr",
    "Person",
    "Retention",
    "Review",
    "Site",
    "Smtp",
    "Unit",
    "load_config",
    "redact_url",
]
