"""`vaern demo`: the whole pipeline on a fictional municipality's hate blog and forum (site/),
served from this machine with a local SMTP sink; run.py writes the config, crawls and serves the
review app."""
