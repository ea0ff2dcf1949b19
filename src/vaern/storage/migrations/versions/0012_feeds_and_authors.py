"""reach: feeds and their seen entries, a run's kind, a hit's author, analyst-confirmed author links

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), nullable=False, server_default='full'))
    with op.batch_alter_table('hits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('author', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('author_source', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_hits_author'), ['author'], unique=False)
    op.create_table(
        'feeds',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('site_id', sa.String(length=100), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('origin', sa.String(length=20), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=True),
        sa.Column('etag', sa.String(length=500), nullable=True),
        sa.Column('last_modified', sa.String(length=100), nullable=True),
        sa.Column('polled_at', sa.DateTime(), nullable=True),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('failures', sa.Integer(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('site_id', 'url'),
    )
    op.create_index(op.f('ix_feeds_site_id'), 'feeds', ['site_id'], unique=False)
    op.create_table(
        'feed_entries',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('site_id', sa.String(length=100), nullable=False),
        sa.Column('key_sha256', sa.String(length=64), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('site_id', 'key_sha256'),
    )
    op.create_index(op.f('ix_feed_entries_site_id'), 'feed_entries', ['site_id'], unique=False)
    op.create_table(
        'author_links',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('group_key', sa.String(length=40), nullable=False),
        sa.Column('site_id', sa.String(length=100), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=False),
        sa.Column('linked_by', sa.String(length=100), nullable=False),
        sa.Column('linked_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('site_id', 'author'),
    )
    op.create_index(op.f('ix_author_links_group_key'), 'author_links', ['group_key'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_author_links_group_key'), table_name='author_links')
    op.drop_table('author_links')
    op.drop_index(op.f('ix_feed_entries_site_id'), table_name='feed_entries')
    op.drop_table('feed_entries')
    op.drop_index(op.f('ix_feeds_site_id'), table_name='feeds')
    op.drop_table('feeds')
    with op.batch_alter_table('hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hits_author'))
        batch_op.drop_column('author_source')
        batch_op.drop_column('author')
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_column('kind')
