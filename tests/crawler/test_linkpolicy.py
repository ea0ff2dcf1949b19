"""One URL per page and the traps of ordinary site software (crawler/linkpolicy.py)."""

from __future__ import annotations

import pytest

from vaern.config import Site
from vaern.crawler.linkpolicy import TrapGuard, UrlNormaliser, family, trap_reason


def site(**settings: object) -> Site:
    return Site(id="t", start_urls=["http://forum.example/"], **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "one"),
    [
        ("http://x.dk/2026/11/post/?replytocom=12#respond", "http://x.dk/2026/11/post/"),
        ("http://x.dk/topic/3/slug/?page=1", "http://x.dk/topic/3/slug/"),
        ("http://x.dk/topic/3/slug/?page=2", "http://x.dk/topic/3/slug/?page=2"),
        ("http://x.dk/a?utm_source=fb&utm_medium=x&id=4&fbclid=Zx", "http://x.dk/a?id=4"),
        ("http://x.dk/a?b=2&a=1", "http://x.dk/a?b=2&a=1"),  # untouched: as the site wrote it
        ("http://x.dk/?p=1", "http://x.dk/?p=1"),  # WordPress's post number 1, not a first page
        ("http://x.dk", "http://x.dk/"),
    ],
)
def test_the_urls_of_one_page_become_one(url: str, one: str) -> None:
    assert UrlNormaliser(site())(url) == one


def test_operators_add_parameters_and_rewrites_per_site() -> None:
    normalise = UrlNormaliser(
        site(normalise={"drop_params": ["sort", "view*"], "rewrite": [{"pattern": r"/amp/(?=\?|$)", "replace": "/"}]})
    )
    assert normalise("http://x.dk/t/5/amp/?sort=new&viewmode=flat&x=1") == "http://x.dk/t/5/?x=1"


def test_first_page_of_a_paged_thread() -> None:
    normalise = UrlNormaliser(site())
    assert normalise.first_page("http://x.dk/topic/3/s/?page=3") == "http://x.dk/topic/3/s/"
    assert normalise.first_page("http://x.dk/2026/11/post/comment-page-2/") == "http://x.dk/2026/11/post/"
    assert normalise.first_page("http://x.dk/page/4/") == "http://x.dk/"
    assert normalise.first_page("http://x.dk/topic/3/s/") is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://x.dk/wp-login.php?redirect_to=http%3A%2F%2Fx.dk%2F", "login"),
        ("http://x.dk/user/login/?next=/topic/1/", "login"),
        ("http://x.dk/log-ind", "login"),
        ("http://x.dk/logga-in/", "login"),
        ("http://x.dk/index.php?action=login", "login"),
        ("http://x.dk/log-ud/", "logout"),
        ("http://x.dk/wp-login.php?action=logout&_wpnonce=a1b2c3d4e5", "login"),
        ("http://x.dk/user/register/", "register"),
        ("http://x.dk/opret-bruger", "register"),
        ("http://x.dk/2026/11/post/?replytocom=5", "reply"),
        ("http://x.dk/comment/4/publish/101/", "reply"),
        ("http://x.dk/post/7/?print=1", "print"),
        ("http://x.dk/udskriv/7", "print"),
        ("http://x.dk/post/7/?share=facebook", "share"),
        ("http://x.dk/comments/feed/", "feed"),
        ("http://x.dk/2026/11/post/feed/", "feed"),
        ("http://x.dk/feed/atom/", "feed"),
        ("http://x.dk/profile/?next=/profile/%3Fnext%3D/a", "nested"),
        ("http://x.dk/a/b/a/b/a/b/", "repeating"),
        ("http://x.dk/" + "x" * 700, "too long"),
    ],
)
def test_trap_links(url: str, reason: str) -> None:
    assert trap_reason(url) == reason


@pytest.mark.parametrize(
    "url",
    [
        "http://x.dk/2026/11/kommunens-register-over-klager/",  # the word inside a slug
        "http://x.dk/tag/svar-fra-kommunen/",
        "http://x.dk/feed/",  # a social site's news feed is content
        "http://x.dk/topic/3/slug/?page=2",
        "http://x.dk/profile/?next=/topic/1/",  # one return address, not nested
    ],
)
def test_content_links_are_not_traps(url: str) -> None:
    assert trap_reason(url) is None


def test_without_the_builtin_patterns_only_the_shape_checks_remain() -> None:
    assert trap_reason("http://x.dk/user/login/?next=/a", builtin=False) is None
    assert trap_reason("http://x.dk/user/login/?next=/user/login/%3Fnext%3D/a", builtin=False) == "nested"


def test_a_url_family_has_a_budget_per_crawl(caplog: pytest.LogCaptureFixture) -> None:
    guard = TrapGuard(site(follow={"max_per_family": 3}))
    assert family("http://x.dk/_/calendar/12?m=1") == family("http://x.dk/_/calendar/13?m=4")
    refused = [guard.refuses(f"http://x.dk/_/calendar/{n}") for n in range(6)]
    assert refused == [None, None, None, "family budget", "family budget", "family budget"]
    assert guard.refuses("http://x.dk/topic/1/") is None  # another family has its own budget
    assert guard.suspected == ["x.dk/_/calendar/#?"]
    assert "trap suspected" in caplog.text
    assert guard.refused == {"family budget": 3}
