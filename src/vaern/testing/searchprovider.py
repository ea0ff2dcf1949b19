"""A fake search provider on 127.0.0.1 for discovery tests: Brave's and SearXNG's APIs, answering
from recorded JSON (searchdata/), and failing on request the ways real providers fail.

Routes of a `SiteServer`: `/res/v1/web/search` (Brave; needs the `X-Subscription-Token` given as
`key`) and `/search?format=json` (SearXNG; any other format is a 403, as an instance without JSON
enabled answers). `script(query, mode)` chooses how a query is answered:

    "results"      the recorded answer (brave.json / searxng.json), `{site}`, `{site2}` and
                   `{watched}` replaced by the addresses given
    "empty"        a valid answer with no results (SearXNG: with unresponsive engines)
    "403" / "429"  refused / rate limited (429 with Retry-After)
    "malformed"    a 200 whose body is not JSON
    "wrong-shape"  JSON, but not a result page

Queries not scripted get "results". `queries` lists what arrived (query, provider).
"""

from __future__ import annotations

import json
from pathlib import Path

from vaern.testing.siteserver import Exchange, SiteServer

DATA = Path(__file__).parent / "searchdata"


class FakeSearch:
    def __init__(self, server: SiteServer, *, key: str = "test-key", addresses: dict[str, str] | None = None) -> None:
        self.server, self.key = server, key
        self.addresses = addresses or {}
        self.modes: dict[str, str] = {}
        self.queries: list[tuple[str, str]] = []
        server.route("/res/v1/web/search", self._brave)
        server.route("/search", self._searxng)

    def script(self, query: str, mode: str) -> None:
        self.modes[query] = mode

    def _recorded(self, name: str) -> str:
        text = (DATA / name).read_text(encoding="utf-8")
        for key, value in self.addresses.items():
            text = text.replace("{" + key + "}", value)
        return text

    def _fail(self, ex: Exchange, mode: str) -> bool:
        if mode == "403":
            ex.send(403, json.dumps({"error": "Forbidden"}), "application/json")
        elif mode == "429":
            ex.send(429, json.dumps({"error": "Too Many Requests"}), "application/json", {"Retry-After": "3600"})
        elif mode == "malformed":
            ex.send(200, "<html><body>Bad gateway</body></html>", "application/json")
        elif mode == "wrong-shape":
            ex.send(200, json.dumps(["not", "a", "result", "page"]), "application/json")
        else:
            return False
        return True

    def _brave(self, ex: Exchange) -> None:
        query = ex.query.get("q", "")
        self.queries.append((query, "brave"))
        if ex.headers.get("X-Subscription-Token") != self.key:
            ex.send(401, json.dumps({"type": "ErrorResponse", "error": {"code": "SUBSCRIPTION_TOKEN_INVALID"}}),
                    "application/json")
            return
        mode = self.modes.get(query, "results")
        if self._fail(ex, mode):
            return
        if mode == "empty":
            ex.send(200, json.dumps({"type": "search", "query": {"original": query}}), "application/json")
            return
        ex.send(200, self._recorded("brave.json"), "application/json")

    def _searxng(self, ex: Exchange) -> None:
        query = ex.query.get("q", "")
        self.queries.append((query, "searxng"))
        if ex.query.get("format") != "json":
            ex.send(403, "<h1>403 Forbidden</h1>", "text/html")
            return
        mode = self.modes.get(query, "results")
        if self._fail(ex, mode):
            return
        name = "searxng-unresponsive.json" if mode == "empty" else "searxng.json"
        ex.send(200, self._recorded(name), "application/json")
