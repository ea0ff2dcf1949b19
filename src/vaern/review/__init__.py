"""The review web app: analysts and leaders review hits, decide, follow the case and export evidence.

    webapp.py     `create_app(config)` builds the app, `serve` runs it (`vaern serve`)
    framework.py  the app's small framework: one transaction per request, sessions, CSRF, roles,
                  templates, security headers
    pages, each module named for what it serves:
      signin.py     /login, /logout
      hitlist.py    /hits: the hit list, its filters, search and paging
      hitpage.py    /hits/{id}: a hit's detail, decision, case, evidence files, export
      overview.py   /overview: hits over time, last crawls, the outbox
      admin.py      /admin/...: audit log, accounts, people, sites
      api.py        /api/hits: JSON for scripts
    access.py     who may see which hits; auth.py: accounts, passwords, sessions, throttling
    case.py       decisions and the case checklist; audit.py: the audit log
    evidence.py   a hit's snapshots, files, hashes and diffs as the pages show them
    people.py     the watched people and sites as the pages show and search them

Server-rendered pages (Starlette + Jinja2, templates/), a little vendored JavaScript (static/),
nothing loaded from other hosts. Its words are vaern.words' (`page.*`).
"""
