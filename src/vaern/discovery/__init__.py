"""Discovery: pages that name watched people on sites nobody listed, found through search services.

    providers.py  the provider interface and its two providers: the Brave Search API and a
                  self-hosted SearXNG instance's JSON API; every failure a `ProviderError` in words
    searches.py   which names are due on which provider, within `discovery.budget_per_day`; each
                  query and its outcome recorded; results on sites not watched kept for the inbox
    inbox.py      the "Fundet andre steder" inbox: what waits, and an analyst's decisions (watch
                  the site, secure the page once, ignore its host: remembered)

Nothing found here is crawled or captured by itself: only an analyst's decision does that.
Controlled by `discovery.*` in the config; `vaern run` runs the searches every `discovery.check_every`.
"""
