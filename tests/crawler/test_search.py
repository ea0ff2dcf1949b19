"""Search rotation: bounded searches per crawl, every name searched within a few crawls."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from vaern.config import Config, Person, Site
from vaern.crawler.search import plan_searches, search_terms, search_urls


@given(
    count=st.integers(min_value=1, max_value=300),
    budget=st.integers(min_value=1, max_value=120),
    cursor=st.integers(min_value=0, max_value=10_000),
)
def test_every_name_is_searched_within_ceil_n_over_budget_crawls(count: int, budget: int, cursor: int) -> None:
    names = [f"navn {i}" for i in range(count)]
    searched: set[str] = set()
    crawls = math.ceil(count / budget)
    for _ in range(crawls):
        queries, cursor = plan_searches(names, budget, cursor)
        assert len(queries) == min(budget, count)
        assert len(set(queries)) == len(queries)
        searched.update(queries)
    assert searched == set(names)


def test_rotation_continues_where_the_last_crawl_stopped() -> None:
    names = ["a", "b", "c", "d", "e"]
    assert plan_searches(names, 2, 0) == (["a", "b"], 2)
    assert plan_searches(names, 2, 2) == (["c", "d"], 4)
    assert plan_searches(names, 2, 4) == (["e", "a"], 1)


def test_a_budget_covering_everything_searches_all_and_resets_the_cursor() -> None:
    assert plan_searches(["a", "b"], 200, 1) == (["a", "b"], 0)


def test_no_budget_or_no_names_searches_nothing() -> None:
    assert plan_searches(["a", "b", "c"], 0, 2) == ([], 2)
    assert plan_searches([], 10, 7) == ([], 0)


def test_a_cursor_from_a_longer_list_wraps_into_the_current_one() -> None:
    assert plan_searches(["a", "b", "c"], 1, 7) == (["b"], 2)


def test_search_urls_encode_each_query_into_each_template() -> None:
    site = Site(
        id="forum",
        start_urls=["https://forum.example/"],
        search_urls=["https://forum.example/search?q={query}", "https://forum.example/s/{query}/"],
    )
    assert search_urls(site, ["René Rosenkilde", "R&D/ø"]) == [
        "https://forum.example/search?q=Ren%C3%A9%20Rosenkilde",
        "https://forum.example/s/Ren%C3%A9%20Rosenkilde/",
        "https://forum.example/search?q=R%26D%2F%C3%B8",
        "https://forum.example/s/R%26D%2F%C3%B8/",
    ]


def test_search_terms_are_names_and_aliases_once_each() -> None:
    config = Config(
        organisation="x",
        people=[
            Person(id="rr", name="René Rosenkilde", aliases=["R. Rosenkilde", "rené  rosenkilde"]),
            Person(id="ms", name="Mette Sørensen", aliases=["R. Rosenkilde"]),
        ],
    )
    assert search_terms(config) == ["René Rosenkilde", "R. Rosenkilde", "Mette Sørensen"]
