"""assessment: a hit's severity, most severe passage, private data kinds, how it was found, post date

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('severity', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('passage', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('private_data', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('found', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('posted_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('posted_source', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_hits_severity'), ['severity'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hits_severity'))
        batch_op.drop_column('posted_source')
        batch_op.drop_column('posted_at')
        batch_op.drop_column('found')
        batch_op.drop_column('private_data')
        batch_op.drop_column('passage')
        batch_op.drop_column('severity')
