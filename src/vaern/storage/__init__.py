"""Persistence: the database (tables, migrations, queries) and the evidence archive."""
