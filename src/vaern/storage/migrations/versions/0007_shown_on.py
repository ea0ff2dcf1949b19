"""shown on: the listing pages that also showed a hit's post; dead links and crawl notes per run

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shown_on', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dead_links', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('crawl_runs', schema=None) as batch_op:
        batch_op.drop_column('notes')
        batch_op.drop_column('dead_links')
    with op.batch_alter_table('hits', schema=None) as batch_op:
        batch_op.drop_column('shown_on')
