"""crawl failures: why each URL of a run could not be fetched

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crawl_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('start_url', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('times', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'url')
    )
    with op.batch_alter_table('crawl_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_failures_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crawl_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_failures_run_id'))
    op.drop_table('crawl_failures')
