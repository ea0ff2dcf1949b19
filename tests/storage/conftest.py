"""Fixtures for the archive and export tests: the evidence fixture site, a local TSA, synthetic captures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from vaern.domain import Capture, CapturedFile
from vaern.storage.archive import sha256_hex
from vaern.testing.evidencesite import Site, fixture_site
from vaern.testing.tsa import LocalTsa, local_tsa


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    """The fixture site, shared; tests that edit its post set it back first."""
    with fixture_site() as s:
        yield s


@pytest.fixture(scope="session")
def tsa() -> Iterator[LocalTsa]:
    """root -> intermediate -> TSA; replies carry the TSA's and the intermediate's certificates,
    not the root (as most production TSAs do)."""
    with local_tsa() as server:
        yield server


@pytest.fixture(scope="session")
def tsa_with_root() -> Iterator[LocalTsa]:
    """The same shape of TSA whose replies carry the root as well."""
    with local_tsa(include_root=True) as server:
        yield server


@pytest.fixture
def flaky_tsa() -> Iterator[LocalTsa]:
    """A TSA of its own for a test that takes it down (`down = True`) and brings it back."""
    with local_tsa() as server:
        yield server


def make_capture(url: str = "http://127.0.0.1:1/post/1", **files: bytes) -> Capture:
    """A capture built from given bytes, hashed as capture does (for archive tests)."""
    kinds = {"screenshot": ("screenshot.png", "image/png"), "html": ("page.html", "text/html"),
             "text": ("text.txt", "text/plain"), "warc": ("capture.warc.gz", "application/warc")}
    files = {"screenshot": b"\x89PNG fake", "html": b"<p>Ren\xc3\xa9</p>", "text": "René".encode(), **files}
    now = datetime(2026, 11, 21, 14, 3, 15, tzinfo=UTC)
    return Capture(
        url=url, site_id="hadeside", reason="hit", detected_at=now - timedelta(seconds=4), started_at=now,
        finished_at=now + timedelta(seconds=2), final_url=url, status=200, title="Post",
        files=tuple(CapturedFile(k, kinds.get(k, (f"{k}.bin", "application/octet-stream"))[0],
                                 kinds.get(k, ("", "application/octet-stream"))[1], v, sha256_hex(v))
                    for k, v in files.items()),
    )
