"""The date a page's markup states for its post."""

from __future__ import annotations

from datetime import datetime

from vaern.matchers.assess.dating import date_for, stated_dates

TZ = "Europe/Copenhagen"


def test_json_ld_meta_and_time_are_read_in_utc() -> None:
    body = (
        b'<script type="application/ld+json">'
        b'{"@graph":[{"@type":"BlogPosting","datePublished":"2026-11-20T10:00:00+01:00"}]}</script>'
        b'<meta property="article:published_time" content="2026-11-20T09:00:00Z">'
        b'<time datetime="2026-11-20T10:00">20. nov</time>'
    )
    dates = stated_dates(body, TZ)
    assert [(d.when, d.source) for d in dates] == [
        (datetime(2026, 11, 20, 9, 0), "json-ld"),
        (datetime(2026, 11, 20, 9, 0), "meta"),
        (datetime(2026, 11, 20, 9, 0), "time"),
    ]
    assert date_for(dates, "…", 0) == dates[0]


def test_several_posts_each_get_the_time_shown_above_them() -> None:
    body = (
        b'<time datetime="2026-11-19T10:02">19/11 10:02</time> a '
        b'<time datetime="2026-11-19T13:01">19/11 13:01</time>'
    )
    dates = stated_dates(body, TZ)
    text = "19/11 10:02 first post. 19/11 13:01 second post names René."
    found = date_for(dates, text, text.index("René"))
    assert found is not None and found.when == datetime(2026, 11, 19, 12, 1)


def test_no_markup_date_is_none() -> None:
    assert stated_dates(b"<p>i g\xc3\xa5r</p>", TZ) == []
    assert date_for([], "x", 0) is None
