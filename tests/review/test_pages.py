"""The pages as HTML: list filters, search and counts; the detail's evidence; decisions, checklist,
notes; the security headers; escaping of everything that came from a crawled page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from tests.review.conftest import LiveServer, csrf_of, ref, sign_in
from tests.review.seeding import POSTED_LOCAL, XSS_TITLE, World, build_world
from vaern import clock
from vaern.alerts import dispatch as outbox
from vaern.review.webapp import create_app
from vaern.storage.db import make_engine, session_factory


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-hit="(h-\d+)"', html)


def test_list_is_newest_first_with_counts_per_status(world: World, client_as: Callable[[str], httpx.Client]) -> None:
    html = client_as("analytiker").get("/hits").text
    by_age = ["b_secret", "a_threat", "a_xss", "b_other", "a_possible"]  # 2 h, 5 h, 30 h, 50 h, 80 h old
    assert _rows(html) == [ref(world.hits[n]) for n in by_age]
    assert 'data-status="new">5<' in html and 'data-status="confirmed">0<' in html


def test_list_filters_and_search(world: World, client_as: Callable[[str], httpx.Client]) -> None:
    c = client_as("analytiker")

    def hits(**params: str) -> set[str]:
        return set(_rows(c.get("/hits", params=params).text))

    def refs(*names: str) -> set[str]:
        return {ref(world.hits[n]) for n in names}

    assert hits(person="rr") == refs("a_threat", "a_xss")
    assert hits(unit="jobcenter") == refs("b_secret", "b_other")
    assert hits(site="forum") == refs("a_xss", "a_possible", "b_other")
    assert hits(confidence="possible") == refs("a_possible")
    assert hits(category="private_info") == refs("b_secret")
    assert hits(category="insult", unit="boern-familie") == refs("a_xss")
    # Dates are whole days (UTC): from the day 55 h ago holds the hits 2-50 h old, not the 80 h one.
    today = clock.utcnow().date()
    day_55h_ago = (clock.utcnow() - timedelta(hours=55)).date().isoformat()
    assert hits(since=day_55h_ago) == refs("b_secret", "a_threat", "a_xss", "b_other")
    assert hits(until=(today - timedelta(days=5)).isoformat()) == set()
    assert len(hits(until=today.isoformat())) == 5
    # Search: names without accents or in other case, addresses, words of the excerpt.
    assert hits(q="soren moller") == refs("a_possible")
    assert hits(q="SØREN") == refs("a_possible")
    assert hits(q="rené") == refs("a_threat", "a_xss")
    assert hits(q="thread/11") == refs("b_other")
    assert hits(q="hemmelig") == refs("b_secret")
    assert hits(q="100%_") == set()
    # Unknown filter values are ignored, not errors.
    assert c.get("/hits", params={"status": "bogus", "since": "yesterday", "page": "x"}).status_code == 200


def test_counts_follow_the_filters(world: World, client_as: Callable[[str], httpx.Client]) -> None:
    html = client_as("analytiker").get("/hits", params={"unit": "jobcenter", "status": "new"}).text
    assert 'data-status="new">2<' in html
    assert set(_rows(html)) == {ref(world.hits["b_secret"]), ref(world.hits["b_other"])}


def test_detail_shows_the_evidence_and_verifies_it(world: World, client_as: Callable[[str], httpx.Client]) -> None:
    html = client_as("analytiker").get(f"/hits/{ref(world.hits['a_threat'])}").text
    assert "<mark>Rene Rosenkilde</mark>" in html  # the excerpt, name marked
    assert "full_name" in html and "97.5" in html  # why it matched
    assert html.count('data-verified="yes"') == 2 and 'data-verified="no"' not in html
    assert 'class="d-add">+Han burde fyres i dag' in html and 'class="d-del">-Vi ved hvor han bor' in html
    assert "lene@kommune.example" in html and "sendt" in html  # the alert sent
    assert "Frist for politianmeldelse" in html and "timer tilbage" in html
    assert 'sandbox=""' in html  # archived HTML only in a sandboxed frame
    for h in re.findall(r"<code>([0-9a-f]{64})</code>", html):
        assert len(h) == 64


def test_police_deadline_counts_from_the_posts_own_date_where_the_page_gives_one(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    c = client_as("analytiker")
    posted_utc = POSTED_LOCAL.replace(tzinfo=ZoneInfo("Europe/Copenhagen")).astimezone(UTC)
    due = (posted_utc + timedelta(hours=72)).strftime("%Y-%m-%dT%H:%M:%SZ")
    html = c.get(f"/hits/{ref(world.hits['b_secret'])}").text
    assert f'data-deadline="{due}"' in html and "72 timer fra den dato, siden angiver" in html
    assert "overskredet" in html  # four days ago: the 72 hours have passed
    # Without a date on the page, 72 hours from first seen, said plainly.
    hit = c.get(f"/api/hits/{ref(world.hits['a_xss'])}").json()
    first_seen = datetime.fromisoformat(hit["first_seen"].replace("Z", "+00:00"))
    html = c.get(f"/hits/{ref(world.hits['a_xss'])}").text
    assert f'data-deadline="{(first_seen + timedelta(hours=72)).strftime("%Y-%m-%dT%H:%M:%SZ")}"' in html
    assert "72 timer fra først set" in html and "timer tilbage" in html  # 30 h old: 42 h left


def test_tampered_evidence_is_not_verified_on_the_next_open(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    with LiveServer(create_app(world.config)) as server:
        c = sign_in(server.url, "analytiker")
        url = f"/hits/{ref(world.hits['b_secret'])}"
        assert 'data-verified="yes"' in c.get(url).text
        snapshot = c.get(f"/api/hits/{ref(world.hits['b_secret'])}").json()["snapshots"][-1]
        text = world.config.archive / snapshot["files"]["text"]["path"]
        text.chmod(0o644)  # the archive keeps its files read-only
        text.write_text("Karin Jensen bor et andet sted")
        html = c.get(url).text
        assert 'data-verified="no"' in html and "text: SHA-256 is" in html
        # Nor is a bundle made from it: the export says what is wrong instead.
        refused = c.get(f"{url}/export")
        assert refused.status_code == 409 and "has changed" in refused.text
        c.close()


def test_archived_html_is_served_inert(world: World, client_as: Callable[[str], httpx.Client]) -> None:
    c = client_as("analytiker")
    hit = ref(world.hits["a_xss"])
    sid = re.search(r"/snapshots/(s-\d+)/archived.html", c.get(f"/hits/{hit}").text)
    assert sid
    r = c.get(f"/hits/{hit}/snapshots/{sid.group(1)}/archived.html")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp and "script" not in csp.replace("sandbox", "")
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_page_has_a_strict_csp_and_escapes_crawled_text(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    c = client_as("analytiker")
    for path in ("/login", "/hits", f"/hits/{ref(world.hits['a_xss'])}", "/overview", "/hits/h-999999"):
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "http" not in csp
        assert r.headers["x-frame-options"] == "DENY"
    for path in ("/hits", f"/hits/{ref(world.hits['a_xss'])}"):
        html = c.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(" in html
        # Nothing on the page comes from another host.
        assert not re.search(r'(src|href)="(https?:)?//', html)
    assert XSS_TITLE not in c.get("/hits").text


def test_decisions_checklist_and_notes_are_kept_with_who_and_when(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    c = client_as("analytiker")
    url = f"/hits/{ref(world.hits['b_other'])}"
    token = csrf_of(c.get(url).text)
    assert c.post(f"{url}/decision", data={"csrf": token, "status": "dismissed"}).status_code == 400  # no reason
    r = c.post(f"{url}/decision", data={"csrf": token, "status": "dismissed", "reason": "not_this_person",
                                        "silence": "site", "comment": "En anden Peter Lund"})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=dismiss#decision")
    html = c.get(url).text
    assert 'class="status st-dismissed">afvist<' in html
    assert "ikke denne person" in html and "En anden Peter Lund" in html and "hele sitet" in html
    # The silence is the alerts' own: no more alerts about Peter Lund anywhere on that site.
    engine = make_engine(world.config.database)
    with session_factory(engine)() as db:
        assert outbox.is_silenced(db, "pl", "http://forum.test/another/page", "forum")
        assert not outbox.is_silenced(db, "pl", "http://hadeside.test/x", "hadeside")
        assert not outbox.is_silenced(db, "kj", "http://forum.test/thread/11", "forum")
    engine.dispose()
    today = clock.utcnow().date()  # the app's today is a UTC day
    yesterday = (today - timedelta(days=1)).isoformat()
    r = c.post(f"{url}/steps", data={"csrf": token, "leader_informed_done": "1", "leader_informed_on": yesterday,
                                     "police_report_done": "1", "police_report_on": "not a date"})
    assert r.status_code == 303
    html = c.get(url).text
    assert re.search(r'id="leader_informed_done" name="leader_informed_done" value="1" checked', html)
    assert f'value="{yesterday}"' in html and "analytiker" in html
    assert 'id="police_report_done" name="police_report_done" value="1" checked' in html
    tomorrow = (today + timedelta(days=1)).isoformat()
    future = c.post(f"{url}/steps", data={"csrf": token, "closed_done": "1", "closed_on": tomorrow})
    assert future.status_code == 400
    # Unticking removes the step; the other stays.
    c.post(f"{url}/steps", data={"csrf": token, "leader_informed_done": "1", "leader_informed_on": yesterday})
    html = c.get(url).text
    assert 'name="police_report_done" value="1" checked' not in html
    assert 'name="leader_informed_done" value="1" checked' in html
    c.post(f"{url}/notes", data={"csrf": token, "text": "<b>Ringet</b> til medarbejderen"})
    html = c.get(url).text
    assert "&lt;b&gt;Ringet&lt;/b&gt; til medarbejderen" in html
    assert c.post(f"{url}/notes", data={"csrf": token, "text": "   "}).status_code == 400
    assert c.post(f"{url}/decision", data={"csrf": token, "status": "new"}).status_code == 303
    assert c.get(f"/api/hits/{ref(world.hits['b_other'])}").json()["status"] == "new"


def test_english_when_configured(world: World) -> None:
    with LiveServer(create_app(world.config.model_copy(update={"language": "en"}))) as server:
        c = sign_in(server.url, "admin")
        html = c.get(f"/hits/{ref(world.hits['a_threat'])}").text
        assert '<html lang="en">' in html and "Police deadline" in html and "Why it matched" in html
        assert "Politi" not in html
        assert '<html lang="en">' in c.get("/overview").text
        c.close()


def test_every_text_in_the_templates_has_a_danish_translation() -> None:
    from vaern import review
    from vaern.words import da as i18n

    root = Path(review.__file__).parent
    used: set[str] = set()
    for path in [*(root / "templates").glob("*.html"), *(p for p in root.glob("*.py") if p.name != "i18n.py")]:
        used |= set(re.findall(r"""\bt\(\s*"([^"]+)"\s*\)""", path.read_text()))
        used |= set(re.findall(r"""\bt\(\s*'([^']+)'\s*\)""", path.read_text()))
    missing = sorted(u for u in used if u not in i18n.DA)
    assert missing == []


def test_overview_chart_is_an_accessible_svg_with_one_bar_per_week() -> None:
    from vaern.review.overview import bar_chart

    svg = str(bar_chart([0, 3, 1], ["1.9.", "8.9.", "15.9."], 'Nye fund: <b>"x"</b>', "flest"))
    assert svg.startswith("<svg") and 'role="img"' in svg and "&lt;b&gt;" in svg and "<b>" not in svg
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]* height="([\d.]+)"', svg)]
    assert heights[0] == 0 and heights[1] == 60 and 0 < heights[2] < heights[1]
    assert "<title>8.9.: 3</title>" in svg and "flest: 3" in svg
