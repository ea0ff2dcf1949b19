"""Text, title and links from HTML: names stay together, blocks stay apart."""

from __future__ import annotations

import pytest

from vaern.crawler.extract import decide_encoding, extract_html

BASE = "http://forum.example/tråde/side.html"


def lines(html: str) -> list[str]:
    return extract_html(html, BASE).text.split("\n")


def test_inline_markup_keeps_a_name_together() -> None:
    assert lines("<p>Hvorfor får <b>René</b> Rosenkilde lov?</p>") == ["Hvorfor får René Rosenkilde lov?"]
    assert lines("<p><a href='/p'>René</a> <span><i>Rosen</i>kilde</span></p>") == ["René Rosenkilde"]


def test_block_elements_end_lines_so_names_do_not_merge() -> None:
    assert lines("<div>René</div><div>Rosenkilde</div>") == ["René", "Rosenkilde"]
    assert lines("<ul><li>René</li><li>Rosenkilde</li></ul>") == ["René", "Rosenkilde"]
    assert lines("<table><tr><td>René</td><td>Rosenkilde</td></tr></table>") == ["René", "Rosenkilde"]
    assert lines("<p>René<br>Rosenkilde</p>") == ["René", "Rosenkilde"]
    assert lines("<h1>René</h1>Rosenkilde") == ["René", "Rosenkilde"]


def test_scripts_styles_templates_and_comments_are_dropped_but_text_after_them_kept() -> None:
    html = (
        "<head><style>p{}</style><script>var n='Skjult Navn'</script></head>"
        "<body><p>før<script>x()</script> efter<!-- Hans Hansen --> slut</p>"
        "<template><p>Skabelon Navn</p></template><noscript>Uden JavaScript</noscript></body>"
    )
    assert lines(html) == ["før efter slut", "Uden JavaScript"]


def test_alt_text_stands_where_the_image_is_and_title_attributes_follow_their_block() -> None:
    html = (
        "<p>Billede: <img src='a.png' alt='Lene Leder'> ved skrivebordet</p>"
        "<p><a href='/x' title='Profil for Arne Arbejdsmiljø'>se profil</a> her</p>"
        "<p>slut</p>"
    )
    assert lines(html) == [
        "Billede: Lene Leder ved skrivebordet",
        "se profil her",
        "Profil for Arne Arbejdsmiljø",
        "slut",
    ]


def test_whitespace_and_non_breaking_spaces_collapse() -> None:
    assert lines("<p>  René&nbsp;&nbsp;\n  Rosenkilde  </p>") == ["René Rosenkilde"]


def test_the_page_title_is_the_title_and_not_part_of_the_text() -> None:
    extracted = extract_html("<html><head><title> Om  René </title></head><body><p>tekst</p></body></html>", BASE)
    assert extracted.title == "Om René"
    # Glued in front of the body, a title ending in a name part ran into a body opening with the name.
    assert extracted.text == "tekst"


def test_only_the_page_title_leaves_the_text_and_the_text_around_it_stays() -> None:
    html = "<title>Sandheden om René</title><p>René Rosenkilde er en løgner</p><svg><title>Ikon</title></svg>"
    extracted = extract_html(html, BASE)
    assert extracted.title == "Sandheden om René"
    assert extracted.text.split("\n") == ["René Rosenkilde er en løgner", "Ikon"]


def test_links_are_absolute_unique_http_pages_without_fragments() -> None:
    html = """
      <a href="andet.html#svar">a</a> <a href="andet.html">dup</a> <a href="/forside">b</a>
      <a href="https://other.example/æ?q=1">c</a> <area href="kort.html">
      <a href="mailto:x@y.example">m</a> <a href="javascript:void(0)">j</a> <a href="#top">t</a>
      <a href="/rapport.pdf">pdf</a> <a href="/billede.JPG">jpg</a> <a href="ftp://x.example/f">ftp</a> <a>ingen</a>
    """
    assert extract_html(html, BASE).links == (
        "http://forum.example/tr%C3%A5de/andet.html",
        "http://forum.example/forside",
        "https://other.example/%C3%A6?q=1",
        "http://forum.example/tr%C3%A5de/kort.html",
    )


def test_the_target_of_a_meta_refresh_is_a_link() -> None:
    html = """<meta http-equiv="Refresh" content="5; URL='/forside'">
      <meta http-equiv=refresh content="0;url=mailto:x@y"> <a href="andet.html">a</a>"""
    assert extract_html(html, BASE).links == ("http://forum.example/forside", "http://forum.example/tr%C3%A5de/andet.html")


def test_base_href_changes_where_relative_links_point() -> None:
    html = '<head><base href="https://cdn.example/sti/"></head><body><a href="side">x</a></body>'
    assert extract_html(html, BASE).links == ("https://cdn.example/sti/side",)


def test_an_empty_document_gives_nothing() -> None:
    extracted = extract_html("", BASE)
    assert (extracted.text, extracted.title, extracted.links) == ("", "", ())


DANISH = "På Ærø spiser René æbler og øl"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        # A byte-order mark beats a header that claims otherwise.
        ("text/html; charset=iso-8859-1", b"\xef\xbb\xbf" + DANISH.encode(), "utf-8"),
        ("text/html", b"\xff\xfe" + DANISH.encode("utf-16-le"), "utf-16-le"),
        # The header beats <meta>; ISO-8859-1 is read as windows-1252, as browsers do.
        ("text/html; charset=ISO-8859-1", b'<meta charset="utf-8">' + DANISH.encode("cp1252"), "cp1252"),
        ("text/html", b'<meta charset="windows-1252"><p>' + DANISH.encode("cp1252"), "cp1252"),
        ("text/html", b'<meta http-equiv="Content-Type" content="text/html; charset=utf-8">' + DANISH.encode(),
         "utf-8"),
        # Undeclared: UTF-8 when it decodes, else windows-1252 (never a statistical guess).
        ("text/html", DANISH.encode(), "utf-8"),
        ("text/html", DANISH.encode("cp1252"), "cp1252"),
        (None, "Blåbærgrød".encode("cp1252"), "cp1252"),
        ("text/html; charset=no-such-charset", DANISH.encode("cp1252"), "cp1252"),
    ],
)
def test_decide_encoding(content_type: str | None, body: bytes, expected: str) -> None:
    encoding = decide_encoding(content_type, body)
    assert encoding == expected
    assert DANISH in body.decode(encoding).lstrip("\ufeff") or "Blåbærgrød" in body.decode(encoding)
