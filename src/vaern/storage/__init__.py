"""Persistence: the database and the evidence archive.

    db.py          engine and session factories; migrations (migrations/) applied on start
    tables.py      the tables; queries.py: the reads and writes the stages and commands share,
                   and the JSON of `vaern hits --json`
    archive.py     the evidence archive (content-addressed files, manifests, the hash chain) and
                   `record_snapshot`; timestamps.py: RFC 3161 timestamps over manifests
    blobstore.py   where the archive's bytes live: the `archive` folder or an S3-compatible bucket
    chainlock.py   the chain's lock across machines: an advisory lock in PostgreSQL
    export.py      the evidence bundle of a hit (`vaern export`), with its report
                   (templates/report.html.j2)
    thumbnails.py  small previews of archived screenshots for the e-mails and the review app

Storage imports no stage: not the crawler, the alerts or the review app.
Controlled by `database`, `archive` and `evidence.store` in the config.
"""
