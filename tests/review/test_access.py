"""Leaders see only their units' hits — by URL, in the list, counts, search, files, export, JSON —
and a hit they may not see looks exactly like one that does not exist. Admin pages are admins' only."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.review.conftest import ref
from tests.review.seeding import World


def _not_found(response: httpx.Response) -> str:
    assert response.status_code == 404, (response.status_code, response.text[:300])
    return response.text


def test_leader_gets_the_same_404_for_another_units_hit_as_for_no_hit(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    lene = client_as("lene")
    own = lene.get(f"/hits/{ref(world.hits['a_threat'])}")
    assert own.status_code == 200 and "René Rosenkilde" in own.text
    other = _not_found(lene.get(f"/hits/{ref(world.hits['b_secret'])}"))
    missing = _not_found(lene.get("/hits/h-999999"))
    assert other == missing
    assert "Karin" not in other and "Hemmelig" not in other
    # The bare number and odd spellings of the id are the same hit, and just as closed.
    _not_found(lene.get(f"/hits/{world.hits['b_secret']}"))
    _not_found(lene.get(f"/hits/h-{world.hits['b_secret']:09d}"))


def test_leader_list_counts_and_search_hold_only_their_units(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    lene = client_as("lene")
    page = lene.get("/hits")
    assert page.status_code == 200
    for name in ("a_threat", "a_xss", "a_possible"):
        assert ref(world.hits[name]) in page.text
    for name in ("b_secret", "b_other"):
        assert ref(world.hits[name]) not in page.text
    assert "Karin Jensen" not in page.text and "Peter Lund" not in page.text  # not even in the filters
    assert 'data-status="new">3<' in page.text
    for query in ("Karin", "Hemmelig", "jobcenter", "forum.test/thread/11"):
        found = lene.get("/hits", params={"q": query})
        assert ref(world.hits["b_secret"]) not in found.text and ref(world.hits["b_other"]) not in found.text
    # A filter on the other unit or its person gives nothing, not their hits.
    for params in ({"unit": "jobcenter"}, {"person": "kj"}):
        assert "data-hit=" not in lene.get("/hits", params=params).text
    # The other leader sees the mirror image.
    jens = client_as("jens").get("/hits", params={"q": "Karin"})
    assert ref(world.hits["b_secret"]) in jens.text


def test_leader_cannot_reach_another_units_files_export_json_or_actions(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    lene = client_as("lene")
    b = ref(world.hits["b_secret"])
    detail = client_as("jens").get(f"/hits/{b}")
    snapshot = detail.text.split("/snapshots/")[1].split("/")[0]
    for path in (
        f"/hits/{b}/thumbnail.jpg",
        f"/hits/{b}/snapshots/{snapshot}/screenshot.png",
        f"/hits/{b}/snapshots/{snapshot}/archived.html",
        f"/hits/{b}/export",
    ):
        _not_found(lene.get(path))
    # A snapshot of another page cannot be fetched through one's own hit either.
    a = ref(world.hits["a_threat"])
    _not_found(lene.get(f"/hits/{a}/snapshots/{snapshot}/screenshot.png"))
    api = lene.get("/api/hits")
    assert api.status_code == 200
    ids = {h["id"] for h in api.json()}
    assert ids == {ref(world.hits[n]) for n in ("a_threat", "a_xss", "a_possible")}
    assert lene.get(f"/api/hits/{b}").status_code == 404
    assert lene.get("/api/hits", params={"q": "Karin"}).json() == []
    page = lene.get(f"/hits/{a}")
    from tests.review.conftest import csrf_of

    token = csrf_of(page.text)
    for path, data in (
        (f"/hits/{b}/decision", {"status": "confirmed"}),
        (f"/hits/{b}/notes", {"text": "note"}),
        (f"/hits/{b}/steps", {"closed_done": "1"}),
    ):
        _not_found(lene.post(path, data={**data, "csrf": token}))
    assert client_as("jens").get("/api/hits/" + b).json()["status"] == "new"


def test_analyst_sees_all_but_admin_pages_are_admins_only(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    analyst = client_as("analytiker")
    listing = analyst.get("/hits").text
    assert all(ref(h) in listing for h in world.hits.values())
    for path in ("/admin/audit", "/admin/users", "/admin/people", "/admin/sites"):
        _not_found(analyst.get(path))
        _not_found(client_as("lene").get(path))
        assert client_as("admin").get(path).status_code == 200


def test_overview_of_a_leader_counts_only_their_units_and_hides_the_outbox(
    world: World, client_as: Callable[[str], httpx.Client]
) -> None:
    lene = client_as("lene").get("/overview").text
    assert "Børn og Familie" in lene and "Jobcenter" not in lene
    assert "data-outbox" not in lene and "jens@kommune.example" not in lene
    admin = client_as("admin").get("/overview").text
    assert "Jobcenter" in admin and 'data-outbox="failed">1<' in admin and "550 mailbox unavailable" in admin
