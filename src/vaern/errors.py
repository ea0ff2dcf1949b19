"""Exceptions Værn raises on purpose.

    VaernError
    ├── ConfigError          the config is invalid; carries every problem found (exit 2)
    ├── BrowserNotFound      no Chromium to drive; says what to install
    ├── BlockedAddress       the SSRF guard refused a URL
    ├── ArchiveError         the evidence archive is inconsistent
    ├── EvidenceStoreUnavailable  the evidence store (S3) cannot be reached or refuses us
    └── DatabaseUnavailable  the database in the config cannot be opened
"""

from __future__ import annotations

from dataclasses import dataclass


class VaernError(Exception):
    """Base class of every error Værn raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a config file, located as precisely as we can."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class ConfigError(VaernError):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class BrowserNotFound(VaernError):
    """No Chromium could be found; the message says how to get one."""


class BlockedAddress(VaernError):
    """A URL resolves to an address the SSRF guard does not allow."""


class ArchiveError(VaernError):
    """The evidence archive is missing or inconsistent."""


class EvidenceStoreUnavailable(VaernError):
    """The S3-compatible evidence store cannot be reached, or refuses the bucket or the keys; says
    which store (without its credentials). Not an ArchiveError: nothing is known to be missing."""


class DatabaseUnavailable(VaernError):
    """The configured database cannot be reached or opened; says which (without its password)."""
