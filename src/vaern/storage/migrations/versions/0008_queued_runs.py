"""queued runs: the queue job a run belongs to and the worker that ran it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('crawl_runs') as batch:
        batch.add_column(sa.Column('job_id', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('worker', sa.String(length=200), nullable=True))
        batch.create_index('ix_crawl_runs_job_id', ['job_id'])


def downgrade() -> None:
    with op.batch_alter_table('crawl_runs') as batch:
        batch.drop_index('ix_crawl_runs_job_id')
        batch.drop_column('worker')
        batch.drop_column('job_id')
