"""The review web app: analysts and leaders review hits, decide, follow the case and export evidence.

`create_app(config)` in `vaern.review.webapp` builds it; `vaern serve` runs it. Server-rendered pages
(Starlette + Jinja2), a little vendored JavaScript, nothing loaded from other hosts.
"""
