"""Fixtures for the review app: a seeded world, the app served by uvicorn on 127.0.0.1:0 in a
thread, HTTP clients signed in as each role, and one Chromium for the review app's browser tests."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.review.seeding import PASSWORD, World, build_world
from vaern.review.webapp import create_app

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


class LiveServer:
    """The app under uvicorn on a free port of 127.0.0.1, in a background thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="none", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the review app did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def sign_in(base: str, username: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=120)
    form = client.get("/login")
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf": csrf_of(form.text), "next": "/hits"}
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def live(world: World) -> Iterator[LiveServer]:
    with LiveServer(create_app(world.config)) as server:
        yield server


@pytest.fixture(scope="module")
def client_as(live: LiveServer) -> Iterator[Callable[[str], httpx.Client]]:
    clients: dict[str, httpx.Client] = {}

    def get(username: str) -> httpx.Client:
        if username not in clients:
            clients[username] = sign_in(live.url, username)
        return clients[username]

    yield get
    for c in clients.values():
        c.close()


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """One real Chromium for every browser test of the review app (found as CONTRACT.md says:
    /usr/bin/chromium here); closed after them, so that later tests own this thread's event loop."""
    from playwright.sync_api import sync_playwright

    from vaern.crawler.browser import launch_options
    from vaern.crawler.guardproxy import GuardProxy
    from vaern.crawler.netguard import NetGuard

    # The review app listens on loopback: the guard lets the browser reach it, and nothing else.
    with GuardProxy(NetGuard(["127.0.0.1"]), default_limit=50 << 20) as proxy, sync_playwright() as p:
        browser = p.chromium.launch(**launch_options(proxy=proxy.url))
        yield browser
        browser.close()


def ref(hit_id: int) -> str:
    return f"h-{hit_id:06d}"
