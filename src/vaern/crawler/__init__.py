"""The crawler: fetching a site's pages (Scrapy; Chromium where a site needs JavaScript) and
securing evidence, every connection through the SSRF guard.

    run.py          `crawl_site`: one crawl of one site in this process (the crawl child calls it)
    spider.py       the spider over HTTP, with its fetch policy (robots, politeness, bounds, ETags)
    browserspider.py  the spider for `render: browser` and `render: auto` sites
    settings.py     Scrapy settings derived from the config; search.py: name searches on a site
    extract.py      a page's text, title and links; htmltree.py: HTML at any nesting depth
    posts.py        posts and comments on a page and their permalinks; redirects.py: which to follow
    netguard.py     the SSRF guard; guardproxy.py: the browser's guarded way out
    the browser path: browser.py (Chromium: find, launch, clean up), render.py (read a page as a
                    person sees it), expand.py (scroll, "show more"), capture.py (evidence of a
                    page), fullpage.py (full-page screenshots), warc.py (what the browser received),
                    pdf.py (the evidence report printed)

What the crawler finds goes to a `PageSink` (the pipeline, which writes the rows); it never sends e-mail.
Controlled by `sites[]`, `network`, `browser` and `evidence` in the config.
"""
