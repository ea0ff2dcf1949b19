"""Fixtures for crawler tests: the fixture site on a real local server, and a config for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaern.config import Config, Network, Site
from vaern.testing.siteserver import SiteServer

SITE_DIR = Path(__file__).resolve().parent.parent / "site"


def crawl_config(
    start_urls: list[str], allow_private: tuple[str, ...] = ("127.0.0.1",), **site: Any
) -> tuple[Config, Site]:
    """A config with one site `t`, politeness off (loopback), short timeouts."""
    settings: dict[str, Any] = {"delay": 0, "autothrottle": False, "concurrency": 8, "timeout": 2, **site}
    site_model = Site(id="t", start_urls=start_urls, **settings)
    config = Config(organisation="Testby", network=Network(allow_private_hosts=list(allow_private)), sites=[site_model])
    return config, site_model


@pytest.fixture
def site_server() -> Iterator[SiteServer]:
    """The fixture site (tests/site) plus the behaviour paths, fresh for each test."""
    with SiteServer(SITE_DIR) as server:
        yield server
