"""Local stand-ins for the world, for Værn's own tests, benchmarks and demo.

    siteserver.py    the one fixture web server: a site (a folder, pages set from code, routes)
                     plus named behaviours (redirects, delays, errors, charsets, traps)
    jssite.py        a site on it whose text only appears when JavaScript runs
    evidencesite.py  a site on it for evidence capture (tall, lazy, inner scrolling, redirects)
    tsa.py           a local RFC 3161 timestamp authority on it
    smtpsink.py      the one SMTP sink (aiosmtpd): collects, misbehaves on request, writes .eml files
    postgres.py      a throwaway PostgreSQL cluster
    s3.py            an S3 stand-in (moto server) on 127.0.0.1
    crawling.py      a crawl run in a child process, what it found handed back
    browsing.py      a real Chromium driven from synchronous code
    processes.py     the processes a test run owns, told apart from other programs'

Nothing here is used by the service itself.
"""
