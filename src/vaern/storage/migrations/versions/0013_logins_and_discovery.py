"""reach: logged-in sites' needs_login, one-off captures, discovery searches, results and ignored hosts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('needs_login', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('needs_login_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('needs_login_told_at', sa.DateTime(), nullable=True))
    op.create_table(
        'one_off_captures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('requested_by', sa.String(length=100), nullable=False),
        sa.Column('via', sa.String(length=20), nullable=False),
        sa.Column('person_id', sa.String(length=100), nullable=True),
        sa.Column('page_id', sa.Integer(), nullable=True),
        sa.Column('snapshot_id', sa.Integer(), nullable=True),
        sa.Column('hit_id', sa.Integer(), nullable=True),
        sa.Column('complete', sa.Boolean(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_one_off_captures_at', 'one_off_captures', ['at'])
    op.create_index('ix_one_off_captures_page_id', 'one_off_captures', ['page_id'])
    op.create_table(
        'discovery_searches',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('provider', sa.String(length=50), nullable=False),
        sa.Column('person_id', sa.String(length=100), nullable=False),
        sa.Column('query', sa.String(length=500), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('results', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_discovery_searches_at', 'discovery_searches', ['at'])
    op.create_index('ix_discovery_searches_person_id', 'discovery_searches', ['person_id'])
    op.create_table(
        'discovered',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('host', sa.String(length=300), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('snippet', sa.Text(), nullable=False),
        sa.Column('provider', sa.String(length=50), nullable=False),
        sa.Column('person_id', sa.String(length=100), nullable=False),
        sa.Column('first_found', sa.DateTime(), nullable=False),
        sa.Column('last_found', sa.DateTime(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('url'),
    )
    op.create_index('ix_discovered_host', 'discovered', ['host'])
    op.create_index('ix_discovered_state', 'discovered', ['state'])
    op.create_table(
        'discovery_ignored_hosts',
        sa.Column('host', sa.String(length=300), nullable=False),
        sa.Column('by', sa.String(length=100), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('host'),
    )


def downgrade() -> None:
    op.drop_table('discovery_ignored_hosts')
    op.drop_index('ix_discovered_state', table_name='discovered')
    op.drop_index('ix_discovered_host', table_name='discovered')
    op.drop_table('discovered')
    op.drop_index('ix_discovery_searches_person_id', table_name='discovery_searches')
    op.drop_index('ix_discovery_searches_at', table_name='discovery_searches')
    op.drop_table('discovery_searches')
    op.drop_index('ix_one_off_captures_page_id', table_name='one_off_captures')
    op.drop_index('ix_one_off_captures_at', table_name='one_off_captures')
    op.drop_table('one_off_captures')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('needs_login_told_at')
        batch_op.drop_column('needs_login_since')
        batch_op.drop_column('needs_login')
